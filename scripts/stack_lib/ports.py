"""Free loopback ports for one stack, chosen so that several stacks can run side by side.

A stack takes one aligned block of BLOCK consecutive ports below the kernel's ephemeral range
(so outgoing connections never steal them). A block is taken only if every port in it can be
bound right now; a running stack always has listeners in its block, so another stack skips it.
Until a component starts, its port stays bound by a placeholder socket (no SO_REUSEADDR), which
closes the race between two `stack up` runs picking the same block at the same moment.
"""

from __future__ import annotations

import random
import socket

from .core import HOST

BLOCK = 32
LOWEST = 20000

# Every port a stack owns, by name. Names double as keys in the rendered stack.json.
PORT_NAMES = [
    "edge.imap", "edge.imaps", "edge.https", "session.grpc",
    "metrics.edge", "metrics.session", "metrics.store-watcher", "metrics.notifier",
    "store_watcher.intake",
    "dovecot.imap", "dovecot.imaps", "dovecot.lmtp",
    "smtp", "redis", "kafka", "kafka.controller",
    "kannel.sendsms", "kannel.ppg",
]
assert len(PORT_NAMES) <= BLOCK


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


class PortReservation:
    """Holds placeholder sockets on a block of ports until each component is about to bind."""

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self._held: dict[str, socket.socket] = {}

    @classmethod
    def allocate(cls) -> "PortReservation":
        high = min(_ephemeral_low(), 65536)
        starts = list(range(LOWEST, high - BLOCK + 1, BLOCK))
        random.shuffle(starts)
        for start in starts:
            held = _try_block(start)
            if held is not None:
                r = cls()
                for name, sock in zip(PORT_NAMES, held):
                    r.ports[name] = sock.getsockname()[1]
                    r._held[name] = sock
                for extra in held[len(PORT_NAMES):]:
                    extra.close()
                return r
        raise RuntimeError(f"no free block of {BLOCK} ports between {LOWEST} and {high}")

    def release(self, *names: str) -> None:
        for name in names:
            sock = self._held.pop(name, None)
            if sock is not None:
                sock.close()

    def release_all(self) -> None:
        self.release(*list(self._held))


def _try_block(start: int) -> list[socket.socket] | None:
    held: list[socket.socket] = []
    try:
        for port in range(start, start + BLOCK):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind((HOST, port))
        return held
    except OSError:
        for s in held:
            s.close()
        return None
