"""A raw IMAP line client for protocol-level edge tests: exact bytes in, exact lines out, bounded waits.

Unlike imaplib it hides nothing: every untagged line is kept in order, literals are read by their
announced size, and a closed connection is reported as such (Closed) rather than as a protocol error.
"""

from __future__ import annotations

import os
import random
import re
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from pimap_stack import host_port

LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class Wire:
    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext | None = None,
                 server_hostname: str = "localhost", source: str | None = None, timeout: float = 10):
        raw = socket.create_connection(address, timeout=timeout,
                                       source_address=(source, 0) if source else None)
        self.sock = tls.wrap_socket(raw, server_hostname=server_hostname) if tls else raw
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    # -- low level -------------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError) as e:
            raise Closed(str(e)) from e
        except ssl.SSLError as e:
            raise Closed(str(e)) from e
        if not chunk:
            raise Closed("EOF")
        self.buf += chunk

    def line(self, timeout: float | None = None) -> bytes:
        """One response line (CRLF included); a trailing literal is appended whole."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete line")
            self._fill(left)
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        m = LITERAL_AT_END.search(out)
        if m:
            need = int(m.group(1))
            while len(self.buf) < need:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("literal incomplete")
                self._fill(left)
            out, self.buf = out + self.buf[:need], self.buf[need:]
            out += self.line(max(0.1, deadline - time.monotonic()))
        return out

    def tag(self) -> str:
        self.n += 1
        return f"t{self.n}"

    def until_tagged(self, tag: str, timeout: float | None = None) -> tuple[list[bytes], bytes]:
        """(untagged and continuation lines, the tagged completion) for `tag`."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        seen = []
        while True:
            ln = self.line(max(0.05, deadline - time.monotonic()))
            if ln.startswith(tag.encode() + b" "):
                return seen, ln
            seen.append(ln)

    def cmd(self, text: str | bytes, timeout: float | None = None) -> tuple[list[bytes], bytes]:
        tag = self.tag()
        data = text.encode() if isinstance(text, str) else text
        self.send(tag.encode() + b" " + data + b"\r\n")
        return self.until_tagged(tag, timeout)

    def ok(self, text: str, timeout: float | None = None) -> list[bytes]:
        untagged, done = self.cmd(text, timeout)
        assert re.match(rb"t\d+ OK", done), f"{text!r}: {done!r} after {untagged!r}"
        return untagged

    def starttls(self, ctx: ssl.SSLContext, server_hostname: str = "localhost") -> None:
        self.ok("STARTTLS")
        assert not self.buf, f"bytes after STARTTLS OK: {self.buf!r}"
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.sock.settimeout(self.timeout)

    def closed_within(self, seconds: float) -> bool:
        """True if the server closes the connection within `seconds` (anything it sends is dropped)."""
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                self.buf = b""
                self._fill(max(0.05, deadline - time.monotonic()))
        except Closed:
            return True
        except (socket.timeout, TimeoutError):
            return False
        return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def untagged(lines: list[bytes], word: str) -> list[bytes]:
    return [ln for ln in lines if ln.upper().startswith(b"* " + word.upper().encode())]


def random_loopback() -> str:
    """A loopback source address of its own, so per-address login throttling starts from zero."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


# -------------------------------------------------------------------------------------------------------
# A second pimap-edge process next to the stack's (same config, own ports)

def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class EdgeProcess:
    """pimap-edge --config DIR/edge.yaml on ports of its own; stopped by PID."""

    def __init__(self, stack: dict, log_dir: Path, extra_args: tuple[str, ...] = ()):
        exe = Path(stack.get("build_dir") or os.environ.get("PIMAP_BUILD_DIR", "")) / "services/edge/pimap-edge"
        assert exe.is_file(), f"no pimap-edge binary at {exe}"
        conf = Path(stack["dir"]) / "edge.yaml"
        assert conf.is_file(), f"the stack wrote no {conf}"
        self.imaps_port, self.imap_port, self.admin_port, self.https_port = free_ports(4)
        self.log_path = log_dir / f"edge-second-{self.imaps_port}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(exe), "--config", str(conf), f"--imaps.listen=127.0.0.1:{self.imaps_port}",
             f"--imap.listen=127.0.0.1:{self.imap_port}", f"--admin.listen=127.0.0.1:{self.admin_port}",
             f"--https.listen=127.0.0.1:{self.https_port}",
             *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"second pimap-edge exited {self.proc.returncode}:\n{self.tail()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"second pimap-edge not ready within 30 s:\n{self.tail()}")

    @property
    def imaps(self) -> tuple[str, int]:
        return ("127.0.0.1", self.imaps_port)

    @property
    def imap(self) -> tuple[str, int]:
        return ("127.0.0.1", self.imap_port)

    def alive(self) -> bool:
        return self.proc.poll() is None

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


def stack_edge(stack: dict, kind: str = "imaps") -> tuple[str, int]:
    return host_port(stack["edge"][kind])
