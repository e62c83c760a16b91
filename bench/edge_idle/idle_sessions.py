#!/usr/bin/env python3
"""Opens COUNT implicit-TLS IMAP connections from SRC_IP to HOST:PORT, logs each one in, SELECTs
INBOX and enters IDLE (waits for the continuation), then holds them for HOLD seconds (the driver
normally kills it earlier, by PID). Prints "IDLING <ok> <failed> <seconds> <busy retries>" once all
attempts have finished, then one "FAIL <reason>" line per distinct failure reason. A LOGIN answered
`NO [UNAVAILABLE] Server busy, try again` (the edge's login gate) is retried up to 5 times with a
growing, jittered pause, as a device would. Standard library only; one process per source address
(see run.py).

    idle_sessions.py HOST PORT COUNT SRC_IP HOLD_SECS RATE TAG FIRST USERS_JSON
        [--plain-users] [--ca CA_PEM]

Login names: with a device id, `userNN#P<TAG>-<FIRST+i>` cycling over the users in USERS_JSON (a
list of {"name", "password"}), so each connection is a distinct P-IMAP device; with --plain-users
the bare user name (used against Dovecot directly). RATE bounds the logins per second started by
this process, because every edge login is verified by a short-lived store login.
"""
import argparse
import asyncio
import collections
import json
import random
import resource
import ssl
import time

# asyncio keeps a 256 KiB TLS read buffer per connection by default; 16 KiB keeps the driver
# small enough to hold thousands of connections beside the server.
import asyncio.sslproto
asyncio.sslproto.SSLProtocol.max_size = 16 * 1024

IN_FLIGHT = 64
STEP_TIMEOUT = 60
BUSY = "Server busy, try again"
BUSY_RETRIES = 5
BUSY_BACKOFF = 1.0  # seconds, times the attempt number, jittered


class Failed(Exception):
    pass


async def command(r, w, tag, line):
    """Sends one command; returns its tagged completion, raises Failed unless it is OK."""
    w.write(f"{tag} {line}\r\n".encode())
    while True:
        got = await asyncio.wait_for(r.readline(), STEP_TIMEOUT)
        if not got:
            raise Failed(f"{line.split()[0]}: connection closed")
        if got.startswith(tag.encode() + b" "):
            if got.split()[1] != b"OK":
                raise Failed(f"{line.split()[0]}: {got.decode(errors='replace').strip()[:120]}")
            return got


async def login(r, w, user, password, stats):
    """LOGIN, retried like a device would when the edge says it is busy (its login gate is full)."""
    for attempt in range(BUSY_RETRIES + 1):
        try:
            return await command(r, w, f"a{attempt}", f'LOGIN "{user}" "{password}"')
        except Failed as e:
            if BUSY not in str(e) or attempt == BUSY_RETRIES:
                raise
            stats["busy_retries"] += 1
            await asyncio.sleep(BUSY_BACKOFF * (attempt + 1) * (0.5 + random.random()))


async def session(host, port, ctx, src, user, password, stats):
    r, w = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ctx, local_addr=(src, 0)), STEP_TIMEOUT)
    try:
        greeting = await asyncio.wait_for(r.readline(), STEP_TIMEOUT)
        if not greeting.startswith(b"* OK"):
            raise Failed(f"greeting: {greeting[:80]!r}")
        await login(r, w, user, password, stats)
        await command(r, w, "b", "SELECT INBOX")
        w.write(b"c IDLE\r\n")
        while True:
            got = await asyncio.wait_for(r.readline(), STEP_TIMEOUT)
            if not got:
                raise Failed("IDLE: connection closed")
            if got.startswith(b"+"):
                return r, w
            if got.startswith(b"c "):
                raise Failed(f"IDLE: {got.decode(errors='replace').strip()[:120]}")
    except BaseException:
        w.transport.abort()
        raise


async def main(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert a.count + 20 <= hard, f"{a.count} connections need more than the {hard} descriptor limit"
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    users = json.load(open(a.users_json))
    ctx = ssl.create_default_context(cafile=a.ca) if a.ca else ssl.create_default_context()
    if not a.ca:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    conns, reasons = [], collections.Counter()
    stats = collections.Counter()
    interval = 1.0 / a.rate
    t0 = time.monotonic()

    async def one(i):
        # Start i no earlier than i / RATE seconds after t0: a bounded login rate.
        delay = t0 + i * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        idx = a.first + i
        u = users[idx % len(users)]
        name = u["name"] if a.plain_users else f"{u['name']}#P{a.tag}-{idx}"
        async with in_flight:
            try:
                conns.append(await session(a.host, a.port, ctx, a.src, name, u["password"], stats))
            except Failed as e:
                reasons[str(e)] += 1
            except Exception as e:  # noqa: BLE001 - counted, reported, never fatal
                reasons[type(e).__name__] += 1

    await asyncio.gather(*(one(i) for i in range(a.count)))
    print(f"IDLING {len(conns)} {sum(reasons.values())} {time.monotonic() - t0:.1f} "
          f"{stats['busy_retries']}", flush=True)
    for reason, n in reasons.most_common(10):
        print(f"FAIL {n} {reason}", flush=True)
    print("END", flush=True)
    await asyncio.sleep(a.hold)
    for _, w in conns:
        w.transport.abort()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    for name, kind in (("host", str), ("port", int), ("count", int), ("src", str), ("hold", float),
                       ("rate", float), ("tag", str), ("first", int), ("users_json", str)):
        ap.add_argument(name, type=kind)
    ap.add_argument("--plain-users", action="store_true")
    ap.add_argument("--ca")
    asyncio.run(main(ap.parse_args()))
