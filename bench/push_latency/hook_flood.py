#!/usr/bin/env python3
"""Floods the store-watcher's intake with Dovecot push_notification (OX driver) calls, byte for byte
what Dovecot 2.3's driver sends on an LMTP delivery: `PUT` with a `messageNew` JSON body.

Each (user, mailbox) gets one keep-alive connection and its calls go one after another on it, as
Dovecot delivers into one mailbox in order: UIDs FIRST_UID, FIRST_UID+1, ... so every call is a
new, distinct event (the notifier de-duplicates by `<user>/<mailbox>/<uidvalidity>/<uid>/new`).
--mailboxes K adds K-1 mailboxes per user (`pushbench1`...) beside INBOX: more hooks in flight at
once while each mailbox's UIDs stay in order. A call unanswered for 30 s counts as failed.

    hook_flood.py HOST PORT EVENTS_PER_MAILBOX FIRST_UID USERS (user:uidvalidity,...) [--mailboxes K]

Prints `SENT <ok> <failed> <t_first> <t_last>` (monotonic seconds), `CPU <seconds>` (its own
user+system time) and `STATUS <code> <n>` lines.
"""
import argparse
import asyncio
import collections
import json
import resource
import time


REPLY_TIMEOUT = 30


def request(host, user, mailbox, uidvalidity, uid):
    body = json.dumps({"user": user, "event": "messageNew", "folder": mailbox,
                       "imap-uidvalidity": uidvalidity, "imap-uid": uid,
                       "from": "bench@example.org", "subject": f"throughput {uid}",
                       "snippet": "push throughput probe", "unseen": uid},
                      separators=(",", ":")).encode()
    head = (f"PUT /dovecot/push HTTP/1.1\r\nHost: {host}\r\nConnection: Keep-Alive\r\n"
            f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def read_response(r):
    """Status code of one HTTP/1.1 response (Content-Length framed, as the intake answers)."""
    status = await r.readline()
    length = 0
    while True:
        line = await r.readline()
        if not line:
            raise ConnectionError("intake closed the connection")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await r.readexactly(length)
    return int(status.split()[1])


async def one_mailbox(host, port, user, mailbox, uidvalidity, first_uid, count, statuses):
    r, w = await asyncio.open_connection(host, port)
    try:
        for uid in range(first_uid, first_uid + count):
            w.write(request(f"{host}:{port}", user, mailbox, uidvalidity, uid))
            statuses[await asyncio.wait_for(read_response(r), REPLY_TIMEOUT)] += 1
    finally:
        w.close()


async def main(a):
    pairs = [p.split(":") for p in a.users.split(",")]
    statuses = collections.Counter()
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(one_mailbox(a.host, a.port, u, "INBOX" if k == 0 else f"pushbench{k}", int(v), a.first_uid,
                      a.events_per_mailbox, statuses)
          for u, v in pairs for k in range(a.mailboxes)),
        return_exceptions=True)
    t1 = time.monotonic()
    errors = [r for r in results if isinstance(r, BaseException)]
    ok = statuses.get(200, 0)
    print(f"SENT {ok} {sum(statuses.values()) - ok + len(errors)} {t0:.6f} {t1:.6f}", flush=True)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(f"CPU {ru.ru_utime + ru.ru_stime:.3f}", flush=True)
    for code, n in sorted(statuses.items()):
        print(f"STATUS {code} {n}", flush=True)
    for e in errors[:5]:
        print(f"ERROR {type(e).__name__}: {e}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("events_per_mailbox", type=int)
    ap.add_argument("first_uid", type=int)
    ap.add_argument("users")
    ap.add_argument("--mailboxes", type=int, default=1)
    asyncio.run(main(ap.parse_args()))
