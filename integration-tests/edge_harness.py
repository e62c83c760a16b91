"""Shared pieces of the edge integration tests (test_edge_*.py).

Every scenario is run twice: directly against the stack's Dovecot and through pimap-edge, each with a
user of its own, and the end states are compared. This module knows how to reach either target, how to
put mail into a mailbox (LMTP, the real delivery path), how to wipe a mailbox so a test can be re-run
on a long-lived stack, and how to read an end state (the store over IMAP, a client's local Maildir) in a
form that does not depend on UIDs or on which user held it.
"""

from __future__ import annotations

import contextlib
import http.server
import imaplib
import os
import pwd
import re
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path

from pimap_stack import host_port

# Fixed per-file user ranges so that the edge test files never share a mailbox with each other or
# with the other integration tests (user01..user29 and user46..user50 belong to others).
CLIENT_USERS = [f"user{n}" for n in range(30, 40)]
SESSION_USERS = [f"user{n}" for n in range(40, 43)]
HOSTILE_USERS = [f"user{n}" for n in range(43, 46)]

SYSTEM_FLAGS = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def user(stack: dict, name: str) -> dict:
    for u in stack["users"]:
        if u["name"] == name:
            return u
    raise KeyError(f"{name} is not a stack user")


def tls_context(stack: dict) -> ssl.SSLContext:
    """Verifies the server certificate against the stack CA (and the host name)."""
    return ssl.create_default_context(cafile=stack["ca_cert"])


@dataclass(frozen=True)
class Target:
    """Where a scenario runs: Dovecot itself, or pimap-edge in front of it."""
    name: str                 # "dovecot" or "edge"
    plain: tuple[str, int]    # IMAP with STARTTLS
    tls: tuple[str, int]      # implicit TLS
    device: str | None        # P-IMAP device id appended to login names ("userNN#Ptest1"), edge only

    def login_name(self, username: str) -> str:
        return f"{username}#{self.device}" if self.device else username

    def port(self, transport: str) -> int:
        return (self.tls if transport == "imaps" else self.plain)[1]


def targets(stack: dict) -> dict[str, Target]:
    return {
        "dovecot": Target("dovecot", host_port(stack["dovecot"]["imap"]), host_port(stack["dovecot"]["imaps"]), None),
        "edge": Target("edge", host_port(stack["edge"]["imap"]), host_port(stack["edge"]["imaps"]), "Ptest1"),
    }


def edge_running(stack: dict) -> bool:
    try:
        with socket.create_connection(host_port(stack["edge"]["imaps"]), timeout=2):
            return True
    except OSError:
        return False


def require_edge(stack: dict) -> None:
    """Edge parts must fail (not skip) while the edge is missing or down."""
    assert "edge" in stack.get("pimap_services", []), (
        f"pimap-edge was not started by this stack (pimap_services={stack.get('pimap_services')}); "
        f"build services/edge/pimap-edge in {stack.get('build_dir')}")
    assert edge_running(stack), f"pimap-edge does not accept connections on {stack['edge']['imaps']}"


# ---------------------------------------------------------------------------------------------------------
# Mail

def message(key: str, subject: str | None = None, body: str | None = None, size: int = 0,
            date: datetime | None = None) -> bytes:
    """A CRLF message whose Message-ID <key@it.pimap.test> identifies it across users and clients."""
    date = date or datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    body = body or f"Body of {key}.\r\nSecond line of {key}.\r\n"
    if size > len(body):
        line = ("x" * 76 + "\r\n")
        body += line * ((size - len(body)) // len(line) + 1)
    head = (f"From: Sender <sender@example.org>\r\nTo: rcpt@example.test\r\n"
            f"Subject: {subject or 'Test ' + key}\r\nDate: {format_datetime(date)}\r\n"
            f"Message-ID: <{key}@it.pimap.test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n")
    return head.encode() + body.encode()


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):  # noqa: N802 - Dovecot's OX push driver sends PUT
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def push_intake_sink(stack: dict):
    """Answer Dovecot's push PUTs while no store-watcher owns the intake port.

    Dovecot's OX driver PUTs synchronously inside every LMTP delivery, and after refused connections
    its HTTP client backs off exponentially (3 s, 6 s, 13 s, 26 s ... per delivery), so without a
    listener a dozen deliveries take minutes. A real store-watcher, when the stack runs one, is left alone.
    """
    address = host_port(stack["store_watcher"]["intake"])
    try:
        server = http.server.ThreadingHTTPServer(address, _Sink)
    except OSError:  # in use: the store-watcher (or another test's sink) answers
        yield
        return
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def deliver(stack: dict, username: str, messages: list[bytes]) -> None:
    """LMTP straight into Dovecot (the path Postfix uses), one transaction per message, in order."""
    host, port = host_port(stack["dovecot"]["lmtp"])
    rcpt = user(stack, username)["email"]
    with smtplib.LMTP(host, port, timeout=30) as lmtp:
        for m in messages:
            refused = lmtp.sendmail("sender@example.org", [rcpt], m)
            assert refused == {}, refused


# ---------------------------------------------------------------------------------------------------------
# Direct store access (the oracle): always Dovecot, as the user itself

def direct(stack: dict, username: str) -> imaplib.IMAP4_SSL:
    host, port = host_port(stack["dovecot"]["imaps"])
    conn = imaplib.IMAP4_SSL(host, port, ssl_context=tls_context(stack), timeout=30)
    conn.login(username, user(stack, username)["password"])
    return conn


def _list_names(conn: imaplib.IMAP4) -> list[str]:
    typ, data = conn.list('""', "*")
    assert typ == "OK", data
    names = []
    for raw in data:
        if raw is None:
            continue
        if isinstance(raw, tuple):  # name sent as a literal
            names.append(raw[1].decode())
            continue
        m = re.match(rb'\((?P<flags>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.+)$', raw)
        assert m, raw
        name = m.group("name").decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        names.append(name)
    return names


def quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


AUTO_FOLDERS = {"Drafts", "Sent", "Trash"}  # Dovecot recreates these (auto = subscribe): empty, don't delete


def _expunge_all(conn: imaplib.IMAP4, box: str) -> None:
    typ, data = conn.select(quote(box))
    assert typ == "OK", (box, data)
    if int(data[0]):
        conn.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
        conn.expunge()
    conn.close()


def reset_mailbox(stack: dict, username: str) -> None:
    """Empty INBOX and delete every other folder and subscription, so a scenario starts from nothing."""
    with direct(stack, username) as conn:
        for name in sorted(_list_names(conn), key=lambda n: -n.count("/")):
            if name.upper() == "INBOX" or name in AUTO_FOLDERS:
                _expunge_all(conn, name)
                continue
            conn.unsubscribe(quote(name))
            typ, data = conn.delete(quote(name))
            assert typ == "OK", (name, data)
        typ, data = conn.lsub('""', "*")
        for raw in data or []:
            if raw:
                name = raw.rsplit(b" ", 1)[-1].decode().strip('"')
                if name.upper() != "INBOX" and name not in AUTO_FOLDERS:
                    conn.unsubscribe(quote(name))
        conn.logout()


def end_device_session(stack: dict, target: "Target", username: str) -> None:
    """LOGIN + LOGOUT as the device, so the next login is a first login (profile §3).

    A device that vanished without LOGOUT (e.g. an earlier run killed mid-way) has a live session, and its
    next login resumes it — `* SESSION SELECTED` and a store already in SELECTED state, which a client that
    does not speak P-IMAP cannot know about. Real clients end with LOGOUT; this makes the start clean too.
    """
    if not target.device:
        return
    conn = connect(stack, target, "imaps")
    try:
        conn.login(target.login_name(username), user(stack, username)["password"])
        conn.logout()
    except BaseException:
        conn.shutdown()
        raise


def connect(stack: dict, target: "Target", transport: str, timeout: float = 30) -> imaplib.IMAP4:
    """imaplib to a target over implicit TLS ("imaps") or STARTTLS ("starttls"); certificate checked."""
    ctx = tls_context(stack)
    if transport == "imaps":
        return imaplib.IMAP4_SSL("localhost", target.tls[1], ssl_context=ctx, timeout=timeout)
    conn = imaplib.IMAP4("localhost", target.plain[1], timeout=timeout)
    conn.starttls(ssl_context=ctx)
    return conn


def login(stack: dict, target: "Target", transport: str, username: str, device: str | None = None,
          timeout: float = 30) -> imaplib.IMAP4:
    conn = connect(stack, target, transport, timeout)
    name = f"{username}#{device}" if (device and target.device) else target.login_name(username)
    conn.login(name, user(stack, username)["password"])
    return conn


def _fetch_state(conn: imaplib.IMAP4, box: str) -> list[tuple[str, tuple[str, ...]]]:
    typ, data = conn.select(quote(box), readonly=True)
    assert typ == "OK", (box, data)
    if int(data[0]) == 0:
        return []
    typ, data = conn.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert typ == "OK", data
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        flags = re.search(rb"FLAGS \(([^)]*)\)", item[0])
        mid = re.search(rb"<([^>]*)>", item[1])
        out.append((mid.group(1).decode() if mid else "?",
                    tuple(sorted(f for f in (flags.group(1).decode().split() if flags else [])
                                 if f in SYSTEM_FLAGS))))
    return sorted(out)


def store_state(stack: dict, username: str) -> dict[str, list]:
    """{folder: sorted [(message-id, system flags)]} as Dovecot holds it."""
    with direct(stack, username) as conn:
        state = {name: _fetch_state(conn, name) for name in _list_names(conn)}
        conn.logout()
    return state


def maildir_state(root: Path, inbox: Path | None = None) -> dict[str, list]:
    """The same shape for a client's local Maildir (folders below root, '/'-separated)."""
    state = {}
    folders = {}
    for cur in sorted(root.rglob("cur")):
        d = cur.parent
        if (d / "new").is_dir():
            rel = d.relative_to(root).as_posix()
            folders[rel if rel != "." else "INBOX"] = d
    if inbox is not None and (inbox / "cur").is_dir():
        folders["INBOX"] = inbox
    for name, d in folders.items():
        msgs = []
        for sub in ("cur", "new"):
            for f in (d / sub).iterdir():
                if f.name.startswith("."):
                    continue
                text = f.read_bytes()
                mid = re.search(rb"(?im)^Message-ID:\s*<([^>]*)>", text)
                info = f.name.split(":2,", 1)[1] if ":2," in f.name else ""
                flags = tuple(sorted(MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS))
                msgs.append((mid.group(1).decode() if mid else "?", flags))
        state["INBOX" if name.upper() == "INBOX" else name] = sorted(msgs)
    return state


def maildir_files(d: Path) -> dict[str, Path]:
    """message-id -> file in one Maildir folder."""
    out = {}
    for sub in ("cur", "new"):
        if (d / sub).is_dir():
            for f in (d / sub).iterdir():
                mid = re.search(rb"(?im)^Message-ID:\s*<([^>]*)>", f.read_bytes())
                if mid:
                    out[mid.group(1).decode()] = f
    return out


def maildir_set_flags(f: Path, letters: str) -> Path:
    """Give a Maildir message exactly these flag letters (moves it to cur/)."""
    base = f.name.split(":2,", 1)[0]
    new = f.parent.parent / "cur" / f"{base}:2,{''.join(sorted(letters))}"
    f.rename(new)
    return new


_seq = 0


def maildir_add(d: Path, content: bytes, letters: str = "") -> Path:
    global _seq
    _seq += 1
    for sub in ("cur", "new", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    name = f"{int(time.time())}.M{_seq}P{os.getpid()}.it"
    tmp = d / "tmp" / name
    tmp.write_bytes(content)
    dest = d / "cur" / f"{name}:2,{''.join(sorted(letters))}"
    tmp.rename(dest)
    return dest


# ---------------------------------------------------------------------------------------------------------
# Running clients

CLIENT_ACCOUNT = "pimapit"


def client_account() -> tuple[int, int]:
    """A non-root account for clients that refuse to run as root; created on first use."""
    try:
        pw = pwd.getpwnam(CLIENT_ACCOUNT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", CLIENT_ACCOUNT], check=False, capture_output=True)
        pw = pwd.getpwnam(CLIENT_ACCOUNT)
    return pw.pw_uid, pw.pw_gid


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for p in [path, *path.rglob("*")]:
        os.lchown(p, uid, gid)


def run(argv: list[str], timeout: float = 60, env: dict | None = None, as_user: bool = False,
        cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run a client with a hard time bound; its whole process group dies on timeout."""
    if as_user:
        uid, gid = client_account()
        argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        raise AssertionError(f"{argv[0]} timed out after {timeout}s\nstdout:\n{out.decode(errors='replace')}"
                             f"\nstderr:\n{err.decode(errors='replace')}")
    return subprocess.CompletedProcess(argv, proc.returncode, out.decode(errors="replace"),
                                       err.decode(errors="replace"))
