#!/usr/bin/env python3
"""Floods the store-watcher's intake with Dovecot push_notification calls.

--format ox (default): byte for byte what Dovecot 2.3's OX driver sends on an LMTP delivery: `PUT`
with a `messageNew` JSON body, one call per message (one delivery = one mail transaction).
--format lua --txn N: what our Lua driver (services/store-watcher/dovecot/pimap-push.lua) POSTs for a
mail transaction that adds N messages to one mailbox (an IMAP COPY/MOVE or MULTIAPPEND of N
messages): N `MessageAppend` events and the mailbox's status after the transaction, one call.

Each (user, mailbox) gets one keep-alive connection and its calls go one after another on it, as
Dovecot delivers into one mailbox in order: UIDs FIRST_UID, FIRST_UID+1, ... so every call is a
new, distinct event (the notifier de-duplicates by `<user>/<mailbox>/<uidvalidity>/<uid>/new`).
--mailboxes K adds K-1 mailboxes per user (`pushbench1`...) beside INBOX: more hooks in flight at
once while each mailbox's UIDs stay in order. A call unanswered for 30 s counts as failed.

    hook_flood.py HOST PORT EVENTS_PER_MAILBOX FIRST_UID USERS (user:uidvalidity,...) [--mailboxes K]
                  [--format ox|lua] [--txn N]

Prints `SENT <ok> <failed> <t_first> <t_last>` (calls; monotonic seconds), `EVENTS <n>` (events
the answered calls carried), `CPU <seconds>` (its own
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


def lua_request(host, user, mailbox, uidvalidity, uids):
    events = [{"type": "MessageAppend", "mailbox": mailbox, "uidvalidity": uidvalidity, "uid": uid,
               "from": "bench@example.org", "subject": f"throughput {uid}", "date": 1795000000}
              for uid in uids]
    status = {mailbox: {"messages": uids[-1], "uidnext": uids[-1] + 1, "uidvalidity": uidvalidity,
                        "unseen": uids[-1], "highestmodseq": uids[-1] + 1}}
    body = json.dumps({"v": 1, "user": user, "events": events, "status": status},
                      separators=(",", ":")).encode()
    head = (f"POST /dovecot/lua HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
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


async def one_mailbox(a, user, mailbox, uidvalidity, statuses):
    """Returns the number of events the answered calls carried."""
    host = f"{a.host}:{a.port}"
    r, w = await asyncio.open_connection(a.host, a.port)
    events = 0
    try:
        uids = list(range(a.first_uid, a.first_uid + a.events_per_mailbox))
        step = a.txn if a.format == "lua" else 1
        for i in range(0, len(uids), step):
            chunk = uids[i:i + step]
            if a.format == "lua":
                w.write(lua_request(host, user, mailbox, uidvalidity, chunk))
            else:
                w.write(request(host, user, mailbox, uidvalidity, chunk[0]))
            code = await asyncio.wait_for(read_response(r), REPLY_TIMEOUT)
            statuses[code] += 1
            if code == 200:
                events += len(chunk)
    finally:
        w.close()
    return events


async def main(a):
    pairs = [p.split(":") for p in a.users.split(",")]
    statuses = collections.Counter()
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(one_mailbox(a, u, "INBOX" if k == 0 else f"pushbench{k}", int(v), statuses)
          for u, v in pairs for k in range(a.mailboxes)),
        return_exceptions=True)
    t1 = time.monotonic()
    errors = [r for r in results if isinstance(r, BaseException)]
    ok = statuses.get(200, 0)
    print(f"SENT {ok} {sum(statuses.values()) - ok + len(errors)} {t0:.6f} {t1:.6f}", flush=True)
    print(f"EVENTS {sum(r for r in results if not isinstance(r, BaseException))}", flush=True)
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
    ap.add_argument("--format", choices=("ox", "lua"), default="ox")
    ap.add_argument("--txn", type=int, default=1, help="events per Lua transaction (--format lua)")
    asyncio.run(main(ap.parse_args()))
