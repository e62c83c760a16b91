#!/usr/bin/env python3
"""Reconnect cost: wire bytes and round trips of a P-IMAP resume with ~20 pending changes, against a
plain IMAP client's full state comparison and a QRESYNC client's resync of the same mailbox.

For each mailbox size (a different stack user each):
  1. fill INBOX over LMTP, mark 80 % \\Seen and every 20th \\Flagged (straight at Dovecot);
  2. a P-IMAP device over TCP (edge imaps, `user#Precon-tcp-<run>`) logs in, SELECTs INBOX, starts
     IDLE (the edge saves its view) and drops the connection without LOGOUT; a device over HTTPS
     (`#Precon-https-<run>`) POSTs LOGIN + SELECT and keeps the cookie; a plain client (Dovecot
     imaps) caches UID -> FLAGS; a QRESYNC client caches UIDVALIDITY + HIGHESTMODSEQ;
  3. the changes: F flag changes and X expunges by another client straight at Dovecot, then N new
     mails over LMTP (defaults 8 + 4 + 8 = 20); then wait until the notifier has consumed every
     event the store-watcher published (and both counters stood still for --settle seconds);
  4. each client reconnects through a counting relay (relay.py: TCP payload bytes both ways, TLS
     included, and round trips) and learns the changes:
       - TCP device: TLS, greeting, LOGIN -> `* SESSION SELECTED`, `* FOLDER`, replay, `* SESSIONID`, OK
       - HTTPS device: TLS, one POST with the cookie and `NOOP` -> queued events + completion
       - plain client: TLS, greeting, LOGIN, SELECT INBOX, UID FETCH 1:* (FLAGS), diff with its cache
       - QRESYNC client: TLS, greeting, LOGIN, ENABLE QRESYNC, SELECT INBOX (QRESYNC (v m))
     What each learned (new, expunged, flag changes) is printed beside the cost, so a figure with a
     missing event cannot pass unnoticed. Fetching the new messages' headers is left out of every
     column: each client needs it equally.

    run.py --build-dir build/h-reconn [--stack-dir /tmp/pimap-h-reconn] [--sizes 500,5000]
           [--keep-stack] [--json out.json]
"""
import argparse
import asyncio
import http.client
import json
import pathlib
import re
import subprocess
import sys
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent / "push_latency"))

from imapc import Failed, Imap, check_tls13, flags_by_uid, tls_context  # noqa: E402
from lmtp import Lmtp  # noqa: E402
from relay import Relay  # noqa: E402

EXISTS = re.compile(rb"^\* (\d+) EXISTS")
EXPUNGE = re.compile(rb"^\* (\d+) EXPUNGE")
VANISHED = re.compile(rb"^\* VANISHED (?:\(EARLIER\) )?(\S+)")
FETCH = re.compile(rb"^\* \d+ FETCH ")
HIGHESTMODSEQ = re.compile(rb"\[HIGHESTMODSEQ (\d+)\]")
UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
COOKIE = re.compile(r"PIMAPSESSION=([^;]+)")


def host_port(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def set_size(s):
    """Number of UIDs in an IMAP sequence set such as `3,7:9`."""
    n = 0
    for part in s.split(b","):
        lo, _, hi = part.partition(b":")
        n += abs(int(hi) - int(lo)) + 1 if hi else 1
    return n


def classify(untagged):
    """What a resume / QRESYNC answer told: counts of each kind of line."""
    out = {"exists": 0, "expunge": 0, "vanished_uids": 0, "fetch": 0, "other": 0}
    for ln in untagged:
        if EXISTS.match(ln):
            out["exists"] += 1
        elif EXPUNGE.match(ln):
            out["expunge"] += 1
        elif m := VANISHED.match(ln):
            out["vanished_uids"] += set_size(m.group(1))
        elif FETCH.match(ln):
            out["fetch"] += 1
        else:
            out["other"] += 1
    return out


# --- the mailbox ---------------------------------------------------------------------------------

async def fill(stack, user, count, tag):
    lh, lp = host_port(stack["dovecot"]["lmtp"])
    lanes = 4

    async def lane(k):
        c = await Lmtp.connect(lh, lp)
        for i in range(k, count, lanes):
            await c.deliver(user["email"], f"reconn-{tag}-{i}",
                            body="Hello,\r\n\r\nthis is a message of a realistic mailbox.\r\n" * 20)
        await c.close()
    await asyncio.gather(*(lane(k) for k in range(lanes)))


async def direct(stack):
    return await Imap.open(*host_port(stack["dovecot"]["imaps"]))


async def mark(stack, user):
    c = await direct(stack)
    await c.command(f'LOGIN "{user["name"]}" "{user["password"]}"')
    untagged, _ = await c.command("SELECT INBOX")
    n = max(int(m.group(1)) for ln in untagged if (m := EXISTS.match(ln)))
    await c.command(f"STORE 1:{n * 8 // 10} +FLAGS.SILENT (\\Seen)")
    flagged = ",".join(str(i) for i in range(20, n + 1, 20))
    if flagged:
        await c.command(f"STORE {flagged} +FLAGS.SILENT (\\Flagged)")
    await c.logout()
    return n


async def change(stack, user, flags, expunges, new, tag):
    """The pending changes: flag changes and expunges by another client, then new mail over LMTP."""
    c = await direct(stack)
    await c.command(f'LOGIN "{user["name"]}" "{user["password"]}"')
    await c.command("SELECT INBOX")
    untagged, _ = await c.command("UID FETCH 1:* (UID)")
    uids = sorted(int(re.search(rb"UID (\d+)", ln).group(1)) for ln in untagged if FETCH.match(ln))
    # Spread over the mailbox, as a user reading on another device touches old and new mail.
    step = max(1, len(uids) // (flags + expunges + 1))
    picked = uids[step::step][:flags + expunges]
    for u in picked[:flags]:
        await c.command(f"UID STORE {u} +FLAGS.SILENT (\\Answered)")
    gone = picked[flags:]
    if gone:
        s = ",".join(map(str, gone))
        await c.command(f"UID STORE {s} +FLAGS.SILENT (\\Deleted)")
        await c.command(f"UID EXPUNGE {s}")
    await c.logout()
    lh, lp = host_port(stack["dovecot"]["lmtp"])
    lm = await Lmtp.connect(lh, lp)
    for i in range(new):
        await lm.deliver(user["email"], f"reconn-{tag}-new-{i}")
    await lm.close()


def pipeline_counts(stack):
    def get(admin, name):
        with urllib.request.urlopen(f"http://{admin}/metrics", timeout=5) as r:
            text = r.read().decode()
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
                   if ln.startswith(name + " ") or ln.startswith(name + "{"))
    return (get(stack["metrics"]["store-watcher"], "pimap_store_watcher_events_published_total"),
            get(stack["metrics"]["notifier"], "pimap_notifier_events_consumed_total"))


async def drain(stack, quiet, offset):
    """Waits until the notifier has consumed every event the store-watcher published since the run
    began (`offset`: consumed - published then, as either service may have restarted before) and
    neither count moved for `quiet` seconds (the store-watcher's reconciler publishes late too)."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        now = pipeline_counts(stack)
        if now != last:
            last, since = now, time.monotonic()
        elif now[1] - now[0] == offset and time.monotonic() - since >= quiet:
            return
        await asyncio.sleep(0.5)
    raise Failed(f"event pipeline did not settle: published/consumed {last}")


# --- the clients ---------------------------------------------------------------------------------

def https_post(host, port, body, cookie=None):
    """One POST on a new TLS connection; returns (status, set-cookie id, body bytes)."""
    conn = http.client.HTTPSConnection(host, port, context=tls_context(), timeout=60)
    headers = {"Content-Type": "application/vnd.pimap"}
    if cookie:
        headers["Cookie"] = f"PIMAPSESSION={cookie}"
    conn.connect()
    check_tls13(conn.sock)
    conn.request("POST", "/pimap", body=body.encode(), headers=headers)
    r = conn.getresponse()
    data = r.read()
    m = COOKIE.search(r.getheader("Set-Cookie") or "")
    conn.close()
    return r.status, (m.group(1) if m else None), data


async def prepare(stack, user, run, size):
    """Step 2: every client learns the mailbox; returns what each keeps for its reconnect."""
    login = f'"{user["name"]}#Precon-tcp-{run}-{size}" "{user["password"]}"'
    dev = await Imap.open(*host_port(stack["edge"]["imaps"]))
    _, ok = await dev.command(f"LOGIN {login}")
    await dev.command("SELECT INBOX")
    await dev.idle_then_drop()

    hh, hp = host_port(stack["edge"]["https"])
    body = (f'a LOGIN "{user["name"]}#Precon-https-{run}-{size}" "{user["password"]}"\r\n'
            "b SELECT INBOX\r\n")
    status, cookie, data = await asyncio.to_thread(https_post, hh, hp, body)
    if status != 200 or not cookie:
        raise Failed(f"HTTPS login: {status} cookie={cookie} {data[-200:]!r}")

    plain = await direct(stack)
    await plain.command(f'LOGIN "{user["name"]}" "{user["password"]}"')
    await plain.command("SELECT INBOX")
    untagged, _ = await plain.command("UID FETCH 1:* (FLAGS)")
    cache = flags_by_uid(untagged)
    await plain.logout()

    q = await direct(stack)
    await q.command(f'LOGIN "{user["name"]}" "{user["password"]}"')
    await q.command("ENABLE QRESYNC")
    untagged, _ = await q.command("SELECT INBOX")
    joined = b"".join(untagged)
    validity = int(UIDVALIDITY.search(joined).group(1))
    modseq = int(HIGHESTMODSEQ.search(joined).group(1))
    await q.logout()
    return {"cookie": cookie, "cache": cache, "uidvalidity": validity, "modseq": modseq}


async def through(target, fn):
    """Runs fn(host, port) against a fresh counting relay to `target`; returns (result, counts)."""
    relay = await Relay(target).start()
    try:
        result = await fn("127.0.0.1", relay.port)
        await asyncio.sleep(0.3)  # the connection's last bytes (close_notify) reach the relay
    finally:
        await relay.close()
    if len(relay.connections) != 1:
        raise Failed(f"expected one connection through the relay, saw {len(relay.connections)}")
    return result, relay.connections[0].summary()


async def measure(a, stack, user, run, size, kept):
    out = {}

    async def tcp_device(h, p):
        c = await Imap.open(h, p)
        untagged, _ = await c.command(
            f'LOGIN "{user["name"]}#Precon-tcp-{run}-{size}" "{user["password"]}"')
        c.abort()  # the device now knows the state; what it does next is the same for all columns
        waits = c.waits
        if a.show:
            sys.stderr.write("TCP resume:\n" + b"".join(untagged[:a.show]).decode(errors="replace"))
        return {"round_trips": waits, "session": [ln.decode().strip() for ln in untagged
                            if ln.startswith((b"* SESSION", b"* FOLDER", b"* RESYNC"))],
                **classify(ln for ln in untagged if not ln.startswith((b"* SESSION", b"* FOLDER")))}
    out["pimap_tcp"] = await through(stack["edge"]["imaps"], tcp_device)

    async def https_device(h, p):
        status, _, data = await asyncio.to_thread(https_post, h, p, "c NOOP\r\n", kept["cookie"])
        lines = [ln + b"\r\n" for ln in data.split(b"\r\n") if ln]
        if a.show:
            sys.stderr.write("HTTPS resume:\n" + b"".join(lines[:a.show]).decode(errors="replace"))
        # TCP, TLS 1.3 (the request follows the client's Finished in the same flight), the POST.
        return {"round_trips": 3, "status": status, **classify(ln for ln in lines if ln.startswith(b"* "))}
    if stack["edge"].get("https"):
        out["pimap_https"] = await through(stack["edge"]["https"], https_device)

    async def plain(h, p):
        c = await Imap.open(h, p)
        await c.command(f'LOGIN "{user["name"]}" "{user["password"]}"')
        await c.command("SELECT INBOX")
        untagged, _ = await c.command("UID FETCH 1:* (FLAGS)")
        c.abort()
        now = flags_by_uid(untagged)
        old = kept["cache"]
        return {"round_trips": c.waits, "new": len(now.keys() - old.keys()), "expunged": len(old.keys() - now.keys()),
                "flag_changes": sum(1 for u in now.keys() & old.keys() if now[u] != old[u])}
    out["plain_full_compare"] = await through(stack["dovecot"]["imaps"], plain)

    async def qresync(h, p):
        c = await Imap.open(h, p)
        await c.command(f'LOGIN "{user["name"]}" "{user["password"]}"')
        await c.command("ENABLE QRESYNC")
        untagged, _ = await c.command(
            f"SELECT INBOX (QRESYNC ({kept['uidvalidity']} {kept['modseq']}))")
        c.abort()
        return {"round_trips": c.waits, **classify(untagged)}
    out["qresync"] = await through(stack["dovecot"]["imaps"], qresync)
    return out


async def scenario(a, stack, user, size, run):
    print(f"{user['name']}: filling INBOX with {size} messages", file=sys.stderr, flush=True)
    await fill(stack, user, size, f"{run}-{size}")
    n = await mark(stack, user)
    await drain(stack, a.settle, a.offset)  # the fill's own events must not land in the devices' queues
    kept = await prepare(stack, user, run, size)
    await change(stack, user, a.flags, a.expunges, a.new, f"{run}-{size}")
    await drain(stack, a.settle, a.offset)
    res = await measure(a, stack, user, run, size, kept)
    return {"user": user["name"], "messages": n, "changes": {"flags": a.flags, "expunges": a.expunges,
                                                             "new": a.new},
            **{k: {"round_trips": v[0].pop("round_trips"), "learned": v[0], **v[1]}
               for k, v in res.items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", type=pathlib.Path, required=True)
    ap.add_argument("--stack-dir", type=pathlib.Path, default=pathlib.Path("/tmp/pimap-h-reconn"))
    ap.add_argument("--sizes", default="500,5000")
    ap.add_argument("--flags", type=int, default=8)
    ap.add_argument("--expunges", type=int, default=4)
    ap.add_argument("--new", type=int, default=8)
    ap.add_argument("--settle", type=float, default=4.0,
                    help="seconds the event pipeline's counters must stay still before a step")
    ap.add_argument("--first-user", type=int, default=0, help="index into the stack's users")
    ap.add_argument("--keep-stack", action="store_true", help="reuse (and leave) the stack in --stack-dir")
    ap.add_argument("--show", type=int, default=0, help="print the first SHOW lines of each resume")
    ap.add_argument("--json")
    a = ap.parse_args()
    d = a.stack_dir.resolve()
    if a.keep_stack and (d / "stack.json").exists():
        stack = json.loads((d / "stack.json").read_text())
    else:
        up = subprocess.run([str(REPO / "scripts/stack"), "up", "--dir", str(d), "--build-dir",
                             str(a.build_dir.resolve()), "--replace"],
                            capture_output=True, text=True, timeout=600)
        if up.returncode != 0:
            sys.exit(f"stack up failed:\n{up.stderr[-3000:]}")
        stack = json.loads(up.stdout)
    run = f"{int(time.time()) % 100000}"
    published, consumed = pipeline_counts(stack)
    a.offset = consumed - published
    results = []
    try:
        for i, size in enumerate(int(s) for s in a.sizes.split(",")):
            r = asyncio.run(scenario(a, stack, stack["users"][a.first_user + i], size, run))
            results.append(r)
            print(json.dumps(r), flush=True)
    finally:
        if not a.keep_stack:
            subprocess.run([str(REPO / "scripts/stack"), "down", "--dir", str(d)],
                           capture_output=True, timeout=300)
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
