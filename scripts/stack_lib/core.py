"""Shared plumbing for the stack components: the per-stack context, errors and bounded waits."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HOST = "127.0.0.1"
# Upper bound for one component to come up. Quiet machine: well under a second each (Kafka: a few
# seconds, it has bounds of its own); the shared 2-core CI box under parallel compiles: up to ~10 s.
BOUND = 45.0


class StackError(Exception):
    """A component failed to come up; carries the component name and the tail of its log."""

    def __init__(self, component: str, message: str, log: Path | None = None):
        self.component = component
        self.log = log
        text = f"{component}: {message}"
        if log is not None:
            text += f"\n--- last lines of {log} ---\n{tail(log)}"
        super().__init__(text)


class Aborted(Exception):
    """Another component failed while this one was still waiting; stop quietly."""


def say(msg: str) -> None:
    # stdout is reserved for the single JSON object `up` prints; progress goes to stderr.
    print(f"stack: {msg}", file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 25) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"(cannot read: {e})"
    return "\n".join(data.splitlines()[-lines:]) or "(empty)"


def addr(port: int) -> str:
    return f"{HOST}:{port}"


def stack_id(directory: Path) -> str:
    """Short stable id of a stack dir; names the netns and Dovecot instance so stacks never clash."""
    return hashlib.sha1(str(directory).encode()).hexdigest()[:10]


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


@dataclass
class Context:
    """Everything a component needs to know about the stack it belongs to."""

    dir: Path
    build_dir: Path
    ports: dict[str, int]
    registry: "object"  # procs.Registry (kept untyped here to avoid an import cycle)
    abort: threading.Event = field(default_factory=threading.Event)

    @property
    def id(self) -> str:
        return stack_id(self.dir)

    @property
    def netns(self) -> str:
        return f"pimap-{self.id}"

    def sub(self, *parts: str) -> Path:
        p = self.dir.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def log(self, name: str) -> Path:
        return self.sub("logs") / f"{name}.log"

    def addr(self, port_name: str) -> str:
        return addr(self.ports[port_name])


def wait_until(component: str, what: str, check: Callable[[], bool], timeout: float,
               ctx: Context, log: Path | None = None, proc: subprocess.Popen | None = None,
               interval: float = 0.1) -> None:
    """Poll `check` until true; fail naming the component if the bound passes or `proc` dies."""
    deadline = time.monotonic() + timeout
    while True:
        if ctx.abort.is_set():
            raise Aborted(component)
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise StackError(component, f"exited with status {proc.returncode} while waiting for {what}", log)
        if time.monotonic() > deadline:
            raise StackError(component, f"not up after {timeout:.0f} s (waiting for {what})", log)
        time.sleep(interval)


def tcp_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def run_checked(component: str, argv: list[str], log: Path, timeout: float = 60, **kw) -> str:
    """Run a short helper command to completion; its output goes to `log` and is returned."""
    argv = [str(a) for a in argv]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise StackError(component, f"`{' '.join(argv[:3])} ...` did not finish in {timeout:.0f} s", log)
    out = r.stdout.decode("utf-8", "replace")
    with open(log, "a") as f:
        f.write(f"$ {' '.join(argv)}\n{out}")
    if r.returncode != 0:
        raise StackError(component, f"`{' '.join(argv[:4])} ...` failed with status {r.returncode}", log)
    return out


def yaml_dump(obj, indent: int = 0) -> str:
    """Minimal YAML emitter for nested dicts of scalars/lists (scalars as JSON, which YAML accepts)."""
    pad = "  " * indent
    out = []
    for key, value in obj.items():
        if isinstance(value, dict):
            out.append(f"{pad}{key}:\n{yaml_dump(value, indent + 1)}")
        elif isinstance(value, list):
            out.append(f"{pad}{key}: {json.dumps(value)}\n")
        else:
            out.append(f"{pad}{key}: {json.dumps(value)}\n")
    return "".join(out)
