#!/usr/bin/env python3
"""COUNT P-IMAP devices from one source address, each logged in through the edge as
`<user>#P<TAG>-<i>`, INBOX selected, parked in IDLE, timestamping every `* n EXISTS` it reads.
One process per source address (run.py starts several), driven over stdin/stdout:

    stdout  READY <ok> <failed> <seconds>    once every login attempt has finished
            FAIL <n> <reason>                per distinct failure, then END
    stdin   DUMP   -> one line `E <user> <n> <monotonic>` per EXISTS read since the last DUMP, then DUMPED <k>
            LAST   -> `L <user> <device> <n0> <n> <monotonic>` per device: its count at SELECT and its
                      latest EXISTS (n = n0, time 0 if none yet), then LASTED <k>
            QUIT   -> DONE + LOGOUT on every device (closes the sessions), then BYE; EOF does the same

    devices.py HOST PORT COUNT SRC_IP RATE TAG FIRST USERS_JSON [--users user01,user02]

Users cycle over USERS_JSON (a list of {"name", "password"}), or over --users only. RATE bounds the
logins per second this process starts: every edge login is checked by a store login at Dovecot.
"""
import argparse
import asyncio
import collections
import json
import resource
import sys
import time

from wire import Failed, IdleClient, tls_context

IN_FLIGHT = 64


async def main(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    users = json.load(open(a.users_json))
    if a.users:
        wanted = a.users.split(",")
        users = [u for u in users if u["name"] in wanted]
    ctx = tls_context()
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    clients, reasons = [], collections.Counter()
    records = []              # (user, n, t) since the last DUMP
    last = {}                 # (user, device) -> (n, t)
    base = {}                 # (user, device) -> count at SELECT
    t0 = time.monotonic()

    async def one(i):
        delay = t0 + i / a.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        u = users[(a.first + i) % len(users)]
        device = f"P{a.tag}-{a.first + i}"
        async with in_flight:
            try:
                c = await IdleClient.open(a.host, a.port, ctx, f"{u['name']}#{device}", u["password"],
                                          src=a.src)
            except Failed as e:
                reasons[str(e)] += 1
                return
            except Exception as e:  # noqa: BLE001 - counted and reported, never fatal
                reasons[type(e).__name__] += 1
                return

        def on_exists(n, t, user=u["name"], dev=device):
            records.append((user, n, t))
            last[(user, dev)] = (n, t)

        last[(u["name"], device)] = (c.exists, 0.0)
        base[(u["name"], device)] = c.exists
        c.task = asyncio.create_task(c.read_exists(on_exists))
        clients.append(c)

    await asyncio.gather(*(one(i) for i in range(a.count)))
    print(f"READY {len(clients)} {sum(reasons.values())} {time.monotonic() - t0:.1f}", flush=True)
    for reason, n in reasons.most_common(10):
        print(f"FAIL {n} {reason}", flush=True)
    print("END", flush=True)

    stdin = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while True:
        cmd = (await stdin.readline()).strip()
        if cmd == b"DUMP":
            out = [f"E {u} {n} {t:.6f}" for u, n, t in records]
            records.clear()
            print("\n".join(out + [f"DUMPED {len(out)}"]), flush=True)
        elif cmd == b"LAST":
            out = [f"L {u} {d} {base[(u, d)]} {n} {t:.6f}" for (u, d), (n, t) in last.items()]
            print("\n".join(out + [f"LASTED {len(out)}"]), flush=True)
        elif cmd in (b"QUIT", b""):
            for c in clients:
                c.task.cancel()
            sem = asyncio.Semaphore(IN_FLIGHT)

            async def bye(c):
                async with sem:
                    await c.logout()
            await asyncio.gather(*(bye(c) for c in clients))
            print("BYE", flush=True)
            return


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    for name, kind in (("host", str), ("port", int), ("count", int), ("src", str), ("rate", float),
                       ("tag", str), ("first", int), ("users_json", str)):
        ap.add_argument(name, type=kind)
    ap.add_argument("--users")
    asyncio.run(main(ap.parse_args()))
