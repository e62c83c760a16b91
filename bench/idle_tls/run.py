#!/usr/bin/env python3
"""Idle TLS connections held by one server process: memory per connection and CPU while idle.

For each N: start the server fresh, warm it up with a few connections, read its RSS/PSS, open N
TLS connections from PROCS client processes (each bound to its own 127.0.0.x source address),
wait until every handshake is done, read RSS/PSS again and the CPU time used over IDLE seconds,
then kill every process started here, by PID. Optionally the same against nginx (one worker).

    run.py --server build/release/bench/idle_tls/net_idle_server [--nginx] [--variants=--trim] \
           [--counts 1000,5000,19000] [--procs 4] [--idle 30] [--json out.json]
"""
import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
TICK = os.sysconf("SC_CLK_TCK")


def children(pid):
    out = []
    for d in pathlib.Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def memory_kib(pids):
    rss = pss = 0
    for pid in pids:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
        for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICK


def make_cert(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{d}/key.pem", "-out",
                    f"{d}/cert.pem", "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)


class Pimap:
    name = "pimap net_idle_server"

    def __init__(self, binary, d, port, extra=()):
        self.status = f"{d}/status"
        if extra:
            self.name = f"pimap net_idle_server {' '.join(extra)}"
        self.proc = subprocess.Popen([binary, "--cert", f"{d}/cert.pem", "--key", f"{d}/key.pem",
                                      "--port", str(port), "--status", self.status, *extra],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().startswith("READY")

    def pids(self):
        return [self.proc.pid]

    def established(self):
        try:
            fields = dict(kv.split("=") for kv in open(self.status).read().split())
            return int(fields["tls"]), fields
        except (OSError, ValueError, KeyError):
            return 0, {}

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Nginx:
    name = "nginx (1 worker)"

    def __init__(self, d, port):
        self.port = port
        for sub in ("logs", "tmp"):
            os.makedirs(f"{d}/nginx/{sub}", exist_ok=True)
        conf = f"""
daemon off;
worker_processes 1;
pid {d}/nginx/nginx.pid;
error_log {d}/nginx/logs/error.log warn;
events {{ worker_connections 19990; accept_mutex off; }}
http {{
  access_log off;
  client_body_temp_path {d}/nginx/tmp/body; proxy_temp_path {d}/nginx/tmp/proxy;
  fastcgi_temp_path {d}/nginx/tmp/fcgi; uwsgi_temp_path {d}/nginx/tmp/uwsgi;
  scgi_temp_path {d}/nginx/tmp/scgi;
  keepalive_timeout 3600s; client_header_timeout 3600s; send_timeout 3600s;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = / {{ return 200 "ok\\n"; }}
  }}
}}
"""
        open(f"{d}/nginx/nginx.conf", "w").write(conf)
        self.proc = subprocess.Popen(["nginx", "-p", f"{d}/nginx", "-c", f"{d}/nginx/nginx.conf"])
        deadline = time.time() + 10
        while time.time() < deadline and not children(self.proc.pid):
            time.sleep(0.1)
        time.sleep(0.5)

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def established(self):
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{self.port} )"],
                             capture_output=True, text=True).stdout
        return len(out.splitlines()), {}

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def clients(port, total, procs, hold, first_src=2):
    started = []
    base, extra = divmod(total, procs)
    for i in range(procs):
        n = base + (1 if i < extra else 0)
        p = subprocess.Popen([sys.executable, str(HERE / "idle_clients.py"), "127.0.0.1",
                              str(port), str(n), f"127.0.0.{first_src + i}", str(hold)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        started.append(p)
    return started


def wait_established(procs, timeout):
    ok = failed = 0
    deadline = time.time() + timeout
    for p in procs:
        line = ""
        while time.time() < deadline and not line:
            line = p.stdout.readline()
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ESTABLISHED":
            ok += int(parts[1])
            failed += int(parts[2])
    return ok, failed


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.wait()


def measure(server, port, n, procs, idle):
    warm = clients(port, 50, 1, 0.5, first_src=250)
    try:
        wait_established(warm, 60)
        for p in warm:
            p.wait(30)
    finally:
        kill_all(warm)
    time.sleep(1.5)
    before = memory_kib(server.pids())
    started = clients(port, n, procs, idle + 600)
    t0 = time.time()
    try:
        ok, failed = wait_established(started, 300)
        setup = time.time() - t0
        deadline = time.time() + 30
        while time.time() < deadline and server.established()[0] < ok:
            time.sleep(0.2)
        seen, detail = server.established()
        time.sleep(2)
        after = memory_kib(server.pids())
        cpu0 = cpu_seconds(server.pids())
        time.sleep(idle)
        cpu1 = cpu_seconds(server.pids())
        after_idle = memory_kib(server.pids())
    finally:
        kill_all(started)
    return {
        "server": server.name, "n": n, "established": ok, "failed": failed,
        "server_sees": seen, "server_status": detail, "setup_s": round(setup, 1),
        "rss_before_kib": before[0], "pss_before_kib": before[1],
        "rss_after_kib": after[0], "pss_after_kib": after[1],
        "rss_after_idle_kib": after_idle[0], "pss_after_idle_kib": after_idle[1],
        "rss_per_conn_kib": round((after[0] - before[0]) / max(ok, 1), 2),
        "pss_per_conn_kib": round((after[1] - before[1]) / max(ok, 1), 2),
        "cpu_idle_s": round(cpu1 - cpu0, 3), "idle_s": idle,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--nginx", action="store_true")
    ap.add_argument("--counts", default="1000,5000,19000")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--port", type=int, default=24443)
    ap.add_argument("--json")
    ap.add_argument("--variants", default="",
                    help="comma-separated extra server flag sets, e.g. '--trim' or '--no-lean'")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="idle-tls-") as d:
        make_cert(d)
        targets = [lambda: Pimap(args.server, d, args.port)]
        for v in filter(None, args.variants.split(",")):
            targets.append(lambda v=v: Pimap(args.server, d, args.port, tuple(v.split())))
        if args.nginx:
            targets.append(lambda: Nginx(d, args.port + 1))
        for make in targets:
            for n in (int(c) for c in args.counts.split(",")):
                server = make()
                port = args.port if isinstance(server, Pimap) else args.port + 1
                try:
                    r = measure(server, port, n, args.procs, args.idle)
                finally:
                    server.stop()
                results.append(r)
                print(json.dumps(r), flush=True)
    print()
    print("| server | N | established | RSS Δ KiB/conn | PSS Δ KiB/conn | RSS after (MiB) | CPU over idle |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['server']} | {r['n']:,} | {r['established']:,} (server: {r['server_sees']:,}) | "
              f"{r['rss_per_conn_kib']} | {r['pss_per_conn_kib']} | {r['rss_after_kib'] / 1024:.1f} | "
              f"{r['cpu_idle_s']} s / {r['idle_s']:.0f} s |")
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
