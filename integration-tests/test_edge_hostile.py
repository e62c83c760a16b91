"""Hostile input through pimap-edge (profile §14, docs/protocol.md): each bad input gets the right
response class, and the connection — or, where the profile says the connection ends, the server — lives on.

Table-driven cases send one hostile payload on a fresh connection, followed by `zz NOOP`; the bytes
received up to `zz OK` must match the case's pattern exactly (so nothing extra, nothing missing, and the
connection still works). Pre-login cases run on both listeners (implicit TLS and the plain port before
STARTTLS); post-login cases run logged in with INBOX selected. The special cases (STARTTLS injection,
login throttling, stalled literals, a client that never reads, 1000 pipelined commands, ...) follow.

Users user43..user45 (edge_harness.HOSTILE_USERS). Failed logins come from random 127.x.y.z source
addresses so the per-address throttle of other tests' address (127.0.0.1) is left alone.
"""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import time
import zlib
from pathlib import Path

import pytest

import edge_harness as h
from edge_wire import Closed, EdgeProcess, Wire, random_loopback, stack_edge

U1, U2, U3 = h.HOSTILE_USERS
BAD = rb"a BAD [^\r\n]*\r\n"
UNTAGGED_BAD = rb"\* BAD [^\r\n]*\r\n"


@pytest.fixture(autouse=True)
def edge_up(stack):
    h.require_edge(stack)
    yield
    # Whatever a case did, the server still serves a new connection.
    assert_server_serves(stack)


def assert_server_serves(stack) -> None:
    with Wire(stack_edge(stack, "imaps"), tls=h.tls_context(stack), timeout=10) as w:
        assert w.greeting.startswith(b"* OK"), w.greeting
        w.ok("NOOP")


def connect(stack, port: str, source: str | None = None) -> Wire:
    if port == "imaps":
        return Wire(stack_edge(stack, "imaps"), tls=h.tls_context(stack), source=source)
    return Wire(stack_edge(stack, "imap"), source=source)


def logged_in(stack, username=U1, select=True) -> Wire:
    w = connect(stack, "imaps")
    w.ok(f"LOGIN {username} {h.user(stack, username)['password']}")
    if select:
        w.ok("SELECT INBOX")
    return w


def exchange(w: Wire, payload: bytes, timeout: float = 15) -> bytes:
    """Send payload + `zz NOOP`; everything received before `zz OK ...`."""
    w.send(payload + b"zz NOOP\r\n")
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ln = w.line(max(0.1, deadline - time.monotonic()))
        except Closed:
            raise AssertionError(f"connection closed after {payload[:80]!r}; received {got!r}")
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"no answer to the NOOP after {payload[:80]!r}; received {got!r}")
        if ln.startswith(b"zz "):
            assert ln.startswith(b"zz OK"), f"NOOP after {payload[:80]!r}: {ln!r}"
            return got
        got += ln


# ---------------------------------------------------------------------------------------------------------
# Pre-login, both listeners. Expected: a regex for all bytes received before the NOOP's OK; a dict gives
# the expectation per listener where they differ.

PRELOGIN = [
    ("huge-sync-literal", b"a LOGIN {999999999999}\r\n", rb"a NO \[TOOBIG\] [^\r\n]*\r\n"),  # and no "+"
    ("sync-literal-over-limit", b"a LOGIN {52428801}\r\n", rb"a NO \[TOOBIG\] [^\r\n]*\r\n"),
    ("line-over-64k", b"a NOOP " + b"x" * 70000 + b"\r\n", BAD),
    ("line-over-64k-in-literal-cmd", b"a ID (" + b'"k" ' * 20000 + b")\r\n", BAD),
    ("unbalanced-open-paren", b'a ID ("name" "x"\r\n', BAD),
    ("unbalanced-close-paren", b'a ID ("name" "x"))\r\n', BAD),
    ("close-paren-first", b"a ID )(\r\n", BAD),
    ("nul-in-command", b"a NOOP\x00\r\n", BAD),
    ("nul-in-string", b'a ID ("na\x00me" "x")\r\n', BAD),
    ("nul-only-line", b"\x00\x00\x00\r\n", UNTAGGED_BAD),
    ("tagless-line", b" NOOP\r\n", UNTAGGED_BAD),
    ("plus-as-tag", b"+ NOOP\r\n", UNTAGGED_BAD),
    ("brace-in-tag", b"a{b NOOP\r\n", UNTAGGED_BAD),
    ("empty-line", b"\r\n", rb"(\* BAD [^\r\n]*\r\n)?"),  # ignoring it is as good as * BAD (Dovecot's answer)
    ("8bit-garbage", bytes(range(128, 256)) + b"\r\n", UNTAGGED_BAD),
    ("8bit-command-name", b"a N\xc3\xb6\xc3\xb6P\r\n", BAD),
    ("unknown-command", b"a FROBNICATE\r\n", BAD),
    ("select-before-login", b"a SELECT INBOX\r\n", BAD),
    ("fetch-before-login", b"a FETCH 1 FLAGS\r\n", BAD),
    ("idle-before-login", b"a IDLE\r\n", BAD),
    ("compress-before-login", b"a COMPRESS DEFLATE\r\n", BAD),
    ("xzip-before-login", b"a XZIP b NOOP\r\n", BAD),
    ("xgetpimappref-before-login", b"a XGETPIMAPPREF (PIMAP_INBAND_PUSH)\r\n", BAD),
    ("bare-done", b"DONE\r\n", UNTAGGED_BAD),
    ("pipelined-garbage", b"\x01\x02garbage\r\nfoo bar baz\r\n)))\r\n",
     UNTAGGED_BAD + rb"foo BAD [^\r\n]*\r\n" + UNTAGGED_BAD),
    ("literal-without-size", b"a LOGIN {abc}\r\n", BAD),
    ("literal-size-overflow", b"a LOGIN {99999999999999999999999999}\r\n", rb"a (BAD|NO \[TOOBIG\]) [^\r\n]*\r\n"),
    ("deep-nesting", b"a ID " + b"(" * 100 + b")" * 100 + b"\r\n", BAD),
    ("many-arguments", b"a ID (" + b'"k" "v" ' * 6000 + b")\r\n", BAD),
    ("authenticate-unknown-mechanism", b"a AUTHENTICATE X-NOSUCH\r\n", rb"a NO [^\r\n]*\r\n"),
    ("authenticate-bad-base64-ir", b"a AUTHENTICATE PLAIN ###\r\n",
     {"imaps": BAD, "imap": rb"a (BAD|NO \[PRIVACYREQUIRED\]) [^\r\n]*\r\n"}),
    ("authenticate-bad-base64-continuation", b"a AUTHENTICATE PLAIN\r\n!!not*base64!!\r\n",
     {"imaps": rb"\+ ?[^\r\n]*\r\n" + BAD, "imap": rb"a NO \[PRIVACYREQUIRED\] [^\r\n]*\r\n" + UNTAGGED_BAD}),
    ("authenticate-cancelled", b"a AUTHENTICATE PLAIN\r\n*\r\n",
     {"imaps": rb"\+ ?[^\r\n]*\r\n" + BAD, "imap": rb"a NO \[PRIVACYREQUIRED\] [^\r\n]*\r\n" + UNTAGGED_BAD}),
    ("sasl-authzid-mismatch", b"a AUTHENTICATE PLAIN " + base64.b64encode(b"other\0user43\0x") + b"\r\n",
     {"imaps": BAD, "imap": rb"a (BAD|NO \[PRIVACYREQUIRED\]) [^\r\n]*\r\n"}),
    ("login-missing-password", b"a LOGIN user43\r\n", BAD),
    ("login-before-starttls", b"a LOGIN user43 pass-user43\r\n",
     {"imap": rb"a NO \[PRIVACYREQUIRED\] [^\r\n]*\r\n"}),
    ("starttls-on-imaps-or-twice", b"a STARTTLS junk\r\n", BAD),
]


PRELOGIN_CASES = [(port, name, payload, exp[port] if isinstance(exp, dict) else exp)
                  for name, payload, exp in PRELOGIN for port in ("imaps", "imap")
                  if not isinstance(exp, dict) or port in exp]


@pytest.mark.parametrize("port,name,payload,expected", PRELOGIN_CASES,
                         ids=[f"{c[1]}-{c[0]}" for c in PRELOGIN_CASES])
def test_prelogin_hostile_input(stack, port, name, payload, expected):
    with connect(stack, port) as w:
        got = exchange(w, payload)
    assert re.fullmatch(expected, got, re.S), f"{name} on {port}: got {got[:300]!r}"
    assert not got.startswith(b"+") or name.startswith("authenticate"), f"{name}: continuation sent: {got[:200]!r}"


# ---------------------------------------------------------------------------------------------------------
# Logged in, INBOX selected (imaps)

POSTLOGIN = [
    ("seqset-zero", b"a FETCH 0 FLAGS\r\n", BAD),
    ("seqset-reversed-garbage", b"a FETCH 1:0x FLAGS\r\n", BAD),
    ("seqset-triple-range", b"a FETCH *:*:* FLAGS\r\n", BAD),
    ("seqset-negative", b"a UID FETCH -1 FLAGS\r\n", BAD),
    ("seqset-empty-element", b"a FETCH 1,,2 FLAGS\r\n", BAD),
    ("seqset-huge-number", b"a FETCH 99999999999999999999 FLAGS\r\n", BAD),
    ("deep-paren-nesting", b"a SEARCH " + b"(" * 100 + b"ALL" + b")" * 100 + b"\r\n", BAD),
    ("deep-not-chain", b"a SEARCH " + b"NOT " * 100 + b"ALL\r\n", BAD),
    ("many-arguments", b"a FETCH " + b",".join([b"1"] * 12000) + b" FLAGS\r\n", BAD),
    ("fetch-att-line-too-long", b"a FETCH 1 (" + b" ".join([b"FLAGS"] * 12000) + b")\r\n", BAD),
    ("bad-partial", b"a FETCH 1 BODY[]<0.-1>\r\n", BAD),
    ("unterminated-quote", b'a SELECT "INBOX\r\n', BAD),
    ("login-after-login", b"a LOGIN user43 pass-user43\r\n", BAD),
    ("authenticate-after-login", b"a AUTHENTICATE PLAIN\r\n", BAD),
    ("starttls-after-login", b"a STARTTLS\r\n", BAD),
    ("xzip-garbage", b"a XZIP ((garbage\r\n", BAD),
    ("xzip-empty", b"a XZIP\r\n", BAD),
    ("compress-bad-mechanism", b"a COMPRESS FOO\r\n", BAD),
    ("compress-no-mechanism", b"a COMPRESS\r\n", BAD),
    ("idle-then-garbage", b"a IDLE\r\nNOT-DONE\r\n", rb"\+ [^\r\n]*\r\n" + BAD),
    ("idle-lowercase-done", b"a IDLE\r\ndone\r\n", rb"\+ [^\r\n]*\r\na OK [^\r\n]*\r\n"),
    ("bare-done", b"DONE\r\n", UNTAGGED_BAD),
    ("huge-sync-append", b"a APPEND INBOX {60000000}\r\n", rb"a NO \[TOOBIG\] [^\r\n]*\r\n"),
    ("bogus-system-flag", b"a STORE 1 +FLAGS (\\Bogus)\r\n", rb"a (BAD|NO) [^\r\n]*\r\n"),
    ("unknown-command", b"a FROBNICATE\r\n", BAD),
    ("unknown-command-with-literal", b"a FROBNICATE {3+}\r\nabc\r\n", BAD),
    ("nul-in-mailbox-name", b"a SELECT \"IN\x00BOX\"\r\n", BAD),
    ("pimap-command-on-plain-login", b"a XSETPIMAPPREF PIMAP_INBAND_PUSH ON\r\n", rb"a NO \[CANNOT\] [^\r\n]*\r\n"),
]


@pytest.fixture(scope="module")
def one_message(stack):
    h.reset_mailbox(stack, U1)
    with h.push_intake_sink(stack):
        h.deliver(stack, U1, [h.message("x1")])


@pytest.mark.parametrize("name,payload,expected", POSTLOGIN, ids=[c[0] for c in POSTLOGIN])
def test_postlogin_hostile_input(stack, one_message, name, payload, expected):
    with logged_in(stack) as w:
        got = exchange(w, payload)
        assert re.fullmatch(expected, got, re.S), f"{name}: got {got[:300]!r}"
        # Still in the selected state, talking to the same mailbox.
        w.ok("CHECK")
        w.ok("LOGOUT")


def test_fetch_without_select_is_bad_and_the_connection_lives(stack):
    with logged_in(stack, select=False) as w:
        got = exchange(w, b"a FETCH 1 FLAGS\r\n")
        assert re.fullmatch(BAD, got), got
        got = exchange(w, b"a UID STORE 1 +FLAGS (\\Seen)\r\n")
        assert re.fullmatch(BAD, got), got


def test_xzip_with_an_inner_unknown_command_returns_its_bad_compressed(stack):
    with logged_in(stack) as w:
        lines, done = w.cmd("XZIP b FROBNICATE")
        assert re.match(rb"t\d+ OK", done), done
        blocks = [ln for ln in lines if ln.startswith(b"* XZIP ~{")]
        assert blocks, lines
        inflater = zlib.decompressobj(-15)
        plain = b""
        for blk in blocks:
            n = int(re.match(rb"\* XZIP ~\{(\d+)\}\r\n", blk).group(1))
            start = blk.index(b"}\r\n") + 3
            plain += inflater.decompress(blk[start:start + n])
        assert re.fullmatch(rb"b BAD [^\r\n]*\r\n", plain), plain
        # Nested XZIP is refused inside the block, the outer command completes.
        lines, done = w.cmd("XZIP b XZIP c NOOP")
        assert re.match(rb"t\d+ OK", done), done
        w.ok("NOOP")


# ---------------------------------------------------------------------------------------------------------
# Special cases

def test_huge_synchronising_literal_gets_no_continuation(stack):
    with connect(stack, "imaps") as w:
        w.send(b"a LOGIN {999999999999}\r\n")
        first = w.line()
        assert re.fullmatch(rb"a NO \[TOOBIG\] [^\r\n]*\r\n", first), first
        assert w.buf == b""
        w.ok("NOOP")


def test_huge_non_synchronising_literal_is_refused_and_others_are_served(stack):
    with logged_in(stack) as w:
        w.send(b"a APPEND INBOX {999999999999+}\r\n")
        first = w.line()
        assert re.fullmatch(rb"a BAD \[TOOBIG\] [^\r\n]*\r\n", first), first
        # The connection may live on (discarding the announced bytes) or end; the server serves others.
        assert_server_serves(stack)


def test_starttls_with_pipelined_plaintext_closes_the_connection(stack):
    with connect(stack, "imap") as w:
        w.send(b"a STARTTLS\r\nb LOGIN user43 pass-user43\r\n")
        got = b""
        try:
            while True:
                got += w.line(5)
        except Closed:
            pass
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"connection still open after injected plaintext; got {got!r}")
        assert b"b " not in got, f"the injected command was answered: {got!r}"
        assert not re.search(rb"a OK", got), f"STARTTLS was accepted despite injected plaintext: {got!r}"
    assert_server_serves(stack)
    # A proper STARTTLS on the same listener still works.
    with connect(stack, "imap") as w:
        w.starttls(h.tls_context(stack))
        w.ok(f"LOGIN {U1} {h.user(stack, U1)['password']}")
        w.ok("LOGOUT")


def test_compress_with_pipelined_data_is_bad_and_closes(stack):
    with logged_in(stack, select=False) as w:
        w.send(b"a COMPRESS DEFLATE\r\nb NOOP\r\n")
        first = w.line()
        assert re.fullmatch(rb"a BAD [^\r\n]*\r\n", first), first
        assert w.closed_within(5), "the connection must close: bytes after COMPRESS cannot be told apart"


def test_wrong_password_is_answered_after_a_growing_delay(stack):
    # A user name and a source address of their own, so that no earlier failure (of this run or another)
    # counts: the edge's delay doubles per recent failure of the same user or address (docs/protocol.md).
    src, name = random_loopback(), f"nosuch-{random_loopback().replace('.', '')}"
    times = []
    try:
        for i in range(3):
            with connect(stack, "imaps", source=src) as w:
                t0 = time.monotonic()
                _, done = w.cmd(f"LOGIN {name} wrong-password-{i}", timeout=40)
                times.append(time.monotonic() - t0)
                assert re.fullmatch(rb"t\d+ NO \[AUTHENTICATIONFAILED\] [^\r\n]*\r\n", done), \
                    f"failure {i + 1} after {times[-1]:.2f} s: {done!r}"
                w.ok("NOOP")  # the connection lives on
    finally:
        # Dovecot's per-address auth penalty lands on the edge's address (127.0.0.1) for every user the
        # edge logs in; a successful login from that address clears it for the tests that follow.
        with h.direct(stack, U3) as conn:
            conn.logout()
    assert times[0] >= 0.2, f"the first failure was answered at once ({times[0]:.3f} s)"
    assert times[2] > times[0] + 0.4, f"no growing delay: {[round(t, 3) for t in times]}"


def test_literal_announced_then_stalled_does_not_block_others(stack):
    with connect(stack, "imaps") as stalled:
        stalled.send(b"a LOGIN {6}\r\n")
        assert stalled.line().startswith(b"+"), "no continuation for a literal within the limits"
        stalled.send(b"use")  # part of the literal, then nothing
        t0 = time.monotonic()
        with logged_in(stack, U2) as other:
            other.ok("NOOP")
            other.ok("UID SEARCH ALL")
        assert time.monotonic() - t0 < 5, "another client was slowed down by the stalled one"
        time.sleep(1)
        stalled.send(b"r43 " + h.user(stack, U1)["password"].encode() + b"\r\n")  # completes "user43"
        _, done = stalled.until_tagged("a")
        assert re.match(rb"a OK", done), done
        stalled.ok("LOGOUT")


def test_one_thousand_pipelined_noops_are_answered_in_order(stack):
    for port in ("imaps", "imap"):
        with connect(stack, port) as w:
            w.send(b"".join(b"n%d NOOP\r\n" % i for i in range(1000)))
            tags = []
            while len(tags) < 1000:
                ln = w.line(30)
                tags.append(ln.split(b" ")[0])
                assert ln.split(b" ")[1] == b"OK", ln
            assert tags == [b"n%d" % i for i in range(1000)], "answered out of order"
    with logged_in(stack) as w:  # selected: every NOOP goes to the store
        t0 = time.monotonic()
        w.send(b"".join(b"n%d NOOP\r\n" % i for i in range(1000)))
        tags = []
        while len(tags) < 1000:
            ln = w.line(60)
            if ln.startswith(b"* "):
                continue
            tags.append(ln.split(b" ")[0])
            assert ln.split(b" ")[1] == b"OK", ln
        assert tags == [b"n%d" % i for i in range(1000)], "answered out of order"
        assert time.monotonic() - t0 < 60


def test_logout_with_a_pipelined_command_ends_the_connection(stack):
    with logged_in(stack) as w:
        w.send(b"a LOGOUT\r\nb NOOP\r\n")
        got = b""
        try:
            while True:
                got += w.line(5)
        except Closed:
            pass
        assert re.fullmatch(rb"\* BYE [^\r\n]*\r\na OK [^\r\n]*\r\n", got), got


def edge_rss_kib(stack) -> int:
    """Resident memory of the process listening on edge.imaps."""
    port = stack_edge(stack, "imaps")[1]
    out = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    pid = int(re.search(r"pid=(\d+)", out).group(1))
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def test_a_client_that_never_reads_does_not_hurt_another(stack):
    """Slow consumer: 40 pipelined 1 MiB FETCHes, never read. The edge must keep what it holds for that
    client bounded (limits.max_output_bytes = 1 MiB; docs/protocol.md: past it the connection is dropped)
    and keep serving others."""
    h.reset_mailbox(stack, U2)
    with h.push_intake_sink(stack):
        h.deliver(stack, U2, [h.message("big", size=1 << 20)])
    rss_before = edge_rss_kib(stack)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(stack_edge(stack, "imaps"))
    sock = h.tls_context(stack).wrap_socket(raw, server_hostname="localhost")
    sock.settimeout(10)
    f = sock.makefile("rb")
    f.readline()
    sock.sendall(f"a LOGIN {U2} {h.user(stack, U2)['password']}\r\nb SELECT INBOX\r\n".encode())
    while not f.readline().startswith(b"b OK"):
        pass
    sock.sendall(b"".join(b"f%d FETCH 1 BODY.PEEK[]\r\n" % i for i in range(40)))
    try:
        latencies = []
        with logged_in(stack, U1) as other:  # meanwhile another client works normally
            for _ in range(20):
                t0 = time.monotonic()
                other.ok("UID SEARCH ALL")
                latencies.append(time.monotonic() - t0)
            time.sleep(2)  # give the edge time to pull whatever it is going to pull from the store
            other.ok("NOOP")
            grown = edge_rss_kib(stack) - rss_before
        assert max(latencies) < 2, f"another client waited {max(latencies):.2f} s"
        assert grown < 16 * 1024, \
            f"the edge grew by {grown / 1024:.1f} MiB holding output for a client that reads nothing " \
            f"(40 x 1 MiB FETCH pipelined; limits.max_output_bytes is 1 MiB)"
    finally:
        sock.close()


def test_idle_connections_are_logged_out_after_the_idle_timeout(stack):
    """A dedicated edge with a 2 s idle limit: `* BYE Autologout; idle for too long`, then the close."""
    edge = EdgeProcess(stack, Path(stack["logs"]) if Path(stack["logs"]).is_dir() else Path("/tmp"),
                       extra_args=("--limits.idle_timeout_seconds=2", "--limits.idle_command_timeout_seconds=3"))
    try:
        with Wire(edge.imaps, tls=h.tls_context(stack)) as w:
            t0 = time.monotonic()
            ln = w.line(10)
            assert re.fullmatch(rb"\* BYE [^\r\n]*\r\n", ln), ln
            assert 1.5 < time.monotonic() - t0 < 6
            assert w.closed_within(3)
        with Wire(edge.imaps, tls=h.tls_context(stack)) as w:  # IDLE has its own, longer limit
            w.ok(f"LOGIN {U1} {h.user(stack, U1)['password']}")
            w.send(b"i IDLE\r\n")
            assert w.line().startswith(b"+ ")
            t0 = time.monotonic()
            ln = w.line(10)
            assert re.fullmatch(rb"\* BYE [^\r\n]*\r\n", ln), ln
            assert 2.5 < time.monotonic() - t0 < 7
        assert edge.alive()
    finally:
        edge.stop()
