"""Helpers shared by the integration tests: driving scripts/stack and probing what it left running."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STACK = REPO / "scripts" / "stack"
UP_TIMEOUT = 240  # first run fetches the Kafka jars through Maven; later runs take seconds


def build_dir() -> str:
    return os.environ.get("PIMAP_BUILD_DIR", str(REPO / "build" / "debug"))


def new_stack_dir(prefix: str = "pimap-stack-") -> Path:
    # Not pytest's tmp_path: that is mode 0700, and Dovecot's per-user mail uids must traverse it.
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


def run_stack(*args: str, timeout: float = UP_TIMEOUT,
              env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(STACK), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def stack_up(directory: Path, env: dict | None = None) -> dict:
    r = run_stack("up", "--dir", str(directory), "--build-dir", build_dir(), env=env)
    if r.returncode != 0:
        raise RuntimeError(f"stack up failed (rc {r.returncode}):\n{r.stderr}")
    described = json.loads(r.stdout)  # stdout must be exactly one JSON object
    assert described == json.loads((directory / "stack.json").read_text())
    return described


def stack_down(directory: Path) -> subprocess.CompletedProcess:
    return run_stack("down", "--dir", str(directory), timeout=120)


def remove_dir(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def addresses(stack: dict, prefix: str = "") -> dict[str, str]:
    """Every host:port in a stack description, by dotted key."""
    out = {}
    for key, value in stack.items():
        if isinstance(value, dict):
            out.update(addresses(value, f"{prefix}{key}."))
        elif isinstance(value, str) and value.startswith("127.0.0.1:"):
            out[f"{prefix}{key}"] = value
        elif isinstance(value, str) and value.startswith("http://127.0.0.1:"):
            out[f"{prefix}{key}"] = value.split("/")[2]
    return out


def accepts(address: str) -> bool:
    try:
        with socket.create_connection(host_port(address), timeout=1):
            return True
    except OSError:
        return False


def recorded_pids(directory: Path) -> list[dict]:
    return json.loads((directory / "pids.json").read_text())["processes"]


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, session id) of a process, None if it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    return fields[0], int(fields[3])


def alive(pid: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def session_pids(sids: set[int]) -> set[int]:
    """Every live process in any of the given sessions."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st and st[0] not in ("Z", "X") and st[1] in sids:
                out.add(int(entry.name))
    return out


def pgrep(pattern: str) -> list[str]:
    r = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
    me = {str(os.getpid())}
    return [line for line in r.stdout.splitlines() if line.split()[0] not in me]


def netns_list() -> list[str]:
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def wait_for(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def stack_component(stack: dict, action: str, component: str, signal: str = "TERM",
                    timeout: float = 180) -> float:
    """`scripts/stack stop|start|restart <component>` on a running stack (fault tests); seconds taken.

    stop/restart take `signal`: KILL for a kill -9, TERM for a clean stop (Redis flushes its AOF).
    start reruns the recorded command and returns once the component is ready again."""
    t0 = time.monotonic()
    args = [action, "--dir", stack["dir"], component]
    if action != "start":
        args += ["--signal", signal]
    r = run_stack(*args, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"stack {action} {component} failed (rc {r.returncode}):\n{r.stderr}")
    return time.monotonic() - t0


def redis_command(stack: dict, *words: str, timeout: float = 5):
    """One Redis command over RESP (no client library) for diagnostics: int, bytes, None, list, or an
    Exception instance for an error reply."""
    with socket.create_connection(host_port(stack["redis"]), timeout=timeout) as s:
        s.sendall(f"*{len(words)}\r\n".encode() + b"".join(f"${len(w.encode())}\r\n".encode() + w.encode() + b"\r\n"
                                                       for w in words))
        f = s.makefile("rb")

        def read():
            line = f.readline()
            if not line:
                raise ConnectionError("redis closed the connection")
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest
            if kind == b"-":
                return RuntimeError(rest.decode(errors="replace"))
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2]
            if kind == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise ValueError(f"unexpected RESP line {line!r}")
        return read()
