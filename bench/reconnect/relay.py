"""A counting TCP relay: what a reconnect costs on the wire, TLS records included.

The client connects to the relay instead of the server; the relay copies bytes both ways unchanged
and counts, per connection, the TCP payload bytes in each direction (TLS records, so handshakes,
certificates and session tickets are included; IP/TCP headers are not) and the round trips.

It also records the flights (runs of bytes in one direction) and counts "turns", server flights
that follow a client flight, plus one for the TCP handshake the relay cannot see. That is only a
cross-check of the round trips the clients count themselves: a TLS 1.3 server's session tickets
race the client's first request, and when they win they show up as an extra turn the client never
waited on.
"""
import asyncio

CHUNK = 64 * 1024


class Connection:
    def __init__(self):
        self.up = 0          # client -> server bytes
        self.down = 0        # server -> client bytes
        self.turns = 0       # server flights that followed a client flight
        self.last = None     # direction of the last bytes seen: "up" / "down"
        self.log = []        # (direction, bytes) per flight, for the report

    def saw(self, direction, n):
        if direction == "up":
            self.up += n
        else:
            self.down += n
            if self.last == "up":
                self.turns += 1
        if self.last == direction:
            self.log[-1][1] += n
        else:
            self.log.append([direction, n])
        self.last = direction

    @property
    def round_trips(self):
        return self.turns + 1  # + the TCP handshake

    def summary(self):
        return {"bytes_up": self.up, "bytes_down": self.down, "bytes_total": self.up + self.down,
                "turns": self.round_trips, "flights": [f"{d}:{n}" for d, n in self.log]}


class Relay:
    """Listens on 127.0.0.1:<ephemeral>, relays every connection to `target` ("host:port")."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.connections = []
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self):
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, cr, cw):
        conn = Connection()
        self.connections.append(conn)
        try:
            sr, sw = await asyncio.open_connection(*self.target)
        except OSError:
            cw.close()
            return

        async def pump(r, w, direction):
            try:
                while data := await r.read(CHUNK):
                    conn.saw(direction, len(data))
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                w.close()

        await asyncio.gather(pump(cr, sw, "up"), pump(sr, cw, "down"))
