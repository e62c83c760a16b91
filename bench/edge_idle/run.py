#!/usr/bin/env python3
"""Idle P-IMAP sessions held by one edge process: memory per session, CPU while idle, store
connections held, and Dovecot's own cost per idle IMAP session for comparison.

Brings up a stack (scripts/stack up) with the services of BUILD, starts its own pimap-session
(the stack's config, but more connections per user: 50 test users share thousands of devices)
and, for each N, its own pimap-edge (the stack's edge.yaml, own ports, store.pool_idle_seconds=2).
Warms the edge up with 50 sessions that then leave, reads its RSS/PSS, opens N TLS connections
from PROCS client processes (idle_sessions.py, each bound to its own 127.0.0.x source address,
logins at a bounded overall rate), each logged in as its own P-IMAP device, INBOX selected, in
IDLE. Then it waits for the backend pool to empty, reads RSS/PSS again, the edge's backend
connections (metrics and `ss`) and Dovecot's imap processes, and the edge's CPU time over IDLE
seconds. Every process started here is killed by PID and the stack is torn down.

    run.py --build-dir build/edgebench [--stack-dir /tmp/edgebench-stack] [--counts 1000,5000]
           [--procs 4] [--rate 150] [--idle 30] [--dovecot 150] [--json out.json]
           [--max-concurrent-logins 32] [--max-queued-logins 512]
"""
import argparse
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
TICK = os.sysconf("SC_CLK_TCK")
POOL_IDLE_S = 2


def proc_stat(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields


def descendants(root):
    """root and every process below it (Dovecot's master and its service processes)."""
    parent = {}
    for d in pathlib.Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int(proc_stat(d.name)[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return out


def comm(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def memory_kib(pids):
    rss = pss = 0
    for pid in pids:
        try:
            for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
            for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue  # exited between listing and reading
    return rss, pss


def cpu_seconds(pid):
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(hostport, path, timeout=5):
    with urllib.request.urlopen(f"http://{hostport}{path}", timeout=timeout) as r:
        return r.status, r.read().decode()


def metric(text, name, labels=None):
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            if labels and not all(f'{k}="{v}"' in line for k, v in labels.items()):
                continue
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


def established_to(port, pid=None):
    """ESTABLISHED TCP sockets to 127.0.0.1:port, optionally only those owned by pid."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True).stdout.splitlines()
    if pid is not None:
        out = [l for l in out if f"pid={pid}," in l]
    return len(out)


class Service:
    """A pimap service binary started here: config file + flag overrides, stderr to a log."""

    def __init__(self, binary, config, flags, log, admin):
        self.admin = admin
        self.log = open(log, "w")
        self.proc = subprocess.Popen([str(binary), "--config", str(config), *flags],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{binary} exited {self.proc.returncode}; see {log}")
            try:
                if http_get(admin, "/readyz", 1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{binary} not ready within 30 s; see {log}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def clients(host, port, total, procs, hold, rate, tag, users_json, first_src=2, plain=False,
            ca=None):
    started = []
    base, extra = divmod(total, procs)
    first = 0
    for i in range(procs):
        n = base + (1 if i < extra else 0)
        cmd = [sys.executable, str(HERE / "idle_sessions.py"), host, str(port), str(n),
               f"127.0.0.{first_src + i}", str(hold), str(rate / procs), tag, str(first),
               users_json]
        if plain:
            cmd.append("--plain-users")
        if ca:
            cmd += ["--ca", ca]
        started.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        text=True))
        first += n
    return started


def wait_idling(procs, timeout):
    ok = failed = retries = 0
    reasons = []
    deadline = time.time() + timeout
    for p in procs:
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line or line.startswith("END"):
                break
            parts = line.split(maxsplit=2)
            if parts[0] == "IDLING":
                ok += int(parts[1])
                rest = parts[2].split()
                failed += int(rest[0])
                retries += int(rest[2]) if len(rest) > 2 else 0
            elif parts[0] == "FAIL":
                reasons.append(f"{p.args[5]}: {parts[1]}x {parts[2].strip()}")
    return ok, failed, reasons, retries


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.wait()


def measure_edge(a, stack, d, users_json, session_grpc, n, run_no):
    imaps, imap, admin, https = free_port(), free_port(), free_port(), free_port()
    edge = Service(a.build_dir / "services/edge/pimap-edge", d / "edge.yaml",
                   [f"--imaps.listen=127.0.0.1:{imaps}", f"--imap.listen=127.0.0.1:{imap}",
                    f"--admin.listen=127.0.0.1:{admin}", f"--https.listen=127.0.0.1:{https}",
                    f"--store.pool_idle_seconds={POOL_IDLE_S}",
                    f"--session.grpc={session_grpc}", "--log.level=warn",
                    f"--store.max_concurrent_logins={a.max_concurrent_logins}",
                    f"--store.max_queued_logins={a.max_queued_logins}"],
                   d / f"edge-{n}.log", f"127.0.0.1:{admin}")
    pid = edge.proc.pid
    dovecot_imaps = int(stack["dovecot"]["imaps"].rsplit(":", 1)[1])
    dovecot_master = dovecot_pid(stack)
    started = []
    try:
        warm = clients("127.0.0.1", imaps, 50, 1, 0.5, a.rate, f"w{run_no}", users_json,
                       first_src=250)
        try:
            wait_idling(warm, 60)
            for p in warm:
                p.wait(30)
        finally:
            kill_all(warm)
        time.sleep(POOL_IDLE_S + 2)
        before = memory_kib([pid])
        imap_before = sum(1 for p in descendants(dovecot_master) if comm(p) == "imap")
        t0 = time.time()
        started = clients("127.0.0.1", imaps, n, a.procs, a.idle + 900, a.rate, f"r{run_no}",
                          users_json)
        # Logins may run well below --rate when the store is the bottleneck (the edge's login gate
        # then queues and refuses them, and the clients retry): wait for every client to report.
        ok, failed, reasons, retries = wait_idling(started, 4 * n / a.rate + 300)
        setup = time.time() - t0
        time.sleep(POOL_IDLE_S + 3)  # every parked backend connection has expired
        _, text = http_get(edge.admin, "/metrics")
        backend = metric(text, "pimap_edge_backend_connections")
        logins = {r: metric(text, "pimap_edge_logins_total", {"result": r}) for r in ("ok", "failed", "unavailable")}
        refused = {r: metric(text, "pimap_edge_login_checks_refused_total", {"reason": r})
                   for r in ("queue_full", "timed_out")}
        edge_conns = {st: metric(text, "pimap_edge_connections", {"binding": "imaps", "state": st})
                      for st in ("idle", "selected", "authenticated", "not_authenticated")}
        ss_edge = established_to(dovecot_imaps, pid)
        imap_after = sum(1 for p in descendants(dovecot_master) if comm(p) == "imap")
        after = memory_kib([pid])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        threads = len(os.listdir(f"/proc/{pid}/task"))
        cpu0 = cpu_seconds(pid)
        time.sleep(a.idle)
        cpu1 = cpu_seconds(pid)
        after_idle = memory_kib([pid])
        alive = edge.proc.poll() is None
    finally:
        kill_all(started)
        edge.stop()
    return {
        "server": "pimap-edge", "n": n, "idling": ok, "failed": failed, "fail_reasons": reasons,
        "busy_retries": retries, "edge_logins": logins, "edge_login_checks_refused": refused,
        "gate": {"max_concurrent_logins": a.max_concurrent_logins, "max_queued_logins": a.max_queued_logins},
        "setup_s": round(setup, 1), "edge_alive": alive,
        "rss_before_kib": before[0], "pss_before_kib": before[1],
        "rss_after_kib": after[0], "pss_after_kib": after[1],
        "rss_after_idle_kib": after_idle[0], "pss_after_idle_kib": after_idle[1],
        "rss_per_session_kib": round((after[0] - before[0]) / max(ok, 1), 2),
        # Cross-check against the edge's own count of sessions in IDLE.
        "rss_per_idle_session_by_metric_kib": round((after[0] - before[0]) / max(edge_conns["idle"] or 0, 1), 2),
        "pss_per_session_kib": round((after[1] - before[1]) / max(ok, 1), 2),
        "cpu_idle_s": round(cpu1 - cpu0, 3), "idle_s": a.idle,
        "backend_connections_metric": backend, "edge_connections_metric": edge_conns,
        "edge_to_dovecot_established": ss_edge, "edge_fds": fds, "edge_threads": threads,
        "dovecot_imap_procs_before": imap_before, "dovecot_imap_procs_after": imap_after,
    }


def dovecot_pid(stack):
    pids = json.loads((pathlib.Path(stack["dir"]) / "pids.json").read_text())
    for name, rec in (pids.items() if isinstance(pids, dict) else []):
        if "dovecot" in name and isinstance(rec, dict) and "pid" in rec:
            return int(rec["pid"])
    # Fall back to the process whose command line carries this stack's dovecot.conf.
    conf = stack["dovecot"]["config"]
    for d in pathlib.Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"dovecot") and conf.encode() in cmd:
                return int(d.name)
    raise RuntimeError("dovecot master not found")


def measure_dovecot(a, stack, users_json, n):
    host, port = stack["dovecot"]["imaps"].rsplit(":", 1)
    master = dovecot_pid(stack)
    time.sleep(2)
    before_pids = set(descendants(master))
    before = memory_kib(descendants(master))
    started = clients(host, int(port), n, 1, a.idle + 900, min(a.rate, 50), "d", users_json,
                      first_src=240, plain=True, ca=stack["ca_cert"])
    try:
        ok, failed, reasons, _ = wait_idling(started, n / min(a.rate, 50) + 120)
        time.sleep(3)
        now = descendants(master)
        after = memory_kib(now)
        new = [p for p in now if p not in before_pids]
        kinds = {}
        for p in new:
            kinds[comm(p)] = kinds.get(comm(p), 0) + 1
        new_mem = memory_kib(new)
    finally:
        kill_all(started)
    return {
        "server": "dovecot 2.3 (imap + imap-login per session)", "n": n, "idling": ok,
        "failed": failed, "fail_reasons": reasons, "new_processes": kinds,
        "pss_new_processes_kib": new_mem[1],
        "pss_per_session_kib": round((after[1] - before[1]) / max(ok, 1), 2),
        "pss_new_per_session_kib": round(new_mem[1] / max(ok, 1), 2),
        "rss_new_per_session_kib": round(new_mem[0] / max(ok, 1), 2),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", type=pathlib.Path, required=True)
    ap.add_argument("--stack-dir", type=pathlib.Path, default=pathlib.Path("/tmp/edgebench-stack"))
    ap.add_argument("--counts", default="1000,5000")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--rate", type=float, default=150, help="logins per second, all clients")
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--dovecot", type=int, default=150, help="direct Dovecot sessions (0: skip)")
    ap.add_argument("--max-concurrent-logins", type=int, default=32, help="edge store.max_concurrent_logins")
    ap.add_argument("--max-queued-logins", type=int, default=512, help="edge store.max_queued_logins")
    ap.add_argument("--json")
    a = ap.parse_args()
    a.build_dir = a.build_dir.resolve()
    d = a.stack_dir.resolve()
    up = subprocess.run([str(REPO / "scripts/stack"), "up", "--dir", str(d), "--build-dir",
                         str(a.build_dir), "--replace"], capture_output=True, text=True, timeout=300)
    if up.returncode != 0:
        sys.exit(f"stack up failed:\n{up.stderr[-3000:]}")
    stack = json.loads(up.stdout)
    results = []
    session = None
    try:
        with tempfile.TemporaryDirectory(prefix="edge-idle-") as tmp:
            users_json = f"{tmp}/users.json"
            json.dump(stack["users"], open(users_json, "w"))
            grpc, sadmin = free_port(), free_port()
            session = Service(a.build_dir / "services/session/pimap-session", d / "session.yaml",
                              [f"--grpc.listen=127.0.0.1:{grpc}", f"--admin.listen=127.0.0.1:{sadmin}",
                               "--session.max_connections_per_user=1000", "--log.level=warn"],
                              d / "edgebench-session.log", f"127.0.0.1:{sadmin}")
            if a.dovecot:
                r = measure_dovecot(a, stack, users_json, a.dovecot)
                results.append(r)
                print(json.dumps(r), flush=True)
            for run_no, n in enumerate(int(c) for c in a.counts.split(",")):
                r = measure_edge(a, stack, d, users_json, f"127.0.0.1:{grpc}", n, run_no)
                results.append(r)
                print(json.dumps(r), flush=True)
    finally:
        if session:
            session.stop()
        subprocess.run([str(REPO / "scripts/stack"), "down", "--dir", str(d)],
                       capture_output=True, timeout=120)
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)
    print()
    print("| N | idling | failed | busy retries | RSS Δ KiB/session | PSS Δ KiB/session | RSS after (MiB) | "
          "CPU over idle | backend conns (metric / ss) | Dovecot imap procs before → after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if r["server"] != "pimap-edge":
            continue
        print(f"| {r['n']:,} | {r['idling']:,} | {r['failed']} | {r['busy_retries']} | {r['rss_per_session_kib']} | "
              f"{r['pss_per_session_kib']} | {r['rss_after_kib'] / 1024:.1f} | "
              f"{r['cpu_idle_s']} s / {r['idle_s']:.0f} s | {r['backend_connections_metric']} / "
              f"{r['edge_to_dovecot_established']} | {r['dovecot_imap_procs_before']} → "
              f"{r['dovecot_imap_procs_after']} |")


if __name__ == "__main__":
    main()
