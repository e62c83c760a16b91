"""Per-user connection policy (profile §14): past the limit the oldest idle connection is evicted
rather than the new login refused. The stack's session service allows 10 connections per user.

Uses user29 only (other files own the other users)."""
import socket
import ssl
import time
import uuid

LIMIT = 10


def _login(stack, user, device):
    host, port = stack["edge"]["imaps"].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=stack["ca_cert"])
    s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10), server_hostname="localhost")
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    s.sendall(f'a LOGIN "{user["name"]}#P{device}" "{user["password"]}"\r\n'.encode())
    lines = []
    while True:
        line = f.readline()
        assert line, "connection closed during login"
        lines.append(line)
        if line.startswith(b"a "):
            break
    assert lines[-1].startswith(b"a OK"), lines
    return s, f


def _noop(s, f):
    """The lines a NOOP gets, or what the connection said before it closed."""
    s.settimeout(5)
    out = []
    try:
        s.sendall(b"n NOOP\r\n")
    except OSError:
        pass
    while True:
        try:
            line = f.readline()
        except OSError:
            break
        if not line:
            break
        out.append(line.strip())
        if line.startswith(b"n "):
            break
    return out


def test_oldest_idle_connection_is_evicted_past_the_per_user_limit(stack):
    user = next(u for u in stack["users"] if u["name"].startswith("user29"))
    run = uuid.uuid4().hex[:6]
    conns = []
    try:
        for i in range(LIMIT + 2):
            conns.append(_login(stack, user, f"pol{i}-{run}"))
            time.sleep(0.15)  # distinct ages
        time.sleep(1.5)  # evictions travel session service -> EdgeStream -> edge
        answers = [_noop(s, f) for s, f in conns]
        evicted = [i for i, a in enumerate(answers) if a and a[0].startswith(b"* BYE")]
        served = [i for i, a in enumerate(answers) if a and a[-1] == b"n OK NOOP completed"]
        # The two oldest go; every newer login, including the two that pushed past the limit, is served.
        assert evicted == [0, 1], answers
        assert served == list(range(2, LIMIT + 2)), answers
    finally:
        for s, _ in conns:
            try:
                s.close()
            except OSError:
                pass
