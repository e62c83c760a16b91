"""A minimal LMTP client (RFC 2033) for timing deliveries straight into Dovecot.

`deliver` returns the monotonic time of the final 250 reply: the moment Dovecot has committed the
message (and, with push_notification, has had the store-watcher's answer to its hook, since the OX
driver calls it synchronously inside the transaction).
"""
import asyncio
import time


class LmtpError(Exception):
    pass


class Lmtp:
    def __init__(self, r, w):
        self.r, self.w = r, w

    @classmethod
    async def connect(cls, host, port):
        r, w = await asyncio.open_connection(host, port)
        c = cls(r, w)
        await c._reply(220)
        c.w.write(b"LHLO pushbench.example.test\r\n")
        await c._reply(250)
        return c

    async def _reply(self, want):
        """Reads one (possibly multi-line) reply; raises unless its code is `want`."""
        lines = []
        while True:
            line = await asyncio.wait_for(self.r.readline(), 60)
            if not line:
                raise LmtpError(f"connection closed; read {lines!r}")
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        if int(line[:3]) != want:
            raise LmtpError(f"expected {want}, got {b''.join(lines)!r}")
        return lines

    async def deliver(self, rcpt, subject, body="push latency probe"):
        """Delivers one message to `rcpt`; returns (monotonic time the data was sent, time of 250)."""
        msg = (f"From: bench@example.org\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject}@pushbench.example.org>\r\n\r\n{body}\r\n.\r\n").encode()
        # Pipelined like Postfix's LMTP client: MAIL and RCPT answers are read after sending both.
        self.w.write(f"MAIL FROM:<bench@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        await self._reply(250)
        await self._reply(250)
        await self._reply(354)
        sent = time.monotonic()
        self.w.write(msg)
        await self._reply(250)
        return sent, time.monotonic()

    async def close(self):
        try:
            self.w.write(b"QUIT\r\n")
            await asyncio.wait_for(self._reply(221), 5)
        except (OSError, LmtpError, asyncio.TimeoutError):
            pass
        self.w.close()
