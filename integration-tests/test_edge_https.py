"""The HTTPS binding of the edge (profile §10; docs/https-binding.md), driven by curl.

Every mode against the real stack: in-response batches with LOGIN and the PIMAPSESSION cookie, the
long-lived IDLE response (an event delivered through Postfix ends it; the heartbeat ends it
otherwise), persistent chunked mode (curl streaming stdin both ways), gzip/deflate, malformed HTTP
(each answered with its status while another client is served), one P-IMAP session moving from
the TCP binding to HTTPS, and a cookie alone resuming the session on a second edge process.

The stack's edge runs the binding with a 12 s heartbeat and a 3 s request timeout
(scripts/stack_lib/pimap_services.py). Users user21..user24 only; device ids carry a per-run suffix.
"""

from __future__ import annotations

import base64
import re
import secrets
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import zlib
from pathlib import Path

import pytest

import edge_harness as h
from edge_wire import EdgeProcess, Wire, stack_edge
from pimap_stack import host_port

RUN = secrets.token_hex(3)
TYPE = "application/vnd.pimap"


@pytest.fixture(autouse=True)
def edge_up(stack):
    h.require_edge(stack)
    if "session" not in stack.get("pimap_services", []):
        pytest.skip("the stack did not start pimap-session")


def https_addr(stack) -> tuple[str, int]:
    return host_port(stack["edge"]["https"])


def url(stack) -> str:
    return f"https://localhost:{https_addr(stack)[1]}/pimap"


class Reply:
    def __init__(self, raw_headers: bytes, body: bytes):
        blocks = [b for b in raw_headers.split(b"\r\n\r\n") if b.strip()]
        last = blocks[-1].split(b"\r\n")  # after any interim 100 Continue
        self.interim = [int(b.split(b" ")[1]) for b in blocks[:-1]]
        self.status = int(last[0].split(b" ")[1])
        self.headers: dict[str, list[str]] = {}
        for ln in last[1:]:
            k, _, v = ln.decode().partition(":")
            self.headers.setdefault(k.strip().lower(), []).append(v.strip())
        self.body = body

    def header(self, name: str) -> str | None:
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def lines(self) -> list[bytes]:
        return [ln + b"\r\n" for ln in self.body.split(b"\r\n") if ln]


def curl(stack, tmp_path: Path, body: bytes | None = None, *args: str, jar: Path | None = None,
         method: str = "POST", ctype: str = TYPE, timeout: float = 60,
         addr: tuple[str, int] | None = None) -> Reply:
    host, port = addr or https_addr(stack)
    hdr = tmp_path / f"h-{secrets.token_hex(4)}"
    argv = ["curl", "-sS", "--http1.1", "--cacert", stack["ca_cert"], "--resolve", f"localhost:{port}:{host}",
            "-X", method, "-D", str(hdr), "-o", "-", "--max-time", str(timeout)]
    if ctype:
        argv += ["-H", f"Content-Type: {ctype}"]
    if jar is not None:
        argv += ["-b", str(jar), "-c", str(jar)]
    if body is not None:
        src = tmp_path / f"b-{secrets.token_hex(4)}"
        src.write_bytes(body)
        argv += ["--data-binary", f"@{src}"]
    argv += [*args, f"https://localhost:{port}/pimap"]
    p = subprocess.run(argv, capture_output=True, timeout=timeout + 10)
    assert p.returncode == 0, (p.returncode, p.stderr)
    return Reply(hdr.read_bytes(), p.stdout)


def login_line(stack, user: str, device: str, tag: str = "a1") -> bytes:
    return f'{tag} LOGIN "{user}#P{device}-{RUN}" "{h.user(stack, user)["password"]}"\r\n'.encode()


def send_mail(stack, user: str, subject: str) -> None:
    host, port = host_port(stack["smtp"])
    rcpt = h.user(stack, user)["email"]
    msg = (f"From: sender@example.org\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{subject}@example.org>\r\n\r\nhttps push test\r\n").encode()
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        assert smtp.sendmail("sender@example.org", [rcpt], msg) == {}


def capability_ok(stack, tmp_path) -> None:
    """Another client, served while something else is going on."""
    r = curl(stack, tmp_path, b"z1 CAPABILITY\r\n", timeout=10)
    assert r.status == 200 and b"z1 OK" in r.body, r.body


# --- in-response mode -------------------------------------------------------------------------

def test_batch_login_sets_cookie_and_later_batches_resume_without_login(stack, tmp_path):
    jar = tmp_path / "jar"
    r = curl(stack, tmp_path, login_line(stack, "user21", "batch") + b"a2 SELECT INBOX\r\na3 NOOP\r\n", jar=jar)
    assert r.status == 200, r.body
    assert r.header("content-type").startswith("text/plain")
    lines = r.lines()
    sid = [ln for ln in lines if ln.startswith(b"* SESSIONID ")]
    assert len(sid) == 1, lines
    session_id = sid[0].split()[2].decode()
    cookie = r.header("set-cookie")
    assert cookie == f"PIMAPSESSION={session_id}; Secure; HttpOnly; SameSite=Strict; Path=/pimap"
    tagged = [ln.split(b" ")[0] for ln in lines if not ln.startswith(b"*")]
    assert tagged == [b"a1", b"a2", b"a3"], lines
    assert all(b" OK " in ln for ln in lines if not ln.startswith(b"*")), lines
    assert not any(ln.startswith(b"+") for ln in lines)

    # Same session, no LOGIN: the IMAP state (SELECTED INBOX) lived on between requests.
    r = curl(stack, tmp_path, b"b1 CAPABILITY\r\nb2 UID FETCH 1:* (FLAGS)\r\n", jar=jar)
    assert r.status == 200, r.body
    assert b"XPIMAPPREF" in r.body  # post-login capabilities
    assert b"COMPRESS=" not in r.body  # HTTP codings instead (docs/https-binding.md)
    assert re.search(rb"(^|\r\n)b2 OK", r.body), r.body  # FETCH needs SELECTED: the state lived on
    assert r.header("set-cookie") is None

    r = curl(stack, tmp_path, b"c1 LOGOUT\r\n", jar=jar)
    assert r.status == 200 and b"* BYE" in r.body and b"c1 OK" in r.body, r.body
    assert "Max-Age=0" in (r.header("set-cookie") or "")

    # The session is gone: its cookie is refused.
    r = curl(stack, tmp_path, b"d1 NOOP\r\n", "-H", f"Cookie: PIMAPSESSION={session_id}")
    assert r.status == 401, (r.status, r.body)


def test_unknown_cookie_is_401(stack, tmp_path):
    r = curl(stack, tmp_path, b"a1 NOOP\r\n", "-H", "Cookie: PIMAPSESSION=AAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert r.status == 401


def test_continuation_ends_the_response_and_next_post_carries_the_data(stack, tmp_path):
    jar = tmp_path / "jar"
    r = curl(stack, tmp_path, login_line(stack, "user21", "cont"), jar=jar)
    assert r.status == 200 and b"a1 OK" in r.body, r.body
    # The body stops after a synchronising literal's announcement: the response ends with the "+".
    r = curl(stack, tmp_path, b"b1 NOOP\r\nb2 SELECT {5}\r\n", jar=jar)
    assert r.status == 200, r.body
    lines = r.lines()
    assert lines[0].startswith(b"b1 OK") and lines[-1].startswith(b"+ "), lines
    # The next POST carries the literal and the rest of the command line.
    r = curl(stack, tmp_path, b"INBOX\r\nb3 NOOP\r\n", jar=jar)
    assert r.status == 200, r.body
    tagged = [ln for ln in r.lines() if not ln.startswith(b"*")]
    assert [t.split(b" ")[:2] for t in tagged] == [[b"b2", b"OK"], [b"b3", b"OK"]], r.body
    r = curl(stack, tmp_path, b"c1 LOGOUT\r\n", jar=jar)
    assert b"c1 OK" in r.body


# --- long-lived response -----------------------------------------------------------------------

def test_long_lived_idle_returns_an_event_and_done_completion(stack, tmp_path):
    jar = tmp_path / "jar"
    r = curl(stack, tmp_path, login_line(stack, "user22", "idle") + b"a2 SELECT INBOX\r\n", jar=jar)
    assert r.status == 200 and b"a2 OK" in r.body, r.body
    result: dict = {}

    def poll():
        result["reply"] = curl(stack, tmp_path, b"b1 IDLE\r\n", jar=jar, timeout=60)

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(1.0)
    capability_ok(stack, tmp_path)  # the long poll does not hold up anyone else
    send_mail(stack, "user22", f"https-idle-{RUN}")
    t.join(70)
    reply: Reply = result["reply"]
    assert reply.status == 200, reply.body
    lines = reply.lines()
    assert any(re.match(rb"^\* \d+ EXISTS\r\n$", ln) for ln in lines), lines
    assert lines[-1].startswith(b"b1 OK"), lines
    assert not any(ln.startswith(b"+") for ln in lines), lines


def test_long_lived_idle_without_events_ends_with_heartbeat(stack, tmp_path):
    jar = tmp_path / "jar"
    r = curl(stack, tmp_path, login_line(stack, "user23", "beat"), jar=jar)
    assert r.status == 200 and b"a1 OK" in r.body, r.body
    r = curl(stack, tmp_path, b"b1 IDLE\r\n", jar=jar, timeout=60)
    assert r.status == 200
    assert r.lines() == [b"* OK still here\r\n", b"b1 OK IDLE terminated\r\n"], r.body


def test_a_newer_request_ends_a_pending_long_poll_and_abandoned_output_comes_first(stack, tmp_path):
    jar = tmp_path / "jar"
    r = curl(stack, tmp_path, login_line(stack, "user23", "turns"), jar=jar)
    assert r.status == 200 and b"a1 OK" in r.body, r.body
    result: dict = {}

    def poll():
        result["reply"] = curl(stack, tmp_path, b"b1 IDLE\r\n", jar=jar, timeout=60)

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(1.0)
    r = curl(stack, tmp_path, b"c1 NOOP\r\n", jar=jar)  # takes its turn: the IDLE is ended for it
    t.join(30)
    assert result["reply"].lines() == [b"b1 OK IDLE terminated\r\n"], result["reply"].body
    assert r.status == 200 and r.lines() == [b"c1 OK NOOP completed\r\n"], r.body

    # A long poll whose client hangs up: DONE is sent for it, and its completion leads the next response.
    sid = re.search(r"PIMAPSESSION\s+(\S+)", jar.read_text()).group(1)
    s = tls_socket(stack)
    body = b"d1 IDLE\r\n"
    s.sendall(b"POST /pimap HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/vnd.pimap\r\n"
              b"Cookie: PIMAPSESSION=" + sid.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(1.0)
    s.close()
    time.sleep(0.5)
    r = curl(stack, tmp_path, b"e1 NOOP\r\n", jar=jar)
    assert r.status == 200
    assert r.lines() == [b"d1 OK IDLE terminated\r\n", b"e1 OK NOOP completed\r\n"], r.body
    curl(stack, tmp_path, b"f1 LOGOUT\r\n", jar=jar)


# --- persistent chunked mode -------------------------------------------------------------------

def curl_stream(stack, tmp_path: Path, body: bytes, *extra: str, addr: tuple[str, int] | None = None) -> Reply:
    """curl uploading stdin as a chunked request (-T -). curl reads its stdin in blocks, so it cannot
    hold a conversation; the interactive test below uses a raw TLS client."""
    host, port = addr or https_addr(stack)
    hdr = tmp_path / f"h-{secrets.token_hex(4)}"
    argv = ["curl", "-sS", "-N", "--http1.1", "--cacert", stack["ca_cert"], "--resolve", f"localhost:{port}:{host}",
            "-X", "POST", "-T", "-", "-H", f"Content-Type: {TYPE}", "-H", "Transfer-Encoding: chunked",
            "-H", "Expect:", "-D", str(hdr), "--max-time", "60", *extra, f"https://localhost:{port}/pimap"]
    p = subprocess.run(argv, input=body, capture_output=True, timeout=70)
    assert p.returncode == 0, (p.returncode, p.stderr)
    return Reply(hdr.read_bytes(), p.stdout)


def test_chunked_mode_with_curl_from_a_pipe(stack, tmp_path):
    body = login_line(stack, "user24", "pipe") + b"a2 SELECT INBOX\r\na3 NOOP\r\n"
    r = curl_stream(stack, tmp_path, body)
    assert r.status == 200 and r.header("transfer-encoding") == "chunked", r.headers
    lines = r.lines()
    assert any(ln.startswith(b"* SESSIONID ") for ln in lines), lines
    assert [ln.split(b" ")[0] for ln in lines if not ln.startswith(b"*")] == [b"a1", b"a2", b"a3"], lines
    # The session lives on after the stream: LOGOUT it.
    sid = next(ln for ln in lines if ln.startswith(b"* SESSIONID ")).split()[2].decode()
    r = curl(stack, tmp_path, b"b1 LOGOUT\r\n", "-H", f"Cookie: PIMAPSESSION={sid}")
    assert b"b1 OK" in r.body, r.body


def test_chunked_mode_gzip_with_curl(stack, tmp_path):
    r = curl_stream(stack, tmp_path, b"a1 CAPABILITY\r\na2 NOOP\r\n", "--compressed")
    assert r.status == 200 and r.header("content-encoding") == "gzip", r.headers
    assert r.lines()[-2:] == [b"a1 OK CAPABILITY completed\r\n", b"a2 OK NOOP completed\r\n"], r.body


class ChunkedClient:
    """A raw HTTP/1.1 client holding one chunked request open: one chunk per command, responses read
    chunk by chunk as the edge sends them."""

    def __init__(self, stack, coding: str | None = None):
        self.s = tls_socket(stack)
        head = (b"POST /pimap HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/vnd.pimap\r\n"
                b"Transfer-Encoding: chunked\r\n")
        if coding:
            head += f"Accept-Encoding: {coding}\r\n".encode()
        self.s.sendall(head + b"\r\n")
        self.buf = b""
        self.head: bytes | None = None
        self.inflater = zlib.decompressobj(wbits=47) if coding else None
        self.ended = False

    def send(self, data: bytes) -> None:
        self.s.sendall(b"%x\r\n" % len(data) + data + b"\r\n")

    def _fill(self, deadline: float) -> None:
        self.s.settimeout(max(0.01, deadline - time.monotonic()))
        b = self.s.recv(65536)
        assert b, f"connection closed; have {self.buf!r}"
        self.buf += b

    def chunk(self, seconds: float = 30) -> bytes:
        deadline = time.monotonic() + seconds
        while self.head is None:
            if b"\r\n\r\n" in self.buf:
                self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
                break
            self._fill(deadline)
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        size_line, rest = self.buf.split(b"\r\n", 1)
        n = int(size_line, 16)
        while len(rest) < n + 2:
            self._fill(deadline)
            size_line, rest = self.buf.split(b"\r\n", 1)
        data, self.buf = rest[:n], rest[n + 2:]
        self.ended = n == 0
        if self.inflater and data:
            data = self.inflater.decompress(data)
        return data

    def until(self, pattern: bytes, seconds: float = 30) -> list[bytes]:
        got = []
        deadline = time.monotonic() + seconds
        while True:
            c = self.chunk(max(0.1, deadline - time.monotonic()))
            got.append(c)
            if pattern in c:
                return got


def test_chunked_mode_runs_commands_interactively_with_idle(stack, tmp_path):
    c = ChunkedClient(stack, coding="gzip")
    c.send(login_line(stack, "user24", "chunk"))
    got = c.until(b"a1 OK")
    assert c.head.startswith(b"HTTP/1.1 200 ") and b"Content-Encoding: gzip" in c.head, c.head
    assert any(g.startswith(b"* SESSIONID ") for g in got), got
    # One response per chunk, each decodable on its own (sync-flushed).
    assert all(g.endswith(b"\r\n") and g.count(b"\r\n") == 1 for g in got), got
    c.send(b"a2 SELECT INBOX\r\n")
    c.until(b"a2 OK")
    c.send(b"a3 IDLE\r\n")
    assert c.chunk() == b"+ idling\r\n"
    capability_ok(stack, tmp_path)
    send_mail(stack, "user24", f"https-chunk-{RUN}")
    got = c.until(b" EXISTS\r\n", 30)
    assert re.match(rb"^\* \d+ EXISTS\r\n$", got[-1]), got
    c.send(b"DONE\r\n")
    c.until(b"a3 OK IDLE terminated\r\n")
    c.send(b"a4 LOGOUT\r\n")
    c.until(b"a4 OK")
    rest = []
    while not c.ended:  # the gzip trailer, then the terminating zero-size chunk
        rest.append(c.chunk())
    assert b"".join(rest) == b"", rest
    c.s.close()


# --- content codings ---------------------------------------------------------------------------

def test_gzip_response_and_gzip_request(stack, tmp_path):
    r = curl(stack, tmp_path, b"a1 CAPABILITY\r\n", "--compressed")
    assert r.status == 200 and r.header("content-encoding") == "gzip"
    assert b"a1 OK CAPABILITY completed" in r.body  # decoded by curl
    gz = zlib.compressobj(wbits=31)
    body = gz.compress(b"a1 NOOP\r\na2 CAPABILITY\r\n") + gz.flush()
    r = curl(stack, tmp_path, body, "-H", "Content-Encoding: gzip")
    assert r.status == 200 and b"a1 OK" in r.body and b"a2 OK" in r.body, r.body


def test_deflate_response(stack, tmp_path):
    r = curl(stack, tmp_path, b"a1 CAPABILITY\r\n", "-H", "Accept-Encoding: deflate")
    assert r.status == 200 and r.header("content-encoding") == "deflate"
    assert b"a1 OK CAPABILITY completed" in zlib.decompress(r.body)


# --- malformed HTTP ----------------------------------------------------------------------------

def test_get_is_405(stack, tmp_path):
    r = curl(stack, tmp_path, None, method="GET", ctype="")
    assert r.status == 405 and r.header("allow") == "POST"
    capability_ok(stack, tmp_path)


def test_wrong_content_type_is_415(stack, tmp_path):
    r = curl(stack, tmp_path, b"a1 NOOP\r\n", ctype="text/plain")
    assert r.status == 415
    r = curl(stack, tmp_path, b"a1 NOOP\r\n", "-H", "Content-Encoding: br")
    assert r.status == 415
    capability_ok(stack, tmp_path)


def test_oversized_batches_are_413_never_100_final(stack, tmp_path):
    big = b"a1 NOOP\r\n" + b"x" * (1024 * 1024)
    r = curl(stack, tmp_path, big, "-H", "Expect: 100-continue")
    assert r.status == 413 and 100 not in [r.status]
    many = b"".join(f"t{i} NOOP\r\n".encode() for i in range(101))
    r = curl(stack, tmp_path, many)
    assert r.status == 413
    r = curl(stack, tmp_path, b"".join(f"t{i} NOOP\r\n".encode() for i in range(100)))
    assert r.status == 200 and b"t99 OK" in r.body
    capability_ok(stack, tmp_path)


def test_unparseable_batches_are_400(stack, tmp_path):
    assert curl(stack, tmp_path, b"a1 NOOP").status == 400  # no CRLF
    assert curl(stack, tmp_path, b"a1 SELECT\r\n").status == 400  # grammar error
    assert curl(stack, tmp_path, b"a1 IDLE\r\na2 NOOP\r\n").status == 400  # after a continuation
    capability_ok(stack, tmp_path)


def tls_socket(stack) -> ssl.SSLSocket:
    host, port = https_addr(stack)
    raw = socket.create_connection((host, port), timeout=15)
    return h.tls_context(stack).wrap_socket(raw, server_hostname="localhost")


def read_all(s: ssl.SSLSocket) -> bytes:
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not b:
            break
        out += b
    return out


def test_broken_chunking_is_400(stack, tmp_path):
    s = tls_socket(stack)
    s.sendall(b"POST /pimap HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/vnd.pimap\r\n"
              b"Transfer-Encoding: chunked\r\n\r\nzz\r\na1 NOOP\r\n\r\n")
    got = read_all(s)
    assert got.startswith(b"HTTP/1.1 400 "), got
    assert b"a1 OK" not in got
    s.close()
    capability_ok(stack, tmp_path)


def test_headers_one_byte_a_second_are_cut_off(stack, tmp_path):
    s = tls_socket(stack)
    head = b"POST /pimap HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/vnd.pimap\r\n"
    cut = False
    got = b""
    served_meanwhile = False
    for i, byte in enumerate(head):
        try:
            s.sendall(bytes([byte]))
        except OSError:
            cut = True
            break
        if i == 1:
            capability_ok(stack, tmp_path)
            served_meanwhile = True
        s.settimeout(1.0)
        try:
            b = s.recv(4096)
            got += b
            if not b:
                cut = True
                break
        except (socket.timeout, TimeoutError):
            pass
        except (ConnectionResetError, ssl.SSLError):
            cut = True
            break
    assert served_meanwhile
    assert cut or got, "the slow request was never cut off"
    assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got
    assert i < len(head) - 1, "the whole head went through at one byte a second"
    s.close()


# --- TCP -> HTTPS ------------------------------------------------------------------------------

def test_session_moves_from_tcp_to_https_by_login(stack, tmp_path):
    name = f"user21#Pmove-{RUN}"
    w = Wire(stack_edge(stack, "imaps"), tls=h.tls_context(stack), timeout=15)
    untagged, done = w.cmd(f'LOGIN "{name}" "{h.user(stack, "user21")["password"]}"')
    assert done.startswith(b"t1 OK"), (untagged, done)
    w.ok("SELECT INBOX")
    w.sock.close()  # no LOGOUT: the session lives on in the session service
    time.sleep(0.5)

    jar = tmp_path / "jar"
    body = f'a1 LOGIN "{name}" "{h.user(stack, "user21")["password"]}"\r\na2 NOOP\r\n'.encode()
    r = curl(stack, tmp_path, body, jar=jar)
    assert r.status == 200, r.body
    lines = r.lines()
    assert lines[0] == b"* SESSION SELECTED\r\n", lines
    assert lines[1] == b'* FOLDER "INBOX"\r\n' or lines[1] == b"* FOLDER INBOX\r\n", lines
    assert any(ln.startswith(b"* SESSIONID ") for ln in lines)
    assert r.header("set-cookie") is not None
    # And the HTTPS session is SELECTED without a SELECT of its own.
    r = curl(stack, tmp_path, b"b1 UID FETCH 1:* (FLAGS)\r\nb2 LOGOUT\r\n", jar=jar)
    assert re.search(rb"(^|\r\n)b1 OK", r.body), r.body
    assert b"b2 OK" in r.body


# --- cookie-only resume on another edge ---------------------------------------------------------

@pytest.fixture(scope="module")
def second_edge(stack):
    edge = EdgeProcess(stack, Path(stack["logs"]) if Path(stack["logs"]).is_dir() else Path("/tmp"))
    yield edge
    alive = edge.alive()
    edge.stop()
    assert alive, f"the second pimap-edge died during the tests:\n{edge.tail()}"


def test_cookie_alone_resumes_the_session_on_another_edge(stack, tmp_path, second_edge):
    jar = tmp_path / "jar"
    r = curl(stack, tmp_path, login_line(stack, "user22", "hop") + b"a2 SELECT INBOX\r\n", jar=jar)
    assert r.status == 200 and b"a2 OK" in r.body, r.body
    session_id = [ln for ln in r.lines() if ln.startswith(b"* SESSIONID ")][0].split()[2].decode()

    # The second edge never saw this session: the cookie is all it gets, no LOGIN in the batch.
    other = ("127.0.0.1", second_edge.https_port)
    r = curl(stack, tmp_path, b"b1 UID FETCH 1:* (FLAGS)\r\nb2 NOOP\r\n", jar=jar, addr=other)
    assert r.status == 200, (r.status, r.body, second_edge.tail())
    lines = r.lines()
    assert lines[0] == b"* SESSION SELECTED\r\n", lines
    assert lines[1] in (b'* FOLDER "INBOX"\r\n', b"* FOLDER INBOX\r\n"), lines
    assert f"* SESSIONID {session_id}\r\n".encode() in lines, lines
    # SELECTED without a SELECT of its own: the store session was opened for the cookie's user.
    assert re.search(rb"(^|\r\n)b1 OK", r.body), r.body
    assert re.search(rb"(^|\r\n)b2 OK", r.body), r.body
    assert not any(b"LOGIN" in ln for ln in lines), lines

    # It is now held there: the next request goes on without another resume.
    r = curl(stack, tmp_path, b"c1 NOOP\r\nc2 LOGOUT\r\n", jar=jar, addr=other)
    assert r.status == 200 and b"c1 OK" in r.body and b"c2 OK" in r.body, r.body
    assert b"* SESSION " not in r.body, r.body

    # LOGOUT ended the session everywhere: neither edge accepts the cookie now.
    for addr in (other, https_addr(stack)):
        r = curl(stack, tmp_path, b"d1 NOOP\r\n", "-H", f"Cookie: PIMAPSESSION={session_id}", addr=addr)
        assert r.status == 401, (addr, r.status, r.body)


def test_a_stream_with_a_cookie_held_elsewhere_resumes_the_session(stack, tmp_path, second_edge):
    jar = tmp_path / "jar"
    r = curl(stack, tmp_path, login_line(stack, "user22", "hopstream") + b"a2 SELECT INBOX\r\n", jar=jar)
    assert r.status == 200 and b"a2 OK" in r.body, r.body
    session_id = [ln for ln in r.lines() if ln.startswith(b"* SESSIONID ")][0].split()[2].decode()
    cookie = f"Cookie: PIMAPSESSION={session_id}"

    # Back on the first edge after a pause (the session was parked there): a stream goes on quietly,
    # as an in-memory session would, without the resume's SESSION / SESSIONID lines.
    time.sleep(1.0)
    r = curl_stream(stack, tmp_path, b"s1 NOOP\r\n", "-H", cookie)
    assert r.status == 200 and r.header("transfer-encoding") == "chunked", (r.status, r.body)
    assert len(r.lines()) == 1 and r.lines()[0].startswith(b"s1 OK NOOP"), r.body

    # A persistent chunked stream to an edge that does not hold the session resumes it from the cookie,
    # as an in-response batch does: the resume's lines come first, then the stream's own responses.
    other = ("127.0.0.1", second_edge.https_port)
    r = curl_stream(stack, tmp_path, b"b1 NOOP\r\nb2 LOGOUT\r\n", "-H", cookie, addr=other)
    assert r.status == 200 and r.header("transfer-encoding") == "chunked", (r.status, r.body, second_edge.tail())
    lines = r.lines()
    assert lines[0] == b"* SESSION SELECTED\r\n", lines
    assert f"* SESSIONID {session_id}\r\n".encode() in lines, lines
    assert [ln.split(b" ")[0] for ln in lines if not ln.startswith(b"*")] == [b"b1", b"b2"], lines

    # LOGOUT ended it: a stream with the cookie is 401 on either edge.
    for addr in (other, https_addr(stack)):
        r = curl(stack, tmp_path, b"d1 NOOP\r\n", "-H", cookie, addr=addr)
        assert r.status == 401, (addr, r.status, r.body)


def test_made_up_cookie_is_401_on_another_edge(stack, tmp_path, second_edge):
    other = ("127.0.0.1", second_edge.https_port)
    made_up = secrets.token_bytes(16)
    cookie = base64.b32encode(made_up).decode().rstrip("=")
    assert len(cookie) == 26
    r = curl(stack, tmp_path, b"a1 NOOP\r\n", "-H", f"Cookie: PIMAPSESSION={cookie}", addr=other)
    assert r.status == 401, (r.status, r.body)
    assert b"a1" not in r.body
