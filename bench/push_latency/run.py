#!/usr/bin/env python3
"""Push latency (LMTP commit -> `* n EXISTS` at a device in IDLE, beside Dovecot's own IDLE) and
pipeline throughput (Dovecot push hooks -> store-watcher -> Kafka -> notifier -> Redis queues ->
session -> edge -> devices), on a stack of its own.

Brings up a stack (scripts/stack up) with the services of BUILD and starts its own pimap-session
(the stack's session.yaml plus --session.max_connections_per_user: 50 test users share thousands
of devices) and its own pimap-edge on it (TLS and store keys from stack.json, so an edge binary of
another revision works too; store.pool_idle_seconds=2); the stack's store-watcher and notifier
carry the events.

Throughput (--tp-events-per-user E, 0 skips it): one device per user in IDLE; hook_flood.py PUTs
50 x K x E OX `messageNew` hooks at the store-watcher's intake, one keep-alive connection per user
and mailbox (K = --tp-mailboxes: INBOX, pushbench1, ...). Every stage's counter is sampled 4 times
a second; Redis's per-device queue seqs count what the notifier appended; the devices report when
their INBOX count reached SELECT's + E; each process's CPU time is read before and after. Then the
devices log out.

Latency, for each N in --devices: N load devices in IDLE (devices.py, PROCS processes on
127.0.0.2.., logins cycling over user01..user50), then one measured device and one plain IMAP
client straight at Dovecot's imaps, both on --user, both in IDLE on INBOX; DELIVERIES messages
are delivered over LMTP one at a time; for each, the time of the final 250 is taken as the commit
and the arrival of the matching `* n EXISTS` at both clients (and at every load device of that
user) is measured from it, and also from the moment the message's last byte was sent (Dovecot
calls the store-watcher inside the LMTP transaction, so the 250 comes after the pipeline started).
Per-stage histograms come from the services' /metrics. One JSON object per phase on stdout.

    run.py --build-dir build/h-pushbench [--edge-binary PATH] [--stack-dir /tmp/pushbench-stack]
           [--devices 0,5000] [--deliveries 200] [--procs 4] [--rate 50] [--store-connect-timeout 5]
           [--tp-events-per-user 2000] [--tp-mailboxes 1] [--json out.json]
"""
import argparse
import asyncio
import imaplib
import json
import pathlib
import random
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from lmtp import Lmtp
from services import (Service, bucket_quantile, cpu_seconds, free_port, histogram_delta, http_get,
                      parse_metrics, percentile, stack_pid, total, tree_cpu_seconds)
from wire import Failed, IdleClient, tls_context

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXISTS_TIMEOUT = 15


# --- helpers -----------------------------------------------------------------------------------

class Devices:
    """PROCS devices.py processes holding `count` devices; talks their stdin/stdout protocol."""

    def __init__(self, a, edge_imaps, count, tag, users_json, users=None):
        self.procs = []
        base, extra = divmod(count, a.procs)
        first = 0
        for i in range(a.procs):
            n = base + (1 if i < extra else 0)
            if n == 0:
                continue
            cmd = [sys.executable, str(HERE / "devices.py"), "127.0.0.1", str(edge_imaps), str(n),
                   f"127.0.0.{2 + i}", str(a.rate / a.procs), tag, str(first), users_json]
            if users:
                cmd += ["--users", users]
            self.procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                               text=True, cwd=HERE))
            first += n

    def wait_ready(self, timeout):
        ok = failed = 0
        reasons = []
        deadline = time.time() + timeout
        for p in self.procs:
            while time.time() < deadline:
                line = p.stdout.readline()
                if not line or line.startswith("END"):
                    break
                parts = line.split()
                if parts[0] == "READY":
                    ok += int(parts[1])
                    failed += int(parts[2])
                elif parts[0] == "FAIL":
                    reasons.append(line[5:].strip())
        return ok, failed, reasons

    def ask(self, cmd, end):
        out = []
        for p in self.procs:
            p.stdin.write(cmd + "\n")
            p.stdin.flush()
        for p in self.procs:
            while True:
                line = p.stdout.readline()
                if not line or line.startswith(end):
                    break
                out.append(line.split())
        return out

    def quit(self, timeout=180):
        for p in self.procs:
            try:
                p.stdin.write("QUIT\n")
                p.stdin.flush()
            except OSError:
                pass
        deadline = time.time() + timeout
        for p in self.procs:
            try:
                p.wait(max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Sampler(threading.Thread):
    """Scrapes each service's /metrics 4 times a second: [(monotonic, {service: metrics})]."""

    def __init__(self, admins):
        super().__init__(daemon=True)
        self.admins, self.samples, self.stop = admins, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            t = time.monotonic()
            snap = {}
            for name, admin in self.admins.items():
                try:
                    snap[name] = parse_metrics(http_get(admin, "/metrics", 2)[1])
                except OSError:
                    snap[name] = {}
            self.samples.append((t, snap))
            self.stop.wait(0.25)


def stage_rate(samples, svc, name, **labels):
    """(count, per second) of a counter from the sample before its first increase to the first
    sample that shows its final value."""
    series = [(t, total(s.get(svc, {}), name, **labels)) for t, s in samples]
    base, final = series[0][1], series[-1][1]
    if final <= base:
        return 0, None
    first = next(i for i, (_, v) in enumerate(series) if v > base)
    last = next(i for i, (_, v) in enumerate(series) if v == final)
    t0, t1 = series[max(first - 1, 0)][0], series[last][0]
    return int(final - base), ((final - base) / (t1 - t0) if t1 > t0 else None)


def scrape(admins):
    return {name: parse_metrics(http_get(admin, "/metrics", 5)[1]) for name, admin in admins.items()}


def store_status(stack, users):
    """{user: (uidvalidity, uidnext)} of INBOX, read straight from Dovecot."""
    host, port = stack["dovecot"]["imaps"].rsplit(":", 1)
    out = {}
    for u in users:
        c = imaplib.IMAP4_SSL(host, int(port), ssl_context=ssl.create_default_context(
            cafile=stack["ca_cert"]))
        try:
            c.login(u["name"], u["password"])
            typ, data = c.status("INBOX", "(UIDVALIDITY UIDNEXT)")
            words = data[0].decode().replace("(", " ").replace(")", " ").split()
            out[u["name"]] = (int(words[words.index("UIDVALIDITY") + 1]),
                              int(words[words.index("UIDNEXT") + 1]))
        finally:
            c.logout()
    return out


def queue_seqs(stack, last_lines):
    """{(user, device): last assigned queue seq} straight from Redis (the session hash's `seq`)."""
    host, port = stack["redis"].rsplit(":", 1)
    out = {}
    for line in last_lines:
        user, device = line[1], line[2]
        got = subprocess.run(["redis-cli", "-h", host, "-p", port, "HGET",
                              f"pimap:d:{{{user}/{device}}}:s", "seq"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        out[(user, device)] = int(got) if got.isdigit() else 0
    return out


def ms(x):
    return round(x * 1000, 1)


def summary(values):
    if not values:
        return None
    return {"n": len(values), "p50_ms": ms(percentile(values, 50)), "p90_ms": ms(percentile(values, 90)),
            "p99_ms": ms(percentile(values, 99)), "max_ms": ms(max(values)),
            "min_ms": ms(min(values))}


def stage_histograms(before, after):
    out = {}
    for label, svc, name in (("store-watcher publish (hook -> Kafka ack)", "store-watcher",
                              "pimap_store_watcher_publish_latency_seconds"),
                             ("notifier (store commit -> Redis queue)", "notifier",
                              "pimap_notifier_delivery_latency_seconds"),
                             ("session push (queue -> SessionPush sent)", "session",
                              "pimap_session_push_latency_seconds")):
        n, mean, buckets = histogram_delta(before.get(svc, {}), after.get(svc, {}), name)
        out[label] = {"count": int(n), "mean_ms": ms(mean) if mean is not None else None,
                      "p50_le_ms": ms(q) if (q := bucket_quantile(buckets, 0.5)) is not None else None,
                      "p99_le_ms": ms(q) if (q := bucket_quantile(buckets, 0.99)) is not None else None}
    return out


# --- latency -----------------------------------------------------------------------------------

class Watch:
    """Latest `* n EXISTS` of one IdleClient, awaitable by count."""

    def __init__(self, client):
        self.n, self.times, self.changed = client.exists, {}, asyncio.Event()
        self.task = asyncio.create_task(client.read_exists(self.on_exists))

    def on_exists(self, n, t):
        self.times.setdefault(n, t)
        self.n = max(self.n, n)
        self.changed.set()

    async def reached(self, n, timeout):
        deadline = time.monotonic() + timeout
        while self.n < n:
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                return None
        return min(t for k, t in self.times.items() if k >= n)


async def measure_latency(a, stack, edge_imaps, user, tag, admins):
    lhost, lport = stack["dovecot"]["lmtp"].rsplit(":", 1)
    dhost, dport = stack["dovecot"]["imaps"].rsplit(":", 1)
    for attempt in range(5):  # a store login can time out while the load devices ramp up
        try:
            device = await IdleClient.open("127.0.0.1", edge_imaps, tls_context(),
                                           f"{user['name']}#P{tag}-m", user["password"])
            break
        except Failed:
            if attempt == 4:
                raise
            await asyncio.sleep(5)
    direct = await IdleClient.open(dhost, int(dport), tls_context(stack["ca_cert"]), user["name"],
                                   user["password"], server_hostname="localhost")
    dev, dov = Watch(device), Watch(direct)
    await asyncio.sleep(1.0)  # the edge works out the device's view as IDLE starts
    lmtp = await Lmtp.connect(lhost, int(lport))
    before = scrape(admins)
    rows, missed = [], 0
    try:
        for i in range(a.deliveries):
            sent, commit = await lmtp.deliver(user["email"], f"pushbench-{tag}-{i}")
            t_dev, t_dov = await asyncio.gather(dev.reached(device.exists + i + 1, EXISTS_TIMEOUT),
                                                dov.reached(direct.exists + i + 1, EXISTS_TIMEOUT))
            if t_dev is None or t_dov is None:
                missed += 1
            rows.append({"i": i, "sent": sent, "commit": commit, "count": device.exists + i + 1,
                         "edge": t_dev, "dovecot": t_dov})
            await asyncio.sleep(random.uniform(0, 0.05))
    finally:
        await lmtp.close()
        after = scrape(admins)
        for w, c in ((dev, device), (dov, direct)):
            w.task.cancel()
            await c.logout()
    return rows, missed, stage_histograms(before, after)


def latency_phase(a, stack, edge_imaps, users_json, users, n, run_tag, admins):
    user = next(u for u in users if u["name"] == a.user)
    load = Devices(a, edge_imaps, n, f"{run_tag}l{n}", users_json, a.load_users) if n else None
    result = {"phase": "latency", "load_devices_requested": n}
    try:
        if load:
            t0 = time.time()
            ok, failed, reasons = load.wait_ready(n / a.rate + 300)
            result.update(load_devices_idle=ok, load_devices_failed=failed, fail_reasons=reasons,
                          load_setup_s=round(time.time() - t0, 1))
            print(f"  {ok} load devices in IDLE, {failed} failed {reasons[:3]}", file=sys.stderr)
            time.sleep(3)
        rows, missed, stages = asyncio.run(measure_latency(a, stack, edge_imaps, user,
                                                           f"{run_tag}m{n}", admins))
        fanout = []
        if load:
            commit_of = {r["count"]: r["commit"] for r in rows}
            for rec in load.ask("DUMP", "DUMPED"):
                if rec[0] == "E" and rec[1] == a.user and int(rec[2]) in commit_of:
                    fanout.append(float(rec[3]) - commit_of[int(rec[2])])
    finally:
        if load:
            load.quit()
    edge = [r["edge"] - r["commit"] for r in rows if r["edge"] is not None]
    dov = [r["dovecot"] - r["commit"] for r in rows if r["dovecot"] is not None]
    result.update(deliveries=len(rows), missed=missed,
                  lmtp_transaction=summary([r["commit"] - r["sent"] for r in rows]),
                  edge_device=summary(edge), dovecot_idle=summary(dov),
                  edge_device_from_data_sent=summary(
                      [r["edge"] - r["sent"] for r in rows if r["edge"] is not None]),
                  dovecot_idle_from_data_sent=summary(
                      [r["dovecot"] - r["sent"] for r in rows if r["dovecot"] is not None]),
                  load_devices_same_user=summary(fanout), stages=stages)
    return result


# --- throughput --------------------------------------------------------------------------------

def throughput_phase(a, stack, edge_imaps, users_json, users, run_tag, admins):
    per_user = a.tp_events_per_user
    # New messages each device's INBOX gets: hooks name INBOX + pushbench mailboxes, the real store
    # gets LMTP deliveries or COPYs into INBOX.
    inbox_expected = per_user * (a.tp_rounds if a.tp_source == "copy" else 1)
    if a.tp_source == "copy":  # the folder the COPYs read, filled before anything is measured
        subprocess.run([sys.executable, str(HERE / "store_flood.py"), a.stack_json,
                        ",".join(u["name"] for u in users), "setup-copy", "--per-user", str(per_user)],
                       check=True, timeout=600, cwd=HERE)
        time.sleep(5)  # its events drain before the devices log in
    status = store_status(stack, users)
    devices = Devices(a, edge_imaps, len(users), f"{run_tag}tp", users_json)
    result = {"phase": "throughput", "events_per_user": per_user, "users": len(users)}
    try:
        ok, failed, reasons = devices.wait_ready(300)
        result.update(devices_idle=ok, devices_failed=failed, fail_reasons=reasons)
        time.sleep(3)
        seq_before = queue_seqs(stack, devices.ask("LAST", "LASTED"))
        pids = dict(a.own_pids)
        for comp in ("store-watcher", "notifier", "kafka", "redis", "dovecot"):
            pids[comp] = stack_pid(stack, comp)
        cpu_of = lambda k, p: tree_cpu_seconds(p) if k == "dovecot" else cpu_seconds(p)  # noqa: E731
        cpu0 = {k: cpu_of(k, p) for k, p in pids.items() if p}
        sampler = Sampler(admins)
        sampler.start()
        time.sleep(0.6)
        host, port = stack["store_watcher"]["intake"].rsplit(":", 1)
        names = [u["name"] for u in users]
        floods = []
        for i in range(a.flood_procs if a.tp_source != "copy" else 1):
            chunk = names[i::a.flood_procs] if a.tp_source != "copy" else names
            if a.tp_source == "hooks":
                spec = ",".join(f"{u}:{status[u][0]}" for u in chunk)
                cmd = ["hook_flood.py", host, port, str(per_user), str(a.tp_first_uid), spec,
                       "--mailboxes", str(a.tp_mailboxes), "--format", a.tp_format, "--txn", str(a.tp_txn)]
            elif a.tp_source == "lmtp":
                cmd = ["store_flood.py", a.stack_json, ",".join(chunk), "lmtp", "--per-user", str(per_user),
                       "--connections", str(max(1, a.tp_lmtp_connections // a.flood_procs))]
            else:
                cmd = ["store_flood.py", a.stack_json, ",".join(chunk), "copy", "--per-user", str(per_user),
                       "--rounds", str(a.tp_rounds)]
            floods.append(subprocess.Popen([sys.executable, str(HERE / cmd[0])] + cmd[1:],
                                           stdout=subprocess.PIPE, text=True, cwd=HERE))
        sent_ok = sent_failed = events_ok = 0
        flood_cpu = 0.0
        t_first, t_last, statuses = float("inf"), 0.0, {}
        for p in floods:
            out, _ = p.communicate(timeout=3600)
            for line in out.splitlines():
                w = line.split()
                if w[0] == "SENT":
                    sent_ok += int(w[1])
                    sent_failed += int(w[2])
                    t_first, t_last = min(t_first, float(w[3])), max(t_last, float(w[4]))
                elif w[0] == "STATUS":
                    statuses[w[1]] = statuses.get(w[1], 0) + int(w[2])
                elif w[0] == "CPU":
                    flood_cpu += float(w[1])
                elif w[0] == "EVENTS":
                    events_ok += int(w[1])
                elif w[0] == "ERROR":
                    print("  flood:", line, file=sys.stderr)
        # Devices: done once each one's count reached SELECT's + E (or nothing moved for 20 s).
        deadline, last_progress, prev = time.monotonic() + 600, time.monotonic(), None
        while True:
            last = devices.ask("LAST", "LASTED")
            reached = [l for l in last if int(l[4]) >= int(l[3]) + inbox_expected]
            progress = sum(int(l[4]) for l in last)
            if progress != prev:
                prev, last_progress = progress, time.monotonic()
            if len(reached) == len(last) or time.monotonic() > deadline or \
                    time.monotonic() - last_progress > 20:
                break
            time.sleep(1)
        time.sleep(1)
        sampler.stop.set()
        sampler.join()
        seq_after = queue_seqs(stack, last)
        cpu1 = {k: cpu_of(k, p) for k, p in pids.items() if p}
    finally:
        devices.quit()
    samples = sampler.samples
    done_times = [float(l[5]) for l in last if int(l[4]) >= int(l[3]) + inbox_expected]
    stages = {}
    for label, svc, name, labels in (
            ("store-watcher hooks answered", "store-watcher", "pimap_store_watcher_hooks_received_total",
             {"result": "ok"}),
            ("store-watcher events into Kafka", "store-watcher",
             "pimap_store_watcher_events_published_total", {}),
            ("notifier events consumed", "notifier", "pimap_notifier_events_consumed_total", {}),
            ("notifier appends to Redis queues", "notifier", "pimap_notifier_events_appended_total", {}),
            ("session events pushed to the edge", "session", "pimap_session_pushed_events_total", {})):
        n, rate = stage_rate(samples, svc, name, **labels)
        stages[label] = {"count": n, "per_s": round(rate) if rate else None}
    total_events = len(users) * inbox_expected * (a.tp_mailboxes if a.tp_source == "hooks" else 1)
    result.update(
        source=a.tp_source, mailboxes_per_user=a.tp_mailboxes if a.tp_source == "hooks" else 1,
        events_total=total_events, hook_format=a.tp_format if a.tp_source == "hooks" else "lua (Dovecot)",
        events_per_transaction=(a.tp_txn if a.tp_format == "lua" else 1) if a.tp_source == "hooks"
        else per_user if a.tp_source == "copy" else 1, events_injected_ok=events_ok,
        redis_queue_seq_advance=sum(seq_after[k] - seq_before.get(k, 0) for k in seq_after),
        hooks_sent_ok=sent_ok, hooks_failed=sent_failed, http_statuses=statuses,
        injection_s=round(t_last - t_first, 2),
        injection_per_s=round(events_ok / (t_last - t_first)) if t_last > t_first else None,
        devices_complete=len(done_times), devices_total=len(last),
        devices_incomplete=[l[1:5] for l in last if int(l[4]) < int(l[3]) + inbox_expected][:10],
        device_exists_total=sum(int(l[4]) - int(l[3]) for l in last),
        end_to_end_s=round(max(done_times) - t_first, 2) if done_times else None,
        end_to_end_per_s=round(total_events / (max(done_times) - t_first)) if len(done_times) == len(last)
        and done_times else None,
        stages=stages,
        # CPU seconds each process used while the events went through, per 1,000 events: what a
        # stage costs, whatever else shared the machine's 2 cores during the run.
        cpu_ms_per_1000_events={k: round((cpu1[k] - cpu0[k]) * 1e6 / total_events, 1) for k in cpu1}
        | {"injector (hook_flood.py / store_flood.py)": round(flood_cpu * 1e6 / total_events, 1)})
    return result


def edge_config(stack):
    """The edge's IMAP/IMAPS keys as scripts/stack renders them, without keys an edge binary of
    another revision may not know (the schema rejects unknown keys); listeners come as flags."""
    dv = stack["dovecot"]
    host, port = dv["imaps"].rsplit(":", 1)
    return {"tls": {"cert_file": stack["tls"]["cert"], "key_file": stack["tls"]["key"]},
            "store": {"host": host, "port": int(port), "ca_file": stack["ca_cert"],
                      "master_user": dv["master_user"], "master_password_file": dv["master_password_file"],
                      "server_name": "localhost"}}


# --- main --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", type=pathlib.Path, required=True)
    ap.add_argument("--stack-dir", type=pathlib.Path, default=pathlib.Path("/tmp/pushbench-stack"))
    ap.add_argument("--devices", default="0,5000", help="load devices per latency run")
    ap.add_argument("--deliveries", type=int, default=200)
    ap.add_argument("--user", default="user01")
    ap.add_argument("--procs", type=int, default=4, help="device client processes")
    ap.add_argument("--load-users", help="comma-separated users the load devices cycle over "
                                         "(default: all 50, so --user's mail fans out to N/50 of them)")
    ap.add_argument("--rate", type=float, default=50, help="device logins per second, all processes")
    ap.add_argument("--max-per-user", type=int, default=1000,
                    help="session.max_connections_per_user of the benchmark's session service")
    ap.add_argument("--tp-events-per-user", type=int, default=2000, help="0 skips the throughput run")
    ap.add_argument("--tp-first-uid", type=int, default=1_000_000)
    ap.add_argument("--tp-mailboxes", type=int, default=1,
                    help="mailboxes per user the hooks name (INBOX, pushbench1...): hooks in flight")
    ap.add_argument("--tp-format", choices=("ox", "lua"), default="ox",
                    help="hooks as Dovecot's OX driver (one call per new mail) or our Lua driver "
                         "(one call per mail transaction of --tp-txn messages)")
    ap.add_argument("--tp-txn", type=int, default=1, help="events per Lua transaction")
    ap.add_argument("--tp-source", choices=("hooks", "lmtp", "copy"), default="hooks",
                    help="hooks: synthetic hook calls (hook_flood.py); lmtp: real deliveries into "
                         "Dovecot, one message per transaction; copy: every user COPYs "
                         "--tp-events-per-user messages into INBOX at once, --tp-rounds times "
                         "(store_flood.py)")
    ap.add_argument("--tp-rounds", type=int, default=1)
    ap.add_argument("--tp-lmtp-connections", type=int, default=16)
    ap.add_argument("--flood-procs", type=int, default=2)
    ap.add_argument("--edge-binary", type=pathlib.Path,
                    help="pimap-edge to measure (default BUILD/services/edge/pimap-edge)")
    ap.add_argument("--store-connect-timeout", type=int, default=5,
                    help="the edge's store.connect_timeout_seconds (logins queue at Dovecot's "
                         "imap-login while the device ramp saturates the machine)")
    ap.add_argument("--keep-stack", action="store_true", help="reuse a running stack in --stack-dir")
    ap.add_argument("--json")
    a = ap.parse_args()
    a.build_dir = a.build_dir.resolve()
    d = a.stack_dir.resolve()
    if a.keep_stack and (d / "stack.json").exists():
        stack = json.loads((d / "stack.json").read_text())
    else:
        up = subprocess.run([str(REPO / "scripts/stack"), "up", "--dir", str(d), "--build-dir",
                             str(a.build_dir), "--replace"], capture_output=True, text=True, timeout=300)
        if up.returncode != 0:
            sys.exit(f"stack up failed:\n{up.stderr[-3000:]}")
        stack = json.loads(up.stdout)
    missing = {"store-watcher", "notifier"} - set(stack.get("pimap_services", []))
    if missing:
        sys.exit(f"the stack did not start {sorted(missing)}; build them in {a.build_dir}")
    run_tag = f"{int(time.time()) % 100000}"
    results, session, edge = [], None, None
    try:
        with tempfile.TemporaryDirectory(prefix="pushbench-") as tmp:
            users_json = f"{tmp}/users.json"
            json.dump(stack["users"], open(users_json, "w"))
            a.stack_json = str(d / "stack.json")
            grpc, sadmin = free_port(), free_port()
            session = Service(a.build_dir / "services/session/pimap-session", d / "session.yaml",
                              [f"--grpc.listen=127.0.0.1:{grpc}", f"--admin.listen=127.0.0.1:{sadmin}",
                               f"--session.max_connections_per_user={a.max_per_user}", "--log.level=warn"],
                              d / "pushbench-session.log", f"127.0.0.1:{sadmin}")
            imaps, imap, eadmin = free_port(), free_port(), free_port()
            edge_yaml = pathlib.Path(tmp) / "edge.yaml"
            edge_yaml.write_text(json.dumps(edge_config(stack)))  # JSON is YAML
            edge = Service(a.edge_binary or a.build_dir / "services/edge/pimap-edge", edge_yaml,
                           [f"--imaps.listen=127.0.0.1:{imaps}", f"--imap.listen=127.0.0.1:{imap}",
                            f"--admin.listen=127.0.0.1:{eadmin}", f"--session.grpc=127.0.0.1:{grpc}",
                            # Parked sessions give their store connection back after 2 s, as in
                            # production with many devices: otherwise thousands of SELECTed devices
                            # hold Dovecot imap + imap-login processes (process_limit 200 here).
                            "--store.pool_idle_seconds=2",
                            f"--store.connect_timeout_seconds={a.store_connect_timeout}",
                            "--log.level=warn"],
                           d / "pushbench-edge.log", f"127.0.0.1:{eadmin}")
            a.own_pids = {"session (own)": session.proc.pid, "edge (own)": edge.proc.pid}
            admins = {"store-watcher": stack["metrics"]["store-watcher"],
                      "notifier": stack["metrics"]["notifier"],
                      "session": session.admin, "edge": edge.admin}
            if a.tp_events_per_user:
                print(f"throughput: {len(stack['users'])} users x {a.tp_events_per_user} hooks",
                      file=sys.stderr)
                r = throughput_phase(a, stack, imaps, users_json, stack["users"], run_tag, admins)
                results.append(r)
                print(json.dumps(r), flush=True)
            for n in (int(c) for c in a.devices.split(",") if c != ""):
                print(f"latency: {a.deliveries} deliveries to {a.user}, {n} load devices",
                      file=sys.stderr)
                r = latency_phase(a, stack, imaps, users_json, stack["users"], n, run_tag, admins)
                results.append(r)
                print(json.dumps(r), flush=True)
    finally:
        for s in (edge, session):
            if s:
                s.stop()
        if not a.keep_stack:
            subprocess.run([str(REPO / "scripts/stack"), "down", "--dir", str(d)],
                           capture_output=True, timeout=120)
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
