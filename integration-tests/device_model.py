"""What a P-IMAP device holds of its selected mailbox, built only from what the server told it.

The model applies untagged responses exactly as RFC 3501/7162 define them (EXISTS appends unknown
messages, EXPUNGE n removes the n-th, VANISHED removes by UID, FETCH n (UID u FLAGS (...)) fills in
the n-th), so a test can compare what the device was told with what the store holds.
"""

from __future__ import annotations

import re

EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")
EXPUNGE = re.compile(rb"^\* (\d+) EXPUNGE\r\n$")
VANISHED = re.compile(rb"^\* VANISHED (?!\(EARLIER\))([\d:,]+)\r\n$")
FETCH = re.compile(rb"^\* (\d+) FETCH \((.*)\)\r\n$")
UID = re.compile(rb"\bUID (\d+)")
FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")


def uid_set(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        a, b = int(lo), int(hi or lo)
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


def visible_flags(raw: bytes) -> frozenset[str]:
    # \Recent belongs to one store connection, not to the message: never compared.
    return frozenset(f for f in raw.decode().split() if f.lower() != "\\recent")


class DeviceMailbox:
    def __init__(self) -> None:
        self.messages: list[list] = []  # [uid or None, flags or None], in sequence order

    def seed(self, fetch_lines: list[bytes]) -> None:
        """The answer to `FETCH 1:* (UID FLAGS)` right after SELECT."""
        for ln in fetch_lines:
            self.apply(ln)

    def apply(self, line: bytes) -> None:
        if m := EXISTS.match(line):
            n = int(m.group(1))
            assert n >= len(self.messages), f"EXISTS {n} below the {len(self.messages)} messages known: {line!r}"
            self.messages.extend([None, None] for _ in range(n - len(self.messages)))
        elif m := EXPUNGE.match(line):
            n = int(m.group(1))
            assert 1 <= n <= len(self.messages), f"EXPUNGE of no message: {line!r} ({len(self.messages)})"
            del self.messages[n - 1]
        elif m := VANISHED.match(line):
            gone = set(uid_set(m.group(1).decode()))
            self.messages = [msg for msg in self.messages if msg[0] not in gone]
        elif m := FETCH.match(line):
            n = int(m.group(1))
            assert 1 <= n <= len(self.messages), f"FETCH of no message: {line!r} ({len(self.messages)})"
            msg = self.messages[n - 1]
            if u := UID.search(m.group(2)):
                assert msg[0] in (None, int(u.group(1))), f"FETCH names another UID for {n}: {line!r} had {msg}"
                msg[0] = int(u.group(1))
            if f := FLAGS.search(m.group(2)):
                msg[1] = visible_flags(f.group(1))

    def state(self) -> list[tuple]:
        return [(uid, flags) for uid, flags in self.messages]


def store_state(conn, mailbox: str = "INBOX") -> list[tuple]:
    """(UID, flags) of every message in sequence order, from the store itself (imaplib connection)."""
    typ, data = conn.select(mailbox, readonly=True)
    assert typ == "OK", data
    if int(data[0]) == 0:
        return []
    typ, data = conn.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK", data
    out = []
    for raw in data:
        if not isinstance(raw, bytes):
            continue
        out.append((int(UID.search(raw).group(1)), visible_flags(FLAGS.search(raw).group(1))))
    return out
