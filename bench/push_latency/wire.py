"""IMAP over TLS as the push benchmark's clients speak it (asyncio, standard library only).

A device (through the edge, `userNN#P<device>`) and a plain Dovecot client both do the same thing:
LOGIN, SELECT INBOX, IDLE, then read untagged lines until told to stop. `ExistsReader` timestamps
every `* n EXISTS` with time.monotonic(), which is CLOCK_MONOTONIC and therefore comparable across
the benchmark's processes on one machine.
"""
import asyncio
import re
import ssl
import time

# asyncio keeps a 256 KiB TLS read buffer per connection by default; 16 KiB lets one client process
# hold a thousand connections beside the services it measures.
import asyncio.sslproto
asyncio.sslproto.SSLProtocol.max_size = 16 * 1024

STEP_TIMEOUT = 60
EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")
UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")


class Failed(Exception):
    pass


def tls_context(ca=None):
    if ca:
        return ssl.create_default_context(cafile=ca)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def command(r, w, tag, line):
    """Sends one command; returns (untagged lines, completion); raises Failed unless it is OK."""
    w.write(f"{tag} {line}\r\n".encode())
    untagged = []
    while True:
        got = await asyncio.wait_for(r.readline(), STEP_TIMEOUT)
        if not got:
            raise Failed(f"{line.split()[0]}: connection closed")
        if got.startswith(tag.encode() + b" "):
            if got.split()[1] != b"OK":
                raise Failed(f"{line.split()[0]}: {got.decode(errors='replace').strip()[:120]}")
            return untagged, got
        untagged.append(got)


class IdleClient:
    """One IMAP connection parked in IDLE on INBOX; `exists` is the count SELECT reported."""

    def __init__(self, r, w, exists, uidvalidity):
        self.r, self.w, self.exists, self.uidvalidity = r, w, exists, uidvalidity

    @classmethod
    async def open(cls, host, port, ctx, login, password, src=None, server_hostname=None):
        kw = {"local_addr": (src, 0)} if src else {}
        r, w = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_hostname, **kw),
            STEP_TIMEOUT)
        try:
            greeting = await asyncio.wait_for(r.readline(), STEP_TIMEOUT)
            if not greeting.startswith(b"* OK"):
                raise Failed(f"greeting: {greeting[:80]!r}")
            await command(r, w, "a", f'LOGIN "{login}" "{password}"')
            untagged, _ = await command(r, w, "b", "SELECT INBOX")
            counts = [int(m.group(1)) for ln in untagged if (m := EXISTS.match(ln))]
            vals = [int(m.group(1)) for ln in untagged if (m := UIDVALIDITY.search(ln))]
            if not counts:
                raise Failed("SELECT: no EXISTS")
            w.write(b"c IDLE\r\n")
            while True:
                got = await asyncio.wait_for(r.readline(), STEP_TIMEOUT)
                if not got:
                    raise Failed("IDLE: connection closed")
                if got.startswith(b"+"):
                    return cls(r, w, counts[-1], vals[-1] if vals else 0)
                if got.startswith(b"c "):
                    raise Failed(f"IDLE: {got.decode(errors='replace').strip()[:120]}")
        except BaseException:
            w.transport.abort()
            raise

    async def read_exists(self, on_exists):
        """Calls on_exists(n, monotonic time) for every `* n EXISTS` until the connection ends."""
        while True:
            line = await self.r.readline()
            if not line:
                return
            m = EXISTS.match(line)
            if m:
                on_exists(int(m.group(1)), time.monotonic())

    async def logout(self):
        """Ends IDLE and the session (LOGOUT closes a P-IMAP session, so no queue outlives the run).
        The read_exists task of this client must have been cancelled first."""
        try:
            self.w.write(b"DONE\r\ne LOGOUT\r\n")
            await asyncio.wait_for(self.w.drain(), 10)
            while True:
                line = await asyncio.wait_for(self.r.readline(), 10)
                if not line or line.startswith(b"e "):
                    break
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            self.w.transport.abort()
