#!/usr/bin/env python3
"""TCP forwarder from 127.0.0.1 in the root network namespace into a named netns.

    netns_forward.py --netns NAME LISTEN_PORT:TARGET_PORT [...]

Kannel's wapbox/PPG and fake-SMSC ports bind 0.0.0.0 with no interface option, so Kannel runs
in a netns of its own. This process binds its listeners first (still in the root namespace),
then moves itself into the netns with setns(2); every socket it opens afterwards, i.e. each
upstream connection, lives inside the netns and reaches Kannel on the netns's 127.0.0.1.
Listening sockets keep the namespace they were created in, so no veth or routing is needed.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def enter_netns(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client: socket.socket, target_port: int) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
    except OSError as e:
        print(f"forward: connect to netns 127.0.0.1:{target_port} failed: {e}", flush=True)
        client.close()
        return
    upstream.settimeout(None)
    t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    t.start()
    pump(client, upstream)
    t.join()
    client.close()
    upstream.close()


def serve(listener: socket.socket, target_port: int) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client, target_port), daemon=True).start()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--netns", required=True)
    ap.add_argument("maps", nargs="+", metavar="LISTEN:TARGET")
    args = ap.parse_args()
    listeners = []
    for m in args.maps:
        lport, tport = (int(x) for x in m.split(":"))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", lport))
        s.listen(128)
        listeners.append((s, tport))
    # Single-threaded until here: setns() only moves the calling thread, and threads started
    # later inherit its namespace.
    enter_netns(args.netns)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    for s, tport in listeners:
        print(f"forward: 127.0.0.1:{s.getsockname()[1]} -> netns {args.netns} 127.0.0.1:{tport}", flush=True)
        threading.Thread(target=serve, args=(s, tport), daemon=True).start()
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
