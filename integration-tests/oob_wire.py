"""What the phone network saw: fakesmsc's log, the WSP push PDU of a WAP Push, and the EMN it carries.

Kannel's fakesmsc (the stack's phone network) prints every message it receives as
`... Got message N: <from to text hello>` or `... <from to udh %06... data %00...>` (binary data
URL-encoded). A WAP Push arrives as one binary SMS holding a connectionless WSP push PDU, whose body is
the WBXML EMN (OMA E-Mail Notification 1.0, public id 0x0D). The decoders here are independent of
libs/emn on purpose: the test checks the notifier's bytes against the specification, not against itself.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

GOT = re.compile(r"Got message \d+: <(.*)>$")


@dataclass(frozen=True)
class Sms:
    binary: bool
    data: bytes  # text SMS: the text as fakesmsc printed it; binary: the URL-decoded user data


def messages_to(stack: dict, msisdn: str) -> list[Sms]:
    """Every SMS fakesmsc received for `msisdn`, in order (use a number of your own per test)."""
    out = []
    for line in Path(stack["kannel"]["fakesmsc_log"]).read_text(errors="replace").splitlines():
        m = GOT.search(line)
        if not m:
            continue
        fields = m.group(1).split(" ", 3)
        if len(fields) < 4 or fields[1] != msisdn:
            continue
        kind, rest = fields[2], fields[3]
        if kind == "text":
            out.append(Sms(False, rest.encode()))
        elif kind == "udh" and " data " in rest:
            data = rest.split(" data ", 1)[1].replace("+", " ")  # form encoding: "+" is a space (0x20)
            out.append(Sms(True, urllib.parse.unquote_to_bytes(data)))
    return out


@dataclass(frozen=True)
class Emn:
    mailbox: str
    timestamp: datetime


def _uintvar(b: bytes, pos: int) -> tuple[int, int]:
    v = 0
    for _ in range(5):
        c = b[pos]
        pos += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, pos
    raise ValueError("uintvar longer than 5 octets")


def wsp_push(pdu: bytes) -> tuple[str, bytes, bytes]:
    """(content type, other headers, body) of a WSP Push PDU (WAP-230 §8.2.4.1)."""
    if len(pdu) < 3 or pdu[1] not in (0x06, 0x07):
        raise ValueError(f"not a WSP push PDU: {pdu[:8].hex()}")
    hlen, pos = _uintvar(pdu, 2)
    headers, body = pdu[pos:pos + hlen], pdu[pos + hlen:]
    if len(headers) != hlen or not headers:
        raise ValueError("truncated WSP headers")
    first = headers[0]
    if first >= 0x80:  # well-known media, short-integer
        return f"0x{first & 0x7F:02x}", headers[1:], body
    if first >= 0x20:  # text, NUL-terminated
        nul = headers.index(0)
        return headers[:nul].decode(), headers[nul + 1:], body
    p, length = 1, first  # value-length, then media type and parameters
    if first == 31:
        length, p = _uintvar(headers, 1)
    field = headers[p:p + length]
    media = field[0]
    ctype = f"0x{media & 0x7F:02x}" if media >= 0x80 else field.split(b"\0", 1)[0].decode()
    return ctype, headers[p + length:], body


MAILBOX_PREFIX = {0x06: "", 0x07: "mailat:", 0x08: "pop://", 0x09: "imap://", 0x0A: "http://",
                  0x0B: "http://www.", 0x0C: "https://", 0x0D: "https://www."}
VALUE_TOKEN = {0x85: ".com", 0x86: ".edu", 0x87: ".net", 0x88: ".org"}
STR_I, OPAQUE, END = 0x03, 0xC3, 0x01


def _bcd_time(o: bytes) -> datetime:
    digits = [((c >> 4) * 10 + (c & 0x0F)) for c in o] + [0] * (7 - len(o))
    return datetime(digits[0] * 100 + digits[1], digits[2] or 1, digits[3] or 1, digits[4], digits[5], digits[6],
                    tzinfo=timezone.utc)


def decode_emn_wbxml(b: bytes) -> Emn:
    """The <emn> element of a WBXML 1.x EMN document (OMA-TS-EMN-V1_0 §8)."""
    if b[0] > 0x03:
        raise ValueError(f"WBXML version {b[0]:#x}")
    public_id, pos = _uintvar(b, 1)
    if public_id != 0x0D:
        raise ValueError(f"public id {public_id:#x}, not EMN (0x0D)")
    _charset, pos = _uintvar(b, pos)
    table_len, pos = _uintvar(b, pos)
    pos += table_len
    if b[pos] != 0x85:  # <emn> (0x05) with attributes, no content
        raise ValueError(f"root token {b[pos]:#x} is not <emn> with attributes")
    pos += 1
    attrs: dict[int, object] = {}
    current = None
    while b[pos] != END:
        t = b[pos]
        pos += 1
        if t == STR_I:
            nul = b.index(0, pos)
            attrs[current] = str(attrs[current]) + b[pos:nul].decode()
            pos = nul + 1
        elif t == OPAQUE:
            n, pos = _uintvar(b, pos)
            attrs[current] = b[pos:pos + n]
            pos += n
        elif t in VALUE_TOKEN:
            attrs[current] = str(attrs[current]) + VALUE_TOKEN[t]
        elif t == 0x05:
            current = 0x05
            attrs[current] = ""
        elif t in MAILBOX_PREFIX:
            current = 0x06
            attrs[current] = MAILBOX_PREFIX[t]
        else:
            raise ValueError(f"unexpected token {t:#x} at {pos - 1}")
    if pos + 1 != len(b):
        raise ValueError(f"{len(b) - pos - 1} bytes after </emn>")
    stamp = attrs.get(0x05)
    ts = _bcd_time(stamp) if isinstance(stamp, bytes) else datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc)
    return Emn(str(attrs[0x06]), ts)


TEXT_EMN = re.compile(r'^<emn mailbox="([^"]+)" timestamp="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"\s*/>$')


def decode_emn_text(text: str) -> Emn:
    """The textual EMN the SMS channel carries: exactly one <emn .../> element, nothing else."""
    m = TEXT_EMN.match(text) or TEXT_EMN.match(urllib.parse.unquote_plus(text))
    if not m:
        raise ValueError(f"not a textual EMN: {text!r}")
    return Emn(m.group(1), datetime.strptime(m.group(2), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc))
