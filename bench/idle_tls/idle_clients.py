#!/usr/bin/env python3
"""Opens COUNT TLS connections from SRC_IP to HOST:PORT, completes each handshake, then holds
them idle for HOLD seconds (the driver normally kills it earlier, by PID). Prints "ESTABLISHED <ok> <failed>" once all
attempts have finished. Standard library only; one process per source address (see run.py).

    idle_clients.py HOST PORT COUNT SRC_IP HOLD_SECS
"""
import asyncio
import resource
import ssl
import sys

# asyncio keeps a 256 KiB TLS read buffer per connection by default; 16 KiB keeps the driver
# small enough to hold 20,000 connections beside the server.
import asyncio.sslproto
asyncio.sslproto.SSLProtocol.max_size = 16 * 1024


async def main(host, port, count, src, hold):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert count + 20 <= hard, f"{count} connections need more than the {hard} descriptor limit"
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the driver measures the server, it does not judge it
    in_flight = asyncio.Semaphore(128)
    conns, failed = [], 0

    async def one():
        nonlocal failed
        async with in_flight:
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(host, port, ssl=ctx, local_addr=(src, 0)), 60)
                conns.append((r, w))
            except Exception:  # noqa: BLE001 - counted, reported, never fatal
                failed += 1

    await asyncio.gather(*(one() for _ in range(count)))
    print(f"ESTABLISHED {len(conns)} {failed}", flush=True)
    await asyncio.sleep(hold)
    for _, w in conns:
        w.transport.abort()


if __name__ == "__main__":
    h, p, n, s, hold = sys.argv[1:6]
    asyncio.run(main(h, int(p), int(n), s, float(hold)))
