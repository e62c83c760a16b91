"""A raw HTTPS client for the edge's HTTPS binding (profile §10): one POST per TLS connection.

Raw, not curl, so a test can start a long-lived request (a batch ending in IDLE), do something else
(send mail), and read the response afterwards, without threads. The PIMAPSESSION cookie is kept like a
browser would keep it: set by Set-Cookie, dropped by Max-Age=0.
"""

from __future__ import annotations

import socket
import ssl
import time

from pimap_stack import host_port

TYPE = "application/vnd.pimap"


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def lines(self) -> list[bytes]:
        return [ln + b"\r\n" for ln in self.body.split(b"\r\n") if ln]


class Pending:
    """A POST sent, its response not read yet."""

    def __init__(self, client: "HttpsClient", sock: ssl.SSLSocket):
        self.client, self.sock, self.buf = client, sock, b""

    def _fill(self, deadline: float) -> None:
        self.sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = self.sock.recv(65536)
        assert chunk, f"the edge closed the connection; had {self.buf!r}"
        self.buf += chunk

    def response(self, seconds: float = 60) -> Response:
        deadline = time.monotonic() + seconds
        try:
            while b"\r\n\r\n" not in self.buf:
                self._fill(deadline)
            head, rest = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers: dict[str, str] = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                headers[k.strip().lower()] = v.strip()
            self.buf = rest
            if headers.get("transfer-encoding") == "chunked":
                body = self._chunked(deadline)
            else:
                need = int(headers.get("content-length", "0"))
                while len(self.buf) < need:
                    self._fill(deadline)
                body = self.buf[:need]
        finally:
            self.sock.close()
        self.client.take_cookie(headers.get("set-cookie"))
        return Response(status, headers, body)

    def _chunked(self, deadline: float) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill(deadline)
            size, rest = self.buf.split(b"\r\n", 1)
            n = int(size, 16)
            while len(rest) < n + 2:
                self._fill(deadline)
                size, rest = self.buf.split(b"\r\n", 1)
            body, self.buf = body + rest[:n], rest[n + 2:]
            if n == 0:
                return body


class HttpsClient:
    """One device on the HTTPS binding (the stack's edge unless `address` names another), verified
    against the stack CA."""

    def __init__(self, stack: dict, address: tuple[str, int] | None = None, path: str = "/pimap"):
        self.address = address or host_port(stack["edge"]["https"])
        self.tls = ssl.create_default_context(cafile=stack["ca_cert"])
        self.path = path
        self.cookie: str | None = None

    def take_cookie(self, set_cookie: str | None) -> None:
        if not set_cookie:
            return
        name_value = set_cookie.split(";", 1)[0]
        name, _, value = name_value.partition("=")
        assert name == "PIMAPSESSION", set_cookie
        self.cookie = None if "Max-Age=0" in set_cookie else value

    def start(self, body: bytes) -> Pending:
        raw = socket.create_connection(self.address, timeout=30)
        sock = self.tls.wrap_socket(raw, server_hostname="localhost")
        head = (f"POST {self.path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {TYPE}\r\n"
                f"Content-Length: {len(body)}\r\n")
        if self.cookie:
            head += f"Cookie: PIMAPSESSION={self.cookie}\r\n"
        sock.sendall(head.encode() + b"\r\n" + body)
        return Pending(self, sock)

    def post(self, body: bytes, seconds: float = 60) -> Response:
        return self.start(body).response(seconds)
