#!/usr/bin/env python3
"""Memory per idle long-lived HTTPS request at the edge (profile §10 flow 1), beside nginx holding
the same number of pending long-polls.

Edge: on a running stack (scripts/stack up), starts its own pimap-session (more connections per
user: 50 test users share N devices) and its own pimap-edge (heartbeat long enough that no request
returns while measured, log level warn). PROCS idle_https.py processes on 127.0.0.2.. log in N
devices over HTTPS at 10 logins/s per process (one keep-alive TLS connection each, the session
then lives on in the edge between requests); once their store connections are given back, RSS/PSS
of the edge is read; then each connection POSTs `IDLE` with its cookie,
which hangs; RSS/PSS again. Reported: KiB per logged-in HTTPS session (connection + session) and
KiB per hanging request on top of it.

nginx (--nginx): one worker, TLS like bench/idle_tls, `location /pimap` proxying to an upstream
(a Python process here) that accepts and never answers; the same clients POST the same body;
reported: KiB per pending long-poll (worker + master PSS delta, upstream connection included).

    memory.py --stack-dir /tmp/pimap-h-reconn --build-dir build/h-reconn [--edge-binary ...]
              [--counts 1000,5000] [--procs 4] [--nginx] [--json out.json]
"""
import argparse
import importlib.util
import json
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "push_latency"))

from services import Service, free_port  # noqa: E402


def _idle_tls():
    """bench/idle_tls/run.py (its nginx setup and /proc readers); by path, as this directory has
    a run.py of its own."""
    spec = importlib.util.spec_from_file_location("idle_tls_run", HERE.parent / "idle_tls/run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_it = _idle_tls()
Nginx, make_cert, memory_kib = _it.Nginx, _it.make_cert, _it.memory_kib

UPSTREAM = """
import asyncio, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
held = []
async def hold(r, w):
    held.append(w)  # never answer: every request through nginx stays pending
async def main():
    s = await asyncio.start_server(hold, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    print("READY", flush=True)
    await s.serve_forever()
asyncio.run(main())
"""


class Clients:
    def __init__(self, mode, port, total, procs, tag, users_json):
        self.procs = []
        base, extra = divmod(total, procs)
        first = 0
        for i in range(procs):
            n = base + (1 if i < extra else 0)
            self.procs.append(subprocess.Popen(
                [sys.executable, str(HERE / "idle_https.py"), mode, "127.0.0.1", str(port), str(n),
                 f"127.0.0.{2 + i}", tag, str(first), users_json],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            first += n

    def wait(self, word):
        ok = bad = 0
        for p in self.procs:
            parts = p.stdout.readline().split()
            if len(parts) != 3 or parts[0] != word:
                raise RuntimeError(f"client said {parts!r}, expected {word}")
            ok, bad = ok + int(parts[1]), bad + int(parts[2])
        return ok, bad

    def say(self, line):
        for p in self.procs:
            p.stdin.write(line + "\n")
            p.stdin.flush()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.stdin.close()
                except OSError:
                    pass
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def edge_run(a, stack, d, n, users_json, tag):
    grpc, sadmin = free_port(), free_port()
    session = edge = None
    try:
        session = Service(a.build_dir / "services/session/pimap-session", d / "session.yaml",
                          [f"--grpc.listen=127.0.0.1:{grpc}", f"--admin.listen=127.0.0.1:{sadmin}",
                           f"--session.max_connections_per_user={n}", "--log.level=warn"],
                          d / "reconnbench-session.log", f"127.0.0.1:{sadmin}")
        https, imaps, imap, eadmin = free_port(), free_port(), free_port(), free_port()
        edge = Service(a.edge_binary or a.build_dir / "services/edge/pimap-edge", d / "edge.yaml",
                       [f"--https.listen=127.0.0.1:{https}", f"--imaps.listen=127.0.0.1:{imaps}",
                        f"--imap.listen=127.0.0.1:{imap}", f"--admin.listen=127.0.0.1:{eadmin}",
                        f"--session.grpc=127.0.0.1:{grpc}", "--https.heartbeat_seconds=3600",
                        "--https.request_timeout_seconds=60", "--https.keepalive_timeout_seconds=3600",
                        # Parked sessions give their store connection back, as in production:
                        # otherwise every device holds a Dovecot imap process (limit 200 here).
                        "--store.pool_idle_seconds=2", "--log.level=warn"],
                       d / "reconnbench-edge.log", f"127.0.0.1:{eadmin}")
        pid = [edge.proc.pid]
        warm = Clients("pimap", https, 20, 1, f"warm{tag}", users_json)
        warm.wait("LOGGED")
        warm.close()
        time.sleep(2)
        before = memory_kib(pid)
        c = Clients("pimap", https, n, a.procs, tag, users_json)
        try:
            logged, failed = c.wait("LOGGED")
            time.sleep(6)  # every store connection parked and given back (pool_idle_seconds=2)
            sessions = memory_kib(pid)
            c.say("PARK")
            parked, early = c.wait("PARKED")
            time.sleep(2)
            hanging = memory_kib(pid)
        finally:
            c.close()
        ok = max(logged, 1)
        return {"server": "pimap-edge", "n": n, "logged_in": logged, "login_failed": failed,
                "parked": parked, "answered_early": early,
                "rss_kib": [before[0], sessions[0], hanging[0]],
                "pss_kib": [before[1], sessions[1], hanging[1]],
                "pss_per_session_kib": round((sessions[1] - before[1]) / ok, 2),
                "pss_per_request_kib": round((hanging[1] - sessions[1]) / ok, 2),
                "rss_per_request_kib": round((hanging[0] - sessions[0]) / ok, 2)}
    finally:
        for s in (edge, session):
            if s:
                s.stop()


def nginx_run(a, tmp, n):
    up = free_port()
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up)], stdout=subprocess.PIPE,
                                text=True)
    assert upstream.stdout.readline().startswith("READY")
    port = free_port()
    server = Nginx(tmp, port)
    try:
        # bench/idle_tls's nginx, with a long-poll location in front of the silent upstream.
        conf = pathlib.Path(f"{tmp}/nginx/nginx.conf")
        conf.write_text(conf.read_text().replace(
            'location = / {', f'location /pimap {{ proxy_pass http://127.0.0.1:{up}; '
            'proxy_read_timeout 3600s; proxy_http_version 1.1; }\n    location = / {'))
        subprocess.run(["nginx", "-p", f"{tmp}/nginx", "-c", str(conf), "-s", "reload"], check=True)
        time.sleep(1.5)
        pids = server.pids()
        before = memory_kib(pids)
        c = Clients("plain", port, n, a.procs, "nginx", "-")
        try:
            c.wait("LOGGED")
            time.sleep(1)
            connected = memory_kib(server.pids())
            c.say("PARK")
            parked, early = c.wait("PARKED")
            time.sleep(2)
            after = memory_kib(server.pids())
        finally:
            c.close()
        return {"server": "nginx 1 worker (long-poll to a silent upstream)", "n": n,
                "parked": parked, "answered_early": early,
                "rss_kib": [before[0], connected[0], after[0]],
                "pss_kib": [before[1], connected[1], after[1]],
                "pss_per_session_kib": round((connected[1] - before[1]) / max(parked, 1), 2),
                "pss_per_request_kib": round((after[1] - connected[1]) / max(parked, 1), 2),
                "rss_per_request_kib": round((after[0] - connected[0]) / max(parked, 1), 2)}
    finally:
        server.stop()
        upstream.kill()
        upstream.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stack-dir", type=pathlib.Path, required=True)
    ap.add_argument("--build-dir", type=pathlib.Path, required=True)
    ap.add_argument("--edge-binary", type=pathlib.Path)
    ap.add_argument("--counts", default="1000,5000")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--nginx", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    a.build_dir = a.build_dir.resolve()
    d = a.stack_dir.resolve()
    stack = json.loads((d / "stack.json").read_text())
    results = []
    with tempfile.TemporaryDirectory(prefix="reconnbench-") as tmp:
        users_json = f"{tmp}/users.json"
        json.dump(stack["users"], open(users_json, "w"))
        make_cert(tmp)
        for n in (int(c) for c in a.counts.split(",")):
            r = edge_run(a, stack, d, n, users_json, f"mem{int(time.time()) % 100000}")
            results.append(r)
            print(json.dumps(r), flush=True)
            if a.nginx:
                r = nginx_run(a, tmp, n)
                results.append(r)
                print(json.dumps(r), flush=True)
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
