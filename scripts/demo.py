#!/usr/bin/env python3
"""Demonstrates pimap's main job on the local cluster: a mail sent through the MTA reaches a device.

If the stack runs an edge, a device logs in through it (P-IMAP session, IMAPS verified against the
stack's CA), and the mail sent through Postfix reaches it through the edge; the script prints the lines
the device received and how long after the submission. Without an edge it reads the mail back from
Dovecot.
"""
import json
import smtplib
import socket
import ssl
import sys
import time
import uuid
from email.message import EmailMessage


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def send_mail(stack, to_addr, subject):
    msg = EmailMessage()
    msg["From"] = "demo-sender@example.org"
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4()}@demo.pimap.test>"
    msg.set_content("Hello from the pimap demo.\n")
    host, port = hostport(stack["smtp"])
    with smtplib.SMTP(host, port, local_hostname="demo.pimap.test", timeout=10) as s:
        s.send_message(msg)


def tls_connect(stack, addr):
    ctx = ssl.create_default_context(cafile=stack["ca_cert"])
    host, port = hostport(addr)
    raw = socket.create_connection((host, port), timeout=15)
    return ctx.wrap_socket(raw, server_hostname="localhost")


class Lines:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until_tag(self, tag):
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + " "):
                return out


def demo_via_edge(stack, user):
    """A device logs in through the edge (a P-IMAP session), a mail goes through Postfix, and the device
    sees it through the edge. Until in-band push reaches the edge, the device notices it with NOOP."""
    sock = tls_connect(stack, stack["edge"]["imaps"])
    io = Lines(sock)
    print("S:", io.line())
    sock.sendall(f'a1 LOGIN "{user["name"]}#Pdemo" "{user["password"]}"\r\n'.encode())
    for l in io.until_tag("a1"):
        print("S:", l if " OK " not in l else l[:60] + " ...")
    sock.sendall(b"a2 SELECT INBOX\r\n")
    exists_before = [l for l in io.until_tag("a2") if l.endswith(" EXISTS")]
    print("S:", exists_before[0] if exists_before else "* 0 EXISTS")
    subject = f"pimap demo {uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    send_mail(stack, user["email"], subject)
    print(f"C: (mail '{subject}' sent through Postfix)")
    n = 0
    while time.monotonic() - t0 < 15:
        n += 1
        sock.sendall(f"n{n} NOOP\r\n".encode())
        new = [l for l in io.until_tag(f"n{n}") if l.endswith(" EXISTS")]
        if new:
            dt = (time.monotonic() - t0) * 1000
            print(f"S: {new[-1]}    <- seen through the edge {dt:.0f} ms after the SMTP submission")
            seq = new[-1].split()[1]
            sock.sendall(f"f1 FETCH {seq} (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n".encode())
            for l in io.until_tag("f1"):
                if l.lower().startswith("subject:"):
                    print("S:", l)
            sock.sendall(b"a4 LOGOUT\r\n")
            sock.close()
            return
        time.sleep(0.1)
    sys.exit("demo: the mail did not reach the device")


def demo_via_dovecot(stack, user):
    subject = f"pimap demo {uuid.uuid4().hex[:8]}"
    send_mail(stack, user["email"], subject)
    import imaplib
    host, port = hostport(stack["dovecot"]["imaps"])
    ctx = ssl.create_default_context(cafile=stack["ca_cert"])
    deadline = time.monotonic() + 10
    with imaplib.IMAP4_SSL("localhost", port, ssl_context=ctx) as m:
        m.login(user["name"], user["password"])
        while time.monotonic() < deadline:
            m.select("INBOX", readonly=True)
            typ, data = m.search(None, "SUBJECT", f'"{subject}"')
            if data[0]:
                print(f"mail '{subject}' sent through Postfix is in {user['name']}'s INBOX (Dovecot, IMAPS)")
                return
            time.sleep(0.2)
    sys.exit("demo: the mail did not arrive")


def main():
    stack = json.load(open(sys.argv[1]))
    user = stack["users"][0]
    edge = stack.get("edge", {}).get("imaps")
    try:
        if edge:
            socket.create_connection(hostport(edge), timeout=2).close()
            return demo_via_edge(stack, user)
    except OSError:
        pass
    demo_via_dovecot(stack, user)


if __name__ == "__main__":
    main()
