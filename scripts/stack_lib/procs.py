"""Detached processes of a stack: how they are started, recorded (DIR/pids.json) and stopped.

Every process is started in a session of its own (setsid), so everything it forks, including
children that outlive a SIGKILLed parent (Dovecot's imap/auth/log processes, Postfix's qmgr...),
can be found again by session id. For each entry, pids.json keeps the pid, whether it leads its
own session, and its kernel start time: `down` refuses to touch a pid that now belongs to a
different process (pid reuse), and the kernel never reuses a session id while any member of the
session is alive. Network namespaces are recorded *before* they are created, so a crash halfway
through `up` still leaves enough behind for `down` to clean up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from .core import Aborted, say, write_json_atomic

PIDS_FILE = "pids.json"


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, session id, start time in clock ticks) of a live process, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    # fields[0] is field 3 of proc(5): state ppid pgrp session ... starttime is field 22
    return fields[0], int(fields[3]), int(fields[19])


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def session_members(sid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        st = _stat(int(entry.name))
        if st is not None and st[1] == sid and st[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


class Registry:
    """DIR/pids.json: processes and network namespaces this stack created."""

    def __init__(self, directory: Path):
        self.path = directory / PIDS_FILE
        self._lock = threading.RLock()
        self._closed = False
        self.data = {"processes": [], "netns": []}
        if self.path.exists():
            self.data = json.loads(self.path.read_text())

    def _save(self) -> None:
        write_json_atomic(self.path, self.data)

    def record(self, component: str, pid: int, argv: list[str], *, log: Path | None = None,
               cwd: Path | None = None) -> None:
        st = _stat(pid)
        # Only a session leader's session is ours to sweep; anything else is tracked by pid alone,
        # so a stray daemon that stayed in the caller's session can never take the caller down.
        own_session = st is not None and st[1] == pid
        with self._lock:
            self.data["processes"].append({
                "component": component, "pid": pid, "own_session": own_session,
                "start": st[2] if st else None, "argv": argv,
                # log and cwd let `stack start` run the same command again (restart.py)
                "log": str(log) if log else None, "cwd": str(cwd) if cwd else None,
            })
            self._save()

    def record_netns(self, name: str) -> None:
        with self._lock:
            if self._closed:
                raise Aborted("netns")
            if name not in self.data["netns"]:
                self.data["netns"].append(name)
                self._save()

    def spawn(self, component: str, argv: list[str], log: Path, *, netns: str | None = None,
              env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
        """Start a detached process (own session, stdio to `log`) and record it."""
        full = (["ip", "netns", "exec", netns] if netns else []) + [str(a) for a in argv]
        with self._lock, open(log, "ab") as out:
            if self._closed:
                raise Aborted(component)
            p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=env, cwd=cwd)
            self.record(component, p.pid, full, log=log, cwd=cwd)
        return p

    def entries(self, component: str) -> list[dict]:
        return [e for e in self.data["processes"] if e["component"] == component]

    def members(self, e: dict) -> list[int]:
        """Live processes of a recorded entry (see _members)."""
        return self._members(e)

    def drop(self, entries: list[dict]) -> None:
        """Forget entries whose processes are gone (a restarted component records its new pid)."""
        with self._lock:
            self.data["processes"] = [e for e in self.data["processes"]
                                      if not any(e is d for d in entries)]
            self._save()

    def close(self) -> None:
        """No more spawning: a teardown is under way (a late thread must not start anything)."""
        with self._lock:
            self._closed = True

    # ---- inspection and teardown --------------------------------------------------------------

    @staticmethod
    def _members(e: dict) -> list[int]:
        """Live processes belonging to a recorded entry (its session, or just its pid)."""
        pid = e["pid"]
        st = _stat(pid)
        if st is not None and e.get("start") is not None and st[2] != e["start"]:
            return []  # the pid now names an unrelated process (pid reuse): not ours any more
        if e.get("own_session"):
            return session_members(pid)
        return [pid] if _alive(pid) else []

    def _sessions(self) -> list[tuple[dict, list[int]]]:
        """Recorded entries that still have live processes."""
        out = []
        for e in self.data["processes"]:
            members = self._members(e)
            if members:
                out.append((e, members))
        return out

    def live_pids(self) -> list[int]:
        return [pid for _, members in self._sessions() for pid in members]

    def status(self) -> list[dict]:
        return [{"component": e["component"], "pid": e["pid"], "alive": _alive(e["pid"]),
                 "processes": len(self._members(e))} for e in self.data["processes"]]

    def stop_all(self, grace: float = 10.0) -> list[int]:
        """SIGTERM every recorded leader, then its whole session, then SIGKILL; returns survivors."""
        sessions = self._sessions()
        for e, members in sessions:
            if e["pid"] in members:
                _signal_all([e["pid"]], signal.SIGTERM)  # the leader shuts its children down
            else:
                _signal_all(members, signal.SIGTERM)  # leader already gone (e.g. SIGKILLed)
        if sessions:
            say("stopping " + ", ".join(dict.fromkeys(e["component"] for e, _ in reversed(sessions))))
        self._wait_empty(grace)
        for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            left = self._sessions()
            if not left:
                break
            for _, members in left:
                _signal_all(members, sig)
            self._wait_empty(wait)
        return self.live_pids()

    def _wait_empty(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._sessions():
            time.sleep(0.1)

    def delete_netns(self) -> list[str]:
        failed = []
        for name in self.data["netns"]:
            if not Path(f"/run/netns/{name}").exists():
                continue
            r = subprocess.run(["ip", "netns", "delete", name], capture_output=True, text=True)
            if r.returncode != 0 and Path(f"/run/netns/{name}").exists():
                failed.append(f"{name}: {r.stderr.strip()}")
        return failed

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

