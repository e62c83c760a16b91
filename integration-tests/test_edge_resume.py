"""Resume replays exactly what the device missed (profile §3; docs/protocol.md "Resume").

A P-IMAP device that vanishes (no LOGOUT) and logs in again within its session lifetime, on ANOTHER
edge process, reads `* SESSION SELECTED`, `* FOLDER`, then the queued events for its folder as
ordinary untagged responses numbered relative to the view it held, then `* SESSIONID` and the tagged
OK, with no state comparison. The edge it comes back to knows nothing of it: the device's view
travels through the session service. The test keeps a model of the device's mailbox built only from
what it was told and compares it with what Dovecot holds.

When events may have been lost (a queue overflow here), the login says `* RESYNC` instead: that
test runs a private session service + notifier with a 5-event queue bound on Redis database 1, and
an edge talking to them, so the shared stack keeps its defaults.

Mail comes in over LMTP, one delivery after the other (the path Postfix uses; test_edge_push.py goes
through Postfix itself). Users user48 and user49 only (test_edge_push.py's range). Device ids carry a
per-run suffix.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import edge_harness as h
from device_model import DeviceMailbox, store_state
from edge_wire import EdgeProcess, Wire, free_ports, stack_edge
from pimap_stack import host_port

RUN = secrets.token_hex(3)
NEW_FORMAT = "(UID FLAGS)"
SESSIONID = re.compile(rb"^\* SESSIONID [A-Z2-7]{26}\r\n$")


@pytest.fixture(autouse=True)
def pipeline_up(stack):
    h.require_edge(stack)
    for svc in ("session", "store-watcher", "notifier"):
        if svc not in stack.get("pimap_services", []):
            pytest.skip(f"the stack did not start pimap-{svc}; resume needs the whole pipeline")


def log_dir(stack) -> Path:
    d = Path(stack["logs"])
    return d if d.is_dir() else Path("/tmp")


@pytest.fixture(scope="module")
def second_edge(stack):
    h.require_edge(stack)
    edge = EdgeProcess(stack, log_dir(stack))
    yield edge
    alive = edge.alive()
    edge.stop()
    assert alive, f"the second pimap-edge died during the tests:\n{edge.tail()}"


def wire(stack, address) -> Wire:
    return Wire(address, tls=h.tls_context(stack), timeout=20)


def login(w: Wire, stack, user: str, dev: str) -> tuple[list[bytes], bytes]:
    return w.cmd(f'LOGIN "{user}#{dev}" "{h.user(stack, user)["password"]}"', timeout=30)


def wait_for_messages(stack, user: str, count: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        conn = h.direct(stack, user)
        try:
            typ, data = conn.select("INBOX", readonly=True)
            have = int(data[0])
        finally:
            conn.logout()
        if have >= count:
            return
        assert time.monotonic() < deadline, f"{user}: {have} of {count} messages delivered within {seconds} s"
        time.sleep(0.5)


def redis_xlen(address: str, key: str, db: int = 0) -> int:
    """XLEN over RESP: the test waits until the pipeline queued what it sent (no client library)."""
    host, port = host_port(address)
    def bulk(*words: str) -> bytes:
        return f"*{len(words)}\r\n".encode() + b"".join(f"${len(w)}\r\n{w}\r\n".encode() for w in words)
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall((bulk("SELECT", str(db)) if db else b"") + bulk("XLEN", key))
        data = b""
        while data.count(b"\r\n") < (2 if db else 1):
            chunk = s.recv(4096)
            assert chunk, "redis closed the connection"
            data += chunk
    last = data.split(b"\r\n")[-2]
    assert last.startswith(b":"), data
    return int(last[1:])


def queue_key(user: str, dev: str, stack) -> str:
    return f"pimap:d:{{{user}/{dev}}}:q"


def wait_for_queue(stack, user: str, dev: str, depth: int, seconds: float = 60, db: int = 0) -> None:
    """Until at least `depth` events are queued for the device and no more arrive for 3 s. (One event
    may carry several messages: the store reports an LMTP session's deliveries together.)"""
    deadline = time.monotonic() + seconds
    key = queue_key(user, dev, stack)
    last, since = -1, time.monotonic()
    while True:
        have = redis_xlen(stack["redis"], key, db)
        if have != last:
            last, since = have, time.monotonic()
        elif have >= depth and time.monotonic() - since >= 3:
            return
        assert time.monotonic() < deadline, f"{key}: {have} of {depth} events queued within {seconds} s"
        time.sleep(0.25)


def settle_in_idle(w: Wire) -> str:
    """IDLE, so the edge knows (and checkpoints) the device's view; returns the tag."""
    tag = w.tag()
    w.send(f"{tag} IDLE\r\n".encode())
    assert w.line() == b"+ idling\r\n"
    time.sleep(1.0)  # the edge reads the view off its store connection and saves it
    return tag


def vanish(w: Wire) -> None:
    """Gone without LOGOUT or DONE (a device losing coverage)."""
    w.close()
    time.sleep(1.5)  # the edge notices the EOF and detaches with the view


def first_session_in_inbox(stack, address, user: str, dev: str, new_format: str | None = None) -> DeviceMailbox:
    """First login, SELECT INBOX, the device learns every UID and flag; then IDLE and vanish."""
    time.sleep(2)  # events of the mail set up before run through first: no session, nothing queued
    w = wire(stack, address)
    lines, done = login(w, stack, user, dev)
    assert b" OK " in done and not [ln for ln in lines if ln.startswith(b"* SESSION ")], (lines, done)
    if new_format:
        w.ok(f"XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT {new_format}")
    model = DeviceMailbox()
    model.seed(w.ok("SELECT INBOX"))
    model.seed(w.ok("FETCH 1:* (UID FLAGS)"))
    settle_in_idle(w)
    vanish(w)
    return model


def resume(stack, address, user: str, dev: str) -> tuple[Wire, list[bytes]]:
    w = wire(stack, address)
    lines, done = login(w, stack, user, dev)
    assert re.match(rb"t\d+ OK ", done), (lines, done)
    return w, lines


def test_device_offline_during_50_new_mails_resumes_on_another_edge_with_exactly_them(stack, second_edge):
    user, dev = "user48", f"Presume-{RUN}"
    h.reset_mailbox(stack, user)
    h.deliver(stack, user, [h.message(f"r48-{RUN}-{i}") for i in range(5)])
    model = first_session_in_inbox(stack, stack_edge(stack, "imaps"), user, dev, NEW_FORMAT)
    assert len(model.state()) == 5

    h.deliver(stack, user, [h.message(f"m48-{RUN}-{i:02d}") for i in range(50)])
    wait_for_messages(stack, user, 55)
    wait_for_queue(stack, user, dev, 10)

    w, lines = resume(stack, second_edge.imaps, user, dev)
    with w:
        assert lines[:2] == [b"* SESSION SELECTED\r\n", b"* FOLDER INBOX\r\n"], lines
        assert SESSIONID.match(lines[-1]), lines
        replay = lines[2:-1]
        assert not [ln for ln in replay if b"RESYNC" in ln], replay
        # Ordinary untagged responses only, every one of them numbered within the device's view.
        assert all(re.match(rb"^\* \d+ (EXISTS|RECENT|FETCH) ", ln) or re.match(rb"^\* \d+ (EXISTS|RECENT)\r\n$", ln)
                   for ln in replay), replay
        for ln in replay:
            model.apply(ln)
        with h.direct(stack, user) as d:
            want = store_state(d)
            d.logout()
        assert model.state() == want, (replay, want)
        # Nothing is told twice: the next command adds no EXISTS for what the replay announced.
        untagged = w.ok("NOOP")
        assert not [ln for ln in untagged if re.match(rb"^\* \d+ (EXISTS|EXPUNGE)", ln)], untagged
        w.ok("LOGOUT")
    assert second_edge.alive()


def test_device_offline_during_mixed_changes_sees_them_all_on_another_edge(stack, second_edge):
    """New mail, flag changes and expunges by another client while the device is away."""
    user, dev = "user49", f"Pmixed-{RUN}"
    h.reset_mailbox(stack, user)
    h.deliver(stack, user, [h.message(f"x49-{RUN}-{i}") for i in range(30)])
    model = first_session_in_inbox(stack, stack_edge(stack, "imaps"), user, dev, NEW_FORMAT)
    assert len(model.state()) == 30

    with h.direct(stack, user) as d:
        d.select("INBOX")
        for n in range(1, 11):                               # 10 flag changes
            d.store(str(n), "+FLAGS", "(\\Flagged)")
        d.store("21:30", "+FLAGS.SILENT", "(\\Deleted)")    # 10 expunges
        d.expunge()
        d.logout()
    h.deliver(stack, user, [h.message(f"n49-{RUN}-{i:02d}") for i in range(30)])  # 30 new mails
    wait_for_messages(stack, user, 50)
    wait_for_queue(stack, user, dev, 10)

    w, lines = resume(stack, second_edge.imaps, user, dev)
    with w:
        assert lines[:2] == [b"* SESSION SELECTED\r\n", b"* FOLDER INBOX\r\n"], lines
        assert SESSIONID.match(lines[-1]), lines
        replay = lines[2:-1]
        for ln in replay:
            model.apply(ln)
        with h.direct(stack, user) as d:
            want = store_state(d)
            d.logout()
        assert model.state() == want, (replay, want)
        w.ok("LOGOUT")


# ---------------------------------------------------------------------------------------------------------
# Queue overflow: a private session service + notifier (queue bound 5, Redis db 1) and an edge on them


class Service:
    """pimap-<svc> --config <the stack's yaml> with overrides, on ports of its own; stopped by PID."""

    def __init__(self, stack, svc: str, overrides: list[str], admin_port: int):
        exe = Path(stack.get("build_dir") or os.environ.get("PIMAP_BUILD_DIR", "")) / f"services/{svc}/pimap-{svc}"
        assert exe.is_file(), f"no pimap-{svc} at {exe}"
        self.log_path = log_dir(stack) / f"{svc}-overflow-{admin_port}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(exe), "--config", str(Path(stack["dir"]) / f"{svc}.yaml"),
             f"--admin.listen=127.0.0.1:{admin_port}", *overrides],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"pimap-{svc} exited {self.proc.returncode}:\n{self.tail()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"pimap-{svc} not ready within 60 s:\n{self.tail()}"
            time.sleep(0.2)

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def small_queue_pipeline(stack):
    redis_db1 = f"redis://{stack['redis']}/1"
    grpc_port, session_admin, notifier_admin = free_ports(3)
    started = []
    try:
        started.append(Service(stack, "session", [f"--grpc.listen=127.0.0.1:{grpc_port}",
                                                  f"--redis.address={redis_db1}", "--queue.max_events=5"],
                               session_admin))
        started.append(Service(stack, "notifier", [f"--redis.address={redis_db1}", "--queue.max_events=5",
                                                   f"--kafka.group=it-overflow-{RUN}"], notifier_admin))
        edge = EdgeProcess(stack, log_dir(stack), (f"--session.grpc=127.0.0.1:{grpc_port}",))
        yield edge
        edge.stop()
    finally:
        for s in reversed(started):
            s.stop()


def test_queue_overflow_while_away_is_resync_instead_of_a_replay(stack, small_queue_pipeline):
    edge = small_queue_pipeline
    user, dev = "user49", f"Povf-{RUN}"
    h.reset_mailbox(stack, user)
    h.deliver(stack, user, [h.message(f"o49-{RUN}-0")])
    first_session_in_inbox(stack, edge.imaps, user, dev)
    h.deliver(stack, user, [h.message(f"o49-{RUN}-{i}") for i in range(1, 9)])  # 8 events, bound 5
    wait_for_messages(stack, user, 9)
    # After the overflow the queue holds its marker and the events after it (8 = 5 + marker + 2).
    deadline = time.monotonic() + 60
    key = queue_key(user, dev, stack)
    while redis_xlen(stack["redis"], key, db=1) != 3:
        assert time.monotonic() < deadline, f"{key} never reached 3 entries: {redis_xlen(stack['redis'], key, db=1)}"
        time.sleep(0.5)

    w, lines = resume(stack, edge.imaps, user, dev)
    with w:
        assert [ln for ln in lines if not SESSIONID.match(ln)] == \
            [b"* SESSION SELECTED\r\n", b"* FOLDER INBOX\r\n", b"* RESYNC\r\n"], lines
        assert SESSIONID.match(lines[-1]), lines
        w.ok("LOGOUT")
