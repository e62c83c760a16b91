"""Bounded credential checks (docs/protocol.md, "Bounded credential checks"): an edge runs at most
store.max_concurrent_logins store logins at once, queues a bounded number in order, and answers the rest
`NO [UNAVAILABLE] Server busy, try again` at once; nobody hangs and no connection is dropped.

Each test starts its own pimap-edge with a tiny cap next to the stack's. Logins are plain IMAP (no
P-IMAP device id), so the session service's per-user limits play no part; successful sessions log
out at once so that the store's per-user connection limit does not either. Logins only: no mailbox
is touched, so the users may be shared with other files.
"""
from __future__ import annotations

import re
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from edge_harness import tls_context
from edge_wire import Closed, EdgeProcess, Wire, random_loopback

BUSY = b"NO [UNAVAILABLE] Server busy, try again"
USERS = [f"user{n:02d}" for n in range(30, 40)]


def _user(stack, name):
    return next(u for u in stack["users"] if u["name"] == name)


def _metrics(edge: EdgeProcess) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{edge.admin_port}/metrics", timeout=5) as r:
        return r.read().decode()


def _metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)}\s+(\S+)$", re.M)
    m = pattern.search(text)
    assert m, f"{name}{labels} not exported"
    return float(m.group(1))


def _wait_metric(edge: EdgeProcess, name: str, want: float, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        got = _metric(_metrics(edge), name)
        if got == want:
            return
        assert time.monotonic() < deadline, f"{name} stayed {got}, expected {want}"
        time.sleep(0.05)


@pytest.fixture
def gated_edge(stack, request):
    log_dir = Path(stack["logs"]) if Path(stack["logs"]).is_dir() else Path("/tmp")
    edge = EdgeProcess(stack, log_dir, tuple(request.param))
    try:
        yield edge
    finally:
        alive = edge.alive()
        edge.stop()
        assert alive, f"edge died:\n{edge.tail()}"


@pytest.mark.parametrize("gated_edge", [("--store.max_concurrent_logins=2", "--store.max_queued_logins=4",
                                         "--store.login_queue_timeout_seconds=30s")], indirect=True)
def test_burst_of_logins_gets_ok_or_busy_and_nobody_hangs(stack, gated_edge):
    n = 40
    ctx = tls_context(stack)
    source = random_loopback()
    wires = [Wire(gated_edge.imaps, ctx, source=source, timeout=60) for _ in range(n)]
    answers: list[bytes | None] = [None] * n
    errors: list[str] = []
    go = threading.Barrier(n)

    def one(i):
        w = wires[i]
        u = _user(stack, USERS[i % len(USERS)])
        try:
            go.wait()
            _, answers[i] = w.cmd(f'LOGIN "{u["name"]}" "{u["password"]}"', timeout=60)
        except (Closed, OSError) as e:  # socket.timeout is an OSError
            errors.append(f"{i}: {type(e).__name__} {e}")

    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        assert not errors, errors
        ok = [i for i, a in enumerate(answers) if a and re.match(rb"t1 OK", a)]
        busy = [i for i, a in enumerate(answers) if a and a.rstrip() == b"t1 " + BUSY]
        assert sorted(ok + busy) == list(range(n)), answers
        # 40 at once against 2 running + 4 queued: some are refused, and the gate lets some through.
        assert len(busy) > 0 and len(ok) >= 2, answers

        # Refused devices keep their connection: a NOOP is answered, and a retry can succeed.
        for i in busy:
            wires[i].ok("NOOP")
        for i in ok:
            wires[i].ok("LOGOUT")
        retry = wires[busy[0]]
        u = _user(stack, USERS[busy[0] % len(USERS)])
        _, done = retry.cmd(f'LOGIN "{u["name"]}" "{u["password"]}"', timeout=60)
        assert re.match(rb"t\d+ OK", done), done  # the burst is over: the gate is empty

        text = _metrics(gated_edge)
        refused = (_metric(text, "pimap_edge_login_checks_refused_total", '{reason="queue_full"}')
                   + _metric(text, "pimap_edge_login_checks_refused_total", '{reason="timed_out"}'))
        assert refused >= len(busy)
        _wait_metric(gated_edge, "pimap_edge_login_checks_in_flight", 0)
        _wait_metric(gated_edge, "pimap_edge_login_checks_queued", 0)
    finally:
        for w in wires:
            w.close()


@pytest.mark.parametrize("gated_edge", [("--store.max_concurrent_logins=1", "--store.max_queued_logins=8",
                                         "--store.login_queue_timeout_seconds=300ms")], indirect=True)
def test_login_waiting_past_the_queue_timeout_is_answered_busy(stack, gated_edge):
    ctx = tls_context(stack)
    u = _user(stack, USERS[0])
    source = random_loopback()
    with Wire(gated_edge.imaps, ctx, source=source, timeout=40) as slow, \
            Wire(gated_edge.imaps, ctx, source=source, timeout=40) as waiting:
        # A wrong password holds the only slot while the store delays its answer (Dovecot: 2 s).
        slow.send(f't1 LOGIN "{u["name"]}" "wrong-{u["password"]}"\r\n'.encode())
        _wait_metric(gated_edge, "pimap_edge_login_checks_in_flight", 1)
        _, done = waiting.cmd(f'LOGIN "{u["name"]}" "{u["password"]}"', timeout=40)
        assert done.rstrip() == b"t1 " + BUSY
        _, failed = slow.until_tagged("t1", timeout=40)
        assert failed.startswith(b"t1 NO [AUTHENTICATIONFAILED]"), failed
        assert _metric(_metrics(gated_edge), "pimap_edge_login_checks_refused_total", '{reason="timed_out"}') == 1
        waiting.ok("NOOP")  # still connected


@pytest.mark.parametrize("gated_edge", [("--store.max_concurrent_logins=1", "--store.max_queued_logins=1",
                                         "--store.login_queue_timeout_seconds=30s")], indirect=True)
def test_device_hanging_up_while_queued_gives_its_place_back(stack, gated_edge):
    ctx = tls_context(stack)
    u = _user(stack, USERS[1])
    source = random_loopback()
    slow = Wire(gated_edge.imaps, ctx, source=source, timeout=40)
    leaver = Wire(gated_edge.imaps, ctx, source=source, timeout=40)
    later = Wire(gated_edge.imaps, ctx, source=source, timeout=40)
    try:
        slow.send(f't1 LOGIN "{u["name"]}" "wrong-{u["password"]}"\r\n'.encode())
        _wait_metric(gated_edge, "pimap_edge_login_checks_in_flight", 1)
        leaver.send(f't1 LOGIN "{u["name"]}" "{u["password"]}"\r\n'.encode())
        _wait_metric(gated_edge, "pimap_edge_login_checks_queued", 1)
        leaver.close()
        # The only queue place is free again while the slow check still runs...
        _wait_metric(gated_edge, "pimap_edge_login_checks_queued", 0)
        assert _metric(_metrics(gated_edge), "pimap_edge_login_checks_in_flight") == 1
        # ...so the next device waits instead of being refused, and gets in.
        _, done = later.cmd(f'LOGIN "{u["name"]}" "{u["password"]}"', timeout=40)
        assert re.match(rb"t1 OK", done), done
        _, failed = slow.until_tagged("t1", timeout=40)
        assert failed.startswith(b"t1 NO [AUTHENTICATIONFAILED]"), failed
        text = _metrics(gated_edge)
        assert _metric(text, "pimap_edge_login_checks_refused_total", '{reason="queue_full"}') == 0
        # The leaver's check never reached the store: one successful store login (the later
        # device's), not two (a check still queued would have run once the slow one ended).
        assert _metric(text, "pimap_edge_backend_connect_seconds_count") == 1
        later.ok("LOGOUT")
    finally:
        for w in (slow, leaver, later):
            w.close()
