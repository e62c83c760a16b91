"""`stack stop | start | restart <component>`: take one component of a running stack down and back up.

Meant for fault tests: kill -9 a pimap service, or restart Redis or Kafka, while the rest keeps
running. `start` runs the command `up` recorded in pids.json again (same argv, log file and working
directory), so the component comes back on the same ports with the same config and data: Kafka keeps
DIR/kafka/data (its storage is formatted only by `up`), Redis replays its AOF. The new pid replaces the
old entry in pids.json, so `down` still stops everything.

Only components with a readiness check below can be restarted; Dovecot, Postfix and Kannel cannot.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .core import say
from .kafka import PARTITIONS, TOPIC
from .procs import Registry, _signal_all

READY_BOUND = 120.0  # Kafka replays its log and re-elects leaders; a pimap service is up in a second


def _redis_ready(stack: dict) -> bool:
    host, port = stack["redis"].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as s:
            s.sendall(b"PING\r\n")
            # Until the AOF is loaded Redis answers -LOADING, not +PONG.
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _kafka_ready(stack: dict) -> bool:
    """Every partition of pimap.events has a leader again (what producers and the consumer group need)."""
    try:
        r = subprocess.run(["kcat", "-b", stack["kafka"], "-L", "-J", "-m", "2", "-t", TOPIC],
                           capture_output=True, timeout=10)
        md = json.loads(r.stdout) if r.returncode == 0 else {}
    except (subprocess.TimeoutExpired, ValueError):
        return False
    for t in md.get("topics", []):
        if t.get("topic") == TOPIC and "error" not in t:
            parts = t.get("partitions", [])
            return len(parts) == PARTITIONS and all(p.get("leader", -1) >= 0 and "error" not in p
                                                    for p in parts)
    return False


def _service_ready(name: str):
    def check(stack: dict) -> bool:
        try:
            with urllib.request.urlopen(f"http://{stack['metrics'][name]}/readyz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False
    return check


READY = {"redis": _redis_ready, "kafka": _kafka_ready,
         **{svc: _service_ready(svc) for svc in ("session", "store-watcher", "notifier", "edge")}}

SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM}


def _check(component: str) -> None:
    if component not in READY:
        raise ValueError(f"cannot restart {component!r}; restartable: {', '.join(READY)}")


def stop(directory: Path, component: str, sig: str = "TERM", grace: float = 15.0) -> list[int]:
    """Signal the component (its whole session for KILL) and wait until nothing of it runs.

    TERM lets Redis flush its AOF and Kafka close its logs cleanly; past `grace` it is SIGKILLed.
    Returns the pids that were running."""
    _check(component)
    registry = Registry(directory)
    entries = registry.entries(component)
    running = {pid for e in entries for pid in registry.members(e)}
    if not running:
        raise RuntimeError(f"{component} is not running in {directory}")
    for e in entries:
        members = registry.members(e)
        if SIGNALS[sig] == signal.SIGKILL:
            _signal_all(members, signal.SIGKILL)
        elif e["pid"] in members:
            _signal_all([e["pid"]], signal.SIGTERM)
        else:
            _signal_all(members, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(registry.members(e) for e in entries):
        if time.monotonic() > deadline:
            for e in entries:
                _signal_all(registry.members(e), signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.05)
    return sorted(running)


def start(directory: Path, component: str) -> int:
    """Run the recorded command of a stopped component again; returns once it is ready (its pid)."""
    _check(component)
    stack = json.loads((directory / "stack.json").read_text())
    registry = Registry(directory)
    entries = registry.entries(component)
    if not entries:
        raise RuntimeError(f"{component} was never started in {directory}")
    if any(registry.members(e) for e in entries):
        raise RuntimeError(f"{component} is still running in {directory}; stop it first")
    last = entries[-1]
    log = Path(last.get("log") or directory / "logs" / f"{component}.log")
    with open(log, "ab") as f:
        f.write(f"\n--- scripts/stack start {component} at {time.strftime('%H:%M:%S')} ---\n".encode())
    registry.drop(entries)
    proc = registry.spawn(component, last["argv"], log, cwd=Path(last["cwd"]) if last.get("cwd") else None)
    deadline = time.monotonic() + READY_BOUND
    while not READY[component](stack):
        if proc.poll() is not None:
            raise RuntimeError(f"{component} exited with status {proc.returncode} on restart; see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{component} not ready {READY_BOUND:.0f} s after restart; see {log}")
        time.sleep(0.1)
    return proc.pid


def command(directory: Path, action: str, component: str, sig: str) -> int:
    try:
        if action in ("stop", "restart"):
            pids = stop(directory, component, sig)
            say(f"{component} stopped (SIG{sig}, pids {pids})")
        if action in ("start", "restart"):
            t0 = time.monotonic()
            pid = start(directory, component)
            say(f"{component} up again (pid {pid}, {time.monotonic() - t0:.1f} s)")
    except (ValueError, RuntimeError, OSError) as e:
        say(f"FAILED: {e}")
        return 1
    return 0

