#!/usr/bin/env python3
"""COUNT keep-alive HTTPS connections from one source address, each ending in a hanging request.
One process per source address (memory.py starts several), driven over stdin/stdout:

  pimap mode: each connection POSTs `a LOGIN "<user>#P<tag>-<i>" <password>` (in-response mode,
              keeps the PIMAPSESSION cookie), prints `LOGGED <ok> <failed>`; on a `PARK` line each
              POSTs `b IDLE` with its cookie on the same connection and does not read the answer:
              prints `PARKED <sent> <answered early>` after --grace seconds (an answer before the
              grace ends means the request did not hang, and is counted as such).
  plain mode: each connection POSTs the same `b IDLE` body without a cookie to a long-poll server
              (nginx in front of an upstream that never answers); prints `PARKED ...` the same way.
EOF on stdin closes everything.

    idle_https.py MODE HOST PORT COUNT SRC_IP TAG FIRST USERS_JSON [--grace 3] [--in-flight 8] [--rate 10]
"""
import argparse
import asyncio
import collections
import json
import re
import resource
import ssl
import sys

import asyncio.sslproto
asyncio.sslproto.SSLProtocol.max_size = 16 * 1024  # see bench/push_latency/wire.py

COOKIE = re.compile(rb"PIMAPSESSION=([^;\r\n]+)")


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def post(body, cookie=None):
    head = ("POST /pimap HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/vnd.pimap\r\n"
            f"Content-Length: {len(body)}\r\n")
    if cookie:
        head += f"Cookie: PIMAPSESSION={cookie.decode()}\r\n"
    return (head + "\r\n" + body).encode()


async def read_response(r):
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 60)
    m = re.search(rb"(?i)content-length: *(\d+)", head)
    body = await asyncio.wait_for(r.readexactly(int(m.group(1))), 60) if m else b""
    return head, body


async def main(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    users = json.load(open(a.users_json)) if a.users_json != "-" else []
    sem = asyncio.Semaphore(a.in_flight)
    conns, reasons = [], collections.Counter()
    tls = ctx()

    t0 = asyncio.get_running_loop().time()

    async def login(i):
        delay = t0 + i / a.rate - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
        async with sem:
            try:
                r, w = await asyncio.open_connection(a.host, a.port, ssl=tls,
                                                     local_addr=(a.src, 0))
                cookie = None
                if a.mode == "pimap":
                    u = users[(a.first + i) % len(users)]
                    w.write(post(f'a LOGIN "{u["name"]}#P{a.tag}-{a.first + i}" "{u["password"]}"\r\n'))
                    head, body = await read_response(r)
                    m = COOKIE.search(head)
                    if not head.startswith(b"HTTP/1.1 200") or not m:
                        reasons[head.split(b"\r\n", 1)[0].decode() + " " + body[-80:].decode()] += 1
                        w.close()
                        return
                    cookie = m.group(1)
                conns.append((r, w, cookie))
            except Exception as e:  # noqa: BLE001 - counted and reported
                reasons[type(e).__name__ + " " + str(e)[:80]] += 1

    await asyncio.gather(*(login(i) for i in range(a.count)))
    print(f"LOGGED {len(conns)} {sum(reasons.values())}", flush=True)
    for why, n in reasons.most_common(3):
        print(f"FAIL {n} {why}", file=sys.stderr, flush=True)

    stdin = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    if (await stdin.readline()).strip() == b"PARK":
        lost = collections.Counter()
        for r, w, cookie in conns:
            try:
                w.write(post("b IDLE\r\n", cookie))
                await w.drain()
                # The edge parked each session after its login: this IDLE resumes it from the cookie,
                # a store login at Dovecot until the IDLE gives the connection back: paced like logins.
                if a.mode == "pimap":
                    await asyncio.sleep(1 / a.rate)
            except OSError as e:
                lost[type(e).__name__] += 1
        for why, n in lost.items():
            print(f"LOST {n} {why}", file=sys.stderr, flush=True)
        await asyncio.sleep(a.grace)
        answered = [bytes(r._buffer) for r, _, _ in conns if r._buffer]  # noqa: SLF001
        for first in collections.Counter(b.split(b"\r\n", 1)[0] for b in answered).most_common(3):
            print(f"EARLY {first[1]} {first[0][:80]!r} e.g. {answered[0][-120:]!r}", file=sys.stderr,
                  flush=True)
        early = len(answered) + sum(lost.values())
        print(f"PARKED {len(conns)} {early}", flush=True)
        await stdin.readline()
    for _, w, _ in conns:
        w.transport.abort()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    for name, kind in (("mode", str), ("host", str), ("port", int), ("count", int), ("src", str),
                       ("tag", str), ("first", int), ("users_json", str)):
        ap.add_argument(name, type=kind)
    ap.add_argument("--grace", type=float, default=3.0)
    # Every edge login is a TLS login at Dovecot: a few at a time, or imap-login turns them away.
    ap.add_argument("--in-flight", type=int, default=8)
    # ... and each holds a Dovecot imap process until the edge parks it (2 s): bound the rate too.
    ap.add_argument("--rate", type=float, default=10.0, help="connections started per second")
    asyncio.run(main(ap.parse_args()))
