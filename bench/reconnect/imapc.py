"""The few IMAP-over-TLS exchanges the reconnect benchmark needs (asyncio, standard library only).

Every command is sent and its tagged completion awaited before the next one, as a client that has
to read an answer before it knows what to ask next does (no pipelining: the round trips counted are
the ones such a client waits on). Literals are not expected in any of these responses.
"""
import asyncio
import re
import ssl

TIMEOUT = 60
FLAGS = re.compile(rb"^\* \d+ FETCH \(.*UID (\d+).*FLAGS \(([^)]*)\)")
FLAGS_FIRST = re.compile(rb"^\* \d+ FETCH \(.*FLAGS \(([^)]*)\).*UID (\d+)")


class Failed(Exception):
    pass


def tls_context():
    # Certificates are not what is measured; both sides get the same full TLS 1.3 handshake.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check_tls13(ssl_object):
    """The round-trip counts assume TLS 1.3's one-round-trip full handshake."""
    if ssl_object.version() != "TLSv1.3":
        raise Failed(f"negotiated {ssl_object.version()}, the counts assume TLSv1.3")


class Imap:
    def __init__(self, r, w, greeting):
        self.r, self.w, self.greeting, self.n = r, w, greeting, 0
        # Exchanges this client waited on: TCP handshake, TLS 1.3 handshake (one flight each way
        # before the client may send data), the greeting (sent once the server has the client's
        # Finished), then one per command.
        self.waits = 3

    @classmethod
    async def open(cls, host, port):
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=tls_context()), TIMEOUT)
        greeting = await asyncio.wait_for(r.readline(), TIMEOUT)
        if not greeting.startswith(b"* OK"):
            raise Failed(f"greeting: {greeting[:100]!r}")
        check_tls13(w.get_extra_info("ssl_object"))
        return cls(r, w, greeting)

    async def command(self, line):
        """Sends `line`; returns (untagged lines, completion line); raises Failed unless OK."""
        self.n += 1
        self.waits += 1
        tag = f"t{self.n}"
        self.w.write(f"{tag} {line}\r\n".encode())
        untagged = []
        while True:
            got = await asyncio.wait_for(self.r.readline(), TIMEOUT)
            if not got:
                raise Failed(f"{line.split()[0]}: connection closed after {untagged[-3:]!r}")
            if got.startswith(tag.encode() + b" "):
                if got.split()[1] != b"OK":
                    raise Failed(f"{line[:40]}: {got.decode(errors='replace').strip()[:200]}")
                return untagged, got
            untagged.append(got)

    async def idle_then_drop(self):
        """Starts IDLE, waits for the continuation, then drops the connection without LOGOUT."""
        self.w.write(b"i IDLE\r\n")
        while True:
            got = await asyncio.wait_for(self.r.readline(), TIMEOUT)
            if not got:
                raise Failed("IDLE: connection closed")
            if got.startswith(b"+"):
                break
        self.abort()

    def abort(self):
        self.w.transport.abort()

    async def logout(self):
        try:
            await self.command("LOGOUT")
        except (Failed, OSError, asyncio.TimeoutError):
            pass
        self.w.close()


def flags_by_uid(untagged):
    """{uid: frozenset(flags)} from `* n FETCH (UID u FLAGS (...))` lines, either attribute order."""
    out = {}
    for ln in untagged:
        if m := FLAGS.match(ln):
            out[int(m.group(1))] = frozenset(m.group(2).split())
        elif m := FLAGS_FIRST.match(ln):
            out[int(m.group(2))] = frozenset(m.group(1).split())
    return out
