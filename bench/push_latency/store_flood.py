#!/usr/bin/env python3
"""Makes the real store (Dovecot, with the stack's push_notification Lua driver) produce events as
fast as it can, so the throughput is measured from real store transactions instead of synthetic hooks.

    store_flood.py STACK_JSON USERS (u1,u2,...) lmtp --per-user K [--connections C]
    store_flood.py STACK_JSON USERS setup-copy --per-user N
    store_flood.py STACK_JSON USERS copy --per-user N [--rounds R]

lmtp: K deliveries per user over LMTP straight to Dovecot, C connections in parallel (users spread
      over them), one message per transaction: the OX/Lua driver posts one hook per message.
setup-copy: per user, a folder `pushsrc` holding N messages (one APPEND, then COPY 1:* doubling).
      Run before the measurement: its own events go to `pushsrc`, not INBOX.
copy: every user at once (one IMAP connection each, pushsrc already SELECTed) runs `COPY 1:N INBOX`
      R times: a mail transaction of N new messages in INBOX each time (a client moving or copying N
      messages), which Dovecot's Lua driver reports as one hook call carrying N events.

Prints `SENT <transactions ok> <failed> <t_first> <t_last>` (monotonic seconds), `EVENTS <n>`
(messages the store committed) and `CPU <seconds>` (this process; Dovecot's own CPU is not in it).
"""
import argparse
import imaplib
import json
import resource
import ssl
import sys
import threading
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
import asyncio  # noqa: E402
from lmtp import Lmtp  # noqa: E402

MESSAGE = (b"From: bench@example.org\r\nTo: {to}\r\nSubject: store flood {n}\r\n"
           b"Message-ID: <flood-{n}-{t}@example.org>\r\n\r\nthroughput probe\r\n")
RUN = str(time.time_ns())


def imap_login(stack, user):
    host, port = stack["dovecot"]["imaps"].rsplit(":", 1)
    c = imaplib.IMAP4_SSL(host, int(port),
                          ssl_context=ssl.create_default_context(cafile=stack["ca_cert"]))
    c.login(user["name"], user["password"])
    return c


def check(typ, data, what):
    if typ != "OK":
        raise RuntimeError(f"{what}: {typ} {data!r}")
    return data


def setup_copy(stack, user, n):
    c = imap_login(stack, user)
    try:
        c.create("pushsrc")  # NO when it exists: fine
        count = int(check(*c.select("pushsrc"), "SELECT pushsrc")[0])
        if count == 0:
            msg = MESSAGE.replace(b"{to}", user["email"].encode()).replace(b"{n}", b"0").replace(
                b"{t}", str(time.time_ns()).encode())
            check(*c.append("pushsrc", None, None, msg), "APPEND")
            count = 1
        while count < n:
            check(*c.copy(f"1:{min(count, n - count)}", "pushsrc"), "COPY")
            count = int(check(*c.select("pushsrc"), "SELECT pushsrc")[0])
    finally:
        c.logout()


def copy_rounds(stack, user, n, rounds, start, results):
    c = imap_login(stack, user)
    try:
        check(*c.select("pushsrc", readonly=True), "EXAMINE pushsrc")
        start.wait()
        for _ in range(rounds):
            t = time.monotonic()
            typ, data = c.copy(f"1:{n}", "INBOX")
            results.append((typ == "OK", t, time.monotonic(), n if typ == "OK" else 0))
    finally:
        c.logout()


async def lmtp_worker(stack, users, per_user, results):
    host, port = stack["dovecot"]["lmtp"].rsplit(":", 1)
    c = await Lmtp.connect(host, int(port))
    for k in range(per_user):
        for u in users:
            t = time.monotonic()
            try:
                await c.deliver(u["email"], f"flood-{RUN}-{u['name']}-{k}")
                results.append((True, t, time.monotonic(), 1))
            except Exception as e:  # noqa: BLE001 - counted, reported
                results.append((False, t, time.monotonic(), 0))
                print(f"ERROR {type(e).__name__}: {e}", flush=True)
                c = await Lmtp.connect(host, int(port))


async def lmtp_all(stack, users, per_user, connections, results):
    groups = [users[i::connections] for i in range(connections)]
    await asyncio.gather(*(lmtp_worker(stack, g, per_user, results) for g in groups if g))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stack_json")
    ap.add_argument("users")
    ap.add_argument("mode", choices=("lmtp", "setup-copy", "copy"))
    ap.add_argument("--per-user", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--connections", type=int, default=16)
    a = ap.parse_args()
    stack = json.load(open(a.stack_json))
    wanted = set(a.users.split(","))
    users = [u for u in stack["users"] if u["name"] in wanted]
    results = []
    if a.mode == "setup-copy":
        threads = [threading.Thread(target=setup_copy, args=(stack, u, a.per_user)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("SETUP done", flush=True)
        return
    if a.mode == "copy":
        start = threading.Event()
        threads = [threading.Thread(target=copy_rounds, args=(stack, u, a.per_user, a.rounds, start, results))
                   for u in users]
        for t in threads:
            t.start()
        time.sleep(1)  # every connection logged in and EXAMINEd
        start.set()
        for t in threads:
            t.join()
    else:
        asyncio.run(lmtp_all(stack, users, a.per_user, a.connections, results))
    ok = [r for r in results if r[0]]
    t_first = min((r[1] for r in results), default=0.0)
    t_last = max((r[2] for r in results), default=0.0)
    print(f"SENT {len(ok)} {len(results) - len(ok)} {t_first:.6f} {t_last:.6f}", flush=True)
    print(f"EVENTS {sum(r[3] for r in ok)}", flush=True)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(f"CPU {ru.ru_utime + ru.ru_stime:.3f}", flush=True)


if __name__ == "__main__":
    main()
