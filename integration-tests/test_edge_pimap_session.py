"""P-IMAP sessions over the TCP binding (profile §2, §3, §5, §6; docs/protocol.md), with raw TLS sockets.

- capabilities before and after login, on both listeners, exactly as docs/protocol.md lists them;
- first login as `userNN#P<dev>`: `* SESSIONID <26 base32>` before the tagged OK, no `* SESSION`;
- a dropped connection resumes on a SECOND edge process: `* SESSION SELECTED`, `* FOLDER`, the same
  `* SESSIONID`; after LOGOUT the next login is a first login again;
- a plain login (no device id) is a plain IMAP session: P-IMAP-only commands answer `NO [CANNOT]`;
- XSETPIMAPPREF / XGETPIMAPPREF (profile §5 table), kept across sessions and edges; XPROVISION lines.

Users user40..user42 (edge_harness.SESSION_USERS). Device ids carry a per-run suffix (`Pdev1-<hex>`), so
each run starts from first logins whatever an earlier run left in the session service.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

import pytest

import edge_harness as h
from edge_wire import EdgeProcess, Wire, random_loopback, stack_edge, untagged

U1, U2, U3 = h.SESSION_USERS
RUN = secrets.token_hex(3)
SESSIONID = re.compile(rb"^\* SESSIONID ([A-Z2-7]{26})\r\n$")

PRE_TLS = {"IMAP4REV1", "AUTH=PLAIN", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE"}
PRE_PLAIN = {"IMAP4REV1", "STARTTLS", "LOGINDISABLED", "LITERAL+", "ID", "ENABLE", "IDLE"}
EDGE_OWN = {"IMAP4REV1", "IDLE", "ENABLE", "LITERAL+", "ID", "COMPRESS=DEFLATE", "XPIMAPPREF", "XPROVISION", "XZIP"}
PASSTHROUGH = {"CONDSTORE", "QRESYNC", "UIDPLUS", "MOVE", "ESEARCH", "ESORT", "SORT", "SPECIAL-USE",
               "LIST-EXTENDED", "LIST-STATUS", "NAMESPACE", "CHILDREN", "UNSELECT", "MULTIAPPEND", "BINARY",
               "WITHIN", "SEARCHRES", "CONTEXT=SEARCH", "I18NLEVEL=1", "STATUS=SIZE", "SAVEDATE",
               "SNIPPET=FUZZY", "PREVIEW=FUZZY", "PREVIEW", "METADATA", "METADATA-SERVER"}
NEVER_AFTER_LOGIN = {"NOTIFY", "URLAUTH", "CATENATE", "STARTTLS", "LOGIN-REFERRALS", "LOGINDISABLED",
                     "XPIMAPV1", "XFILTER", "XDELIVER", "XCONVERT", "XMACRO"}


def device(n: int) -> str:
    return f"Pdev{n}-{RUN}"


@pytest.fixture(autouse=True)
def edge_up(stack):
    h.require_edge(stack)


@pytest.fixture(scope="module")
def second_edge(stack):
    h.require_edge(stack)
    edge = EdgeProcess(stack, Path(stack["logs"]) if Path(stack["logs"]).is_dir() else Path("/tmp"))
    yield edge
    alive = edge.alive()
    edge.stop()
    assert alive, f"the second pimap-edge died during the tests:\n{edge.tail()}"


def tls_wire(stack, address=None, **kw) -> Wire:
    return Wire(address or stack_edge(stack, "imaps"), tls=h.tls_context(stack), **kw)


def caps_of(line: bytes) -> set[str]:
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line) or re.match(rb"\* CAPABILITY (.*)\r\n", line)
    assert m, line
    return {c.upper() for c in m.group(1).decode().split()}


def login(w: Wire, username: str, dev: str | None, stack) -> tuple[list[bytes], bytes]:
    name = f"{username}#{dev}" if dev else username
    return w.cmd(f'LOGIN "{name}" "{h.user(stack, username)["password"]}"')


def session_lines(lines: list[bytes]) -> list[bytes]:
    """The session-related untagged lines of a login, in order."""
    return [ln for ln in lines if re.match(rb"\* (SESSION|SESSIONID|FOLDER|RESYNC)\b", ln)]


def first_login(stack, w, username, dev) -> str:
    lines, done = login(w, username, dev, stack)
    assert done.startswith(b"t") and b" OK " in done, done
    sess = session_lines(lines)
    assert len(sess) == 1 and SESSIONID.match(sess[0]), f"first login: expected only * SESSIONID, got {lines}"
    return SESSIONID.match(sess[0]).group(1).decode()


# ---------------------------------------------------------------------------------------------------------
# Capabilities

def test_capabilities_before_login_on_imaps(stack):
    with tls_wire(stack) as w:
        assert w.greeting.startswith(b"* OK "), w.greeting
        greeting_caps = caps_of(w.greeting)
        lines = w.ok("CAPABILITY")
        (cap,) = untagged(lines, "CAPABILITY")
        assert caps_of(cap) == PRE_TLS, cap
        assert greeting_caps == PRE_TLS, w.greeting


def test_capabilities_before_login_on_plain_port_and_after_starttls(stack):
    with Wire(stack_edge(stack, "imap")) as w:
        assert caps_of(w.greeting) == PRE_PLAIN, w.greeting
        (cap,) = untagged(w.ok("CAPABILITY"), "CAPABILITY")
        assert caps_of(cap) == PRE_PLAIN, cap
        w.starttls(h.tls_context(stack))
        (cap,) = untagged(w.ok("CAPABILITY"), "CAPABILITY")
        assert caps_of(cap) == PRE_TLS, cap
        first_login(stack, w, U1, device(9))
        w.ok("LOGOUT")


@pytest.mark.parametrize("dev", [None, "Pcaps"], ids=["plain-login", "device-login"])
def test_capabilities_after_login_are_the_edge_set_plus_the_store_passthrough(stack, dev):
    with h.direct(stack, U1) as conn:
        store = {c.upper() for c in conn.capability()[1][0].decode().split()}
        conn.logout()
    expected = EDGE_OWN | {c for c in store if c in PASSTHROUGH or c.startswith(("SORT=", "THREAD="))}
    with tls_wire(stack) as w:
        _, done = login(w, U1, dev, stack)
        assert b" OK " in done, done
        in_ok = caps_of(done)
        (cap,) = untagged(w.ok("CAPABILITY"), "CAPABILITY")
        after = caps_of(cap)
        w.ok("LOGOUT")
    assert after == in_ok, f"CAPABILITY differs from the LOGIN OK's: {after ^ in_ok}"
    assert not after & NEVER_AFTER_LOGIN, f"advertised but withheld: {after & NEVER_AFTER_LOGIN}"
    assert not [c for c in after if c.startswith("AUTH=")]
    assert after == expected, (f"missing: {sorted(expected - after)}; unexpected: {sorted(after - expected)} "
                               f"(store advertises {sorted(store)})")


# ---------------------------------------------------------------------------------------------------------
# Session lifecycle

@pytest.mark.parametrize("how", ["LOGIN", "AUTHENTICATE-SASL-IR", "AUTHENTICATE-continuation"])
def test_first_login_gets_a_sessionid_before_the_tagged_ok(stack, how):
    import base64
    dev = device(1) + how[:5]
    name = f"{U1}#{dev}"
    creds = base64.b64encode(f"\0{name}\0{h.user(stack, U1)['password']}".encode())
    with tls_wire(stack) as w:
        if how == "LOGIN":
            sid = first_login(stack, w, U1, dev)
        else:
            tag = w.tag()
            if how == "AUTHENTICATE-SASL-IR":
                w.send(f"{tag} AUTHENTICATE PLAIN ".encode() + creds + b"\r\n")
            else:
                w.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
                assert w.line().startswith(b"+"), "no SASL continuation"
                w.send(creds + b"\r\n")
            lines, done = w.until_tagged(tag)
            assert done.startswith(f"{tag} OK".encode()), done
            sess = session_lines(lines)
            assert len(sess) == 1 and SESSIONID.match(sess[0]), lines
            sid = SESSIONID.match(sess[0]).group(1).decode()
        assert len(sid) == 26
        w.ok("LOGOUT")


def _drop(w: Wire) -> None:
    """Vanish without LOGOUT (a device losing coverage)."""
    w.close()
    time.sleep(1.0)  # the edge notices the EOF and detaches the session


def test_reconnect_to_a_second_edge_resumes_the_selected_session(stack, second_edge):
    dev = device(2)
    h.reset_mailbox(stack, U2)
    with h.direct(stack, U2) as conn:
        conn.create('"Team Work"')
        conn.append('"Team Work"', None, None, h.message("s01"))
        conn.logout()
    w = tls_wire(stack)
    sid = first_login(stack, w, U2, dev)
    w.ok('SELECT "Team Work"')
    _drop(w)
    with tls_wire(stack, second_edge.imaps) as w2:
        lines, done = login(w2, U2, dev, stack)
        assert b" OK " in done, done
        sess = session_lines(lines)
        assert sess == [b"* SESSION SELECTED\r\n", b'* FOLDER "Team Work"\r\n', f"* SESSIONID {sid}\r\n".encode()], \
            f"resume on the second edge: {lines}"
        # The store connection was put back where the device left it: no SELECT needed.
        lines = w2.ok("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert any(b"s01@it.pimap.test" in ln for ln in lines), lines
        w2.ok("LOGOUT")
    assert second_edge.alive()


def test_reconnect_without_a_selected_mailbox_resumes_authenticated(stack, second_edge):
    dev = device(3)
    w = Wire(second_edge.imap)
    w.starttls(h.tls_context(stack))
    sid = first_login(stack, w, U2, dev)
    w.ok("NOOP")
    _drop(w)
    with tls_wire(stack) as w2:  # back on the stack's edge
        lines, done = login(w2, U2, dev, stack)
        assert b" OK " in done, done
        assert session_lines(lines) == [b"* SESSION AUTHENTICATED\r\n", f"* SESSIONID {sid}\r\n".encode()], lines
        _, done = w2.cmd("FETCH 1 FLAGS")
        assert re.match(rb"t\d+ (BAD|NO)", done), f"FETCH in the authenticated state: {done!r}"
        w2.ok("LOGOUT")


def test_after_logout_the_next_login_is_a_first_login(stack, second_edge):
    dev = device(4)
    with tls_wire(stack) as w:
        sid1 = first_login(stack, w, U2, dev)
        w.ok("SELECT INBOX")
        lines, done = w.cmd("LOGOUT")
        assert untagged(lines, "BYE") and b" OK " in done, (lines, done)
        assert w.closed_within(5), "the connection stays open after LOGOUT"
    for address in (second_edge.imaps, stack_edge(stack, "imaps")):
        with tls_wire(stack, address) as w:
            sid2 = first_login(stack, w, U2, dev)
            assert sid2 != sid1, "LOGOUT must end the session: the next login gets a new SESSIONID"
            w.ok("LOGOUT")
            sid1 = sid2


def test_two_devices_of_one_user_have_separate_sessions(stack):
    a, b = device(5), device(6)
    w1, w2 = tls_wire(stack), tls_wire(stack)
    try:
        s1 = first_login(stack, w1, U3, a)
        s2 = first_login(stack, w2, U3, b)
        assert s1 != s2
        w1.ok("SELECT INBOX")
        w2.ok("NOOP")
    finally:
        w1.ok("LOGOUT")
        w2.ok("LOGOUT")
        w1.close()
        w2.close()


def test_plain_login_is_a_plain_imap_session(stack):
    with tls_wire(stack) as w:
        lines, done = login(w, U1, None, stack)
        assert b" OK " in done, done
        assert not session_lines(lines), f"a plain login got session lines: {lines}"
        for cmd in ("XSETPIMAPPREF PIMAP_INBAND_PUSH ON", "XGETPIMAPPREF (PIMAP_INBAND_PUSH)",
                    "XGETPIMAPPREFS (PIMAP_EVENT_FILTER)"):
            untag, done = w.cmd(cmd)
            assert re.match(rb"t\d+ NO \[CANNOT\]", done), f"{cmd}: {done!r}"
            assert not untagged(untag, "XGETPIMAPPREF"), untag
        # Not P-IMAP-only (profile §3): XPROVISION and XZIP still work.
        assert untagged(w.ok("XPROVISION"), "XPROVISION")
        w.ok("XZIP a1 NOOP")
        w.ok("LOGOUT")


def test_a_name_with_hash_but_no_valid_device_id_is_a_plain_login(stack):
    # "user40#" + something that is not P[A-Za-z0-9._-]{1,64}: the whole name is the store user -> fails.
    with tls_wire(stack, source=random_loopback()) as w:
        lines, done = login(w, U1, "Xnotadevice", stack)
        assert re.match(rb"t\d+ NO \[AUTHENTICATIONFAILED\]", done), done
        assert not session_lines(lines)


# ---------------------------------------------------------------------------------------------------------
# Preferences (profile §5) and XPROVISION (§6)

DEFAULTS = {"PIMAP_OUTBAND_ADDRESS": "NIL", "PIMAP_OUTBAND_CHANNEL": "NONE", "PIMAP_OUTBAND_FORMAT": "EMN",
            "PIMAP_INBAND_NEW_FORMAT": "NONE", "PIMAP_INBAND_PUSH": "OFF", "PIMAP_EVENT_FILTER": "ALL"}
SETTINGS = [("PIMAP_OUTBAND_ADDRESS", "+4912345678", "+4912345678"),
            ("PIMAP_OUTBAND_CHANNEL", "WAP_PUSH", "WAP_PUSH"),
            ("PIMAP_OUTBAND_FORMAT", "EXTENDED", "EXTENDED"),
            ("PIMAP_INBAND_NEW_FORMAT", "(UID FLAGS ENVELOPE BODY.PEEK[HEADER])", "(UID FLAGS ENVELOPE BODY.PEEK[HEADER])"),
            ("PIMAP_INBAND_PUSH", "ON", "ON"),
            ("PIMAP_EVENT_FILTER", "NEW", "NEW")]
BAD_VALUES = [("PIMAP_OUTBAND_CHANNEL", "CARRIER_PIGEON"), ("PIMAP_OUTBAND_ADDRESS", "4912345678"),
              ("PIMAP_OUTBAND_ADDRESS", "+12345"), ("PIMAP_OUTBAND_ADDRESS", "+1234567890123456"),
              ("PIMAP_OUTBAND_FORMAT", "XML"), ("PIMAP_INBAND_PUSH", "MAYBE"), ("PIMAP_EVENT_FILTER", "SOME"),
              ("PIMAP_INBAND_NEW_FORMAT", "(UID NOSUCHATT)"), ("PIMAP_NO_SUCH_PREF", "ON")]
CANNOT_VALUES = [("PIMAP_OUTBAND_CHANNEL", v) for v in ("GSMSMS", "WAPWDP", "MMS", "UDP", "SIP")]


def prefs_of(lines: list[bytes], word: str = "XGETPIMAPPREF") -> dict[str, str]:
    (line,) = [ln for ln in lines if ln.startswith(f"* {word} (".encode())]
    body = line.decode()[len(f"* {word} ("):-3]
    out = {}
    for m in re.finditer(r"(PIMAP_\w+) (\((?:[^()]|\([^()]*\))*\)|\S+)", body):
        out[m.group(1)] = m.group(2)
    return out


def test_preferences_default_set_get_and_survive_a_new_session_and_edge(stack, second_edge):
    dev = device(7)
    names = "(" + " ".join(DEFAULTS) + ")"
    with tls_wire(stack) as w:
        first_login(stack, w, U3, dev)
        assert prefs_of(w.ok(f"XGETPIMAPPREF {names}")) == DEFAULTS
        for name, value, _ in SETTINGS:
            untag, done = w.cmd(f"XSETPIMAPPREF {name} {value}")
            assert re.match(rb"t\d+ OK", done), f"XSETPIMAPPREF {name} {value}: {done!r}"
        want = {n: v for n, _, v in SETTINGS}
        assert prefs_of(w.ok(f"XGETPIMAPPREF {names}")) == want
        # Alias (profile §5): the response then says XGETPIMAPPREFS.
        assert prefs_of(w.ok("XGETPIMAPPREFS (PIMAP_INBAND_PUSH)"), "XGETPIMAPPREFS") == {"PIMAP_INBAND_PUSH": "ON"}
        w.ok("LOGOUT")
    # A new session (after LOGOUT), on the other edge: preferences are per user+device and stay.
    with tls_wire(stack, second_edge.imaps) as w:
        first_login(stack, w, U3, dev)
        assert prefs_of(w.ok(f"XGETPIMAPPREF {names}")) == want
        w.ok("LOGOUT")
    # Another device of the same user still has the defaults.
    with tls_wire(stack) as w:
        first_login(stack, w, U3, device(8))
        assert prefs_of(w.ok(f"XGETPIMAPPREF {names}")) == DEFAULTS
        w.ok("LOGOUT")


def test_bad_preference_values_are_bad_and_unserved_channels_are_no_cannot(stack):
    dev = device(10)
    with tls_wire(stack) as w:
        first_login(stack, w, U3, dev)
        w.ok("XSETPIMAPPREF PIMAP_OUTBAND_CHANNEL SMS")
        for name, value in BAD_VALUES:
            _, done = w.cmd(f"XSETPIMAPPREF {name} {value}")
            assert re.match(rb"t\d+ BAD ", done), f"XSETPIMAPPREF {name} {value}: {done!r}"
        for name, value in CANNOT_VALUES:
            _, done = w.cmd(f"XSETPIMAPPREF {name} {value}")
            assert re.match(rb"t\d+ NO \[CANNOT\]", done), f"XSETPIMAPPREF {name} {value}: {done!r}"
        _, done = w.cmd("XGETPIMAPPREF (PIMAP_NO_SUCH_PREF)")
        assert re.match(rb"t\d+ BAD ", done), done
        # Nothing of the refused values was stored.
        assert prefs_of(w.ok("XGETPIMAPPREF (PIMAP_OUTBAND_CHANNEL PIMAP_OUTBAND_ADDRESS)")) == \
            {"PIMAP_OUTBAND_CHANNEL": "SMS", "PIMAP_OUTBAND_ADDRESS": "NIL"}
        w.ok("LOGOUT")


XPROVISION = [
    b"* XPROVISION XPIMAPPREF PIMAP_OUTBAND_CHANNEL (SMS WAP_PUSH NONE)\r\n",
    b"* XPROVISION XPIMAPPREF PIMAP_OUTBAND_ADDRESS (E164)\r\n",
    b"* XPROVISION XPIMAPPREF PIMAP_OUTBAND_FORMAT (EMN EXTENDED)\r\n",
    b"* XPROVISION XPIMAPPREF PIMAP_INBAND_NEW_FORMAT (NONE FETCH-ATT-LIST)\r\n",
    b"* XPROVISION XPIMAPPREF PIMAP_INBAND_PUSH (ON OFF)\r\n",
    b"* XPROVISION XPIMAPPREF PIMAP_EVENT_FILTER (ALL NEW NONE)\r\n",
    b"* XPROVISION XFILTER ()\r\n",       # XFILTER not served yet (docs/protocol.md)
    b"* XPROVISION MACROS ()\r\n",
]


def test_xprovision_lists_what_the_server_accepts(stack):
    with tls_wire(stack) as w:
        first_login(stack, w, U3, device(11))
        lines = w.ok("XPROVISION")
        assert lines == XPROVISION, lines
        assert not any(b"ENCRYPT" in ln.upper() for ln in lines)
        w.ok("LOGOUT")


def test_p_imap_commands_before_login_are_refused(stack):
    with tls_wire(stack) as w:
        for cmd in ("XGETPIMAPPREF (PIMAP_INBAND_PUSH)", "XSETPIMAPPREF PIMAP_INBAND_PUSH ON", "XPROVISION"):
            _, done = w.cmd(cmd)
            assert re.match(rb"t\d+ BAD ", done), f"{cmd} before login: {done!r}"
        w.ok("NOOP")


def test_session_survives_server_side_connection_end_on_the_same_edge(stack):
    """The session lives in the session service: a reconnect to the SAME edge resumes as well."""
    dev = device(12)
    w = tls_wire(stack)
    sid = first_login(stack, w, U1, dev)
    w.ok("SELECT INBOX")
    _drop(w)
    with tls_wire(stack) as w2:
        lines, done = login(w2, U1, dev, stack)
        assert session_lines(lines) == [b"* SESSION SELECTED\r\n", b"* FOLDER INBOX\r\n",
                                        f"* SESSIONID {sid}\r\n".encode()], lines
        w2.ok("LOGOUT")
