"""The local cluster works end to end: every component is real, reachable and wired together."""

from __future__ import annotations

import http.server
import imaplib
import json
import re
import smtplib
import ssl
import subprocess
import threading
import urllib.parse
import urllib.request
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from pimap_stack import accepts, addresses, host_port, wait_for


def _token() -> str:
    return uuid.uuid4().hex[:12]


def _send_mail(stack: dict, rcpt: str, subject: str, body: str = "hello from the stack test") -> None:
    msg = EmailMessage()
    msg["From"] = "sender@example.org"
    msg["To"] = rcpt
    msg["Subject"] = subject
    msg.set_content(body)
    host, port = host_port(stack["smtp"])
    with smtplib.SMTP(host, port, local_hostname="client.example.test", timeout=10) as smtp:
        refused = smtp.send_message(msg)
    assert refused == {}


def _tls(stack: dict) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=stack["ca_cert"])


def _imaps(stack: dict, server_hostname: str = "127.0.0.1") -> imaplib.IMAP4_SSL:
    _, port = host_port(stack["dovecot"]["imaps"])
    return imaplib.IMAP4_SSL(server_hostname, port, ssl_context=_tls(stack), timeout=10)


def _find_subject(conn: imaplib.IMAP4, subject: str) -> list[bytes]:
    conn.select("INBOX")
    typ, data = conn.search(None, "SUBJECT", f'"{subject}"')
    assert typ == "OK"
    return data[0].split()


def _user(stack: dict, index: int) -> dict:
    return stack["users"][index]


def test_description_has_every_key_and_only_loopback_addresses(stack):
    for key in ("dir", "ca_cert", "edge", "session", "metrics", "dovecot", "smtp", "redis", "kafka",
                "kannel", "users", "store_watcher"):
        assert key in stack, key
    assert set(stack["edge"]) >= {"imap", "imaps", "https"}
    assert set(stack["metrics"]) >= {"edge", "session", "store-watcher", "notifier"}
    assert set(stack["kannel"]) >= {"sendsms", "ppg", "fakesmsc_log", "netns"}
    addrs = addresses(stack)
    # Dovecot's push URL points at the store-watcher intake on purpose; everything else is distinct.
    assert addrs.pop("dovecot.push_url") == stack["store_watcher"]["intake"]
    ports = [host_port(a)[1] for a in addrs.values()]
    assert len(ports) == len(set(ports)), f"two services share a port: {addrs}"
    for must_listen in ("smtp", "redis", "kafka", "dovecot.imap", "dovecot.imaps", "dovecot.lmtp",
                        "kannel.sendsms", "kannel.ppg"):
        assert accepts(addrs[must_listen]), f"{must_listen} ({addrs[must_listen]}) refuses connections"


def test_fifty_users_each_with_its_own_mail_uid(stack):
    users = stack["users"]
    assert len(users) >= 50
    assert len({u["name"] for u in users}) == len(users)
    assert all(u["email"].endswith("@example.test") for u in users)
    mail_root = Path(stack["dovecot"]["mail_root"])
    if not mail_root.exists():
        pytest.skip("stack dir not on this machine")
    uids = {(mail_root / u["name"]).stat().st_uid for u in users}
    assert len(uids) == len(users), "the 128-inotify-per-uid limit needs one mail uid per user"


def test_imaps_certificate_verifies_against_the_stack_ca(stack):
    for name in ("127.0.0.1", "localhost"):
        with _imaps(stack, name) as conn:
            assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ssl.SSLError):
        _, port = host_port(stack["dovecot"]["imaps"])
        imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ssl.create_default_context(), timeout=10)


def test_capabilities_after_login(stack):
    u = _user(stack, 0)
    with _imaps(stack) as conn:
        conn.login(u["name"], u["password"])
        typ, data = conn.capability()
    caps = set(data[0].decode().upper().split())
    for cap in ("IDLE", "CONDSTORE", "QRESYNC", "NOTIFY", "COMPRESS=DEFLATE", "METADATA", "ENABLE"):
        assert cap in caps, f"{cap} missing from {sorted(caps)}"


def test_mail_through_postfix_arrives_in_dovecot_and_master_user_sees_it(stack):
    u = _user(stack, 1)
    subject = f"stack-test {_token()}"
    _send_mail(stack, u["email"], subject)
    with _imaps(stack) as conn:
        conn.login(u["name"], u["password"])
        found = wait_for(lambda: _find_subject(conn, subject), timeout=10, interval=0.2)
        assert found, f"mail '{subject}' not delivered to {u['email']} within 10 s"
        typ, data = conn.fetch(found[0], "(BODY.PEEK[TEXT])")
        assert b"hello from the stack test" in data[0][1]
    d = stack["dovecot"]
    with _imaps(stack) as conn:
        conn.login(f"{u['name']}{d['master_user_separator']}{d['master_user']}", d["master_password"])
        assert _find_subject(conn, subject), "master user does not see the user's INBOX"
    with _imaps(stack) as conn, pytest.raises(imaplib.IMAP4.error):
        conn.login(f"{u['name']}*{d['master_user']}", "wrong-password")


class _PushIntake(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_PUT(self):  # noqa: N802 - Dovecot's OX driver sends PUT
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.command, self.path, body))
        self.send_response(204)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *args):
        pass


def test_dovecot_push_notification_reaches_the_store_watcher_intake(stack):
    if accepts(stack["store_watcher"]["intake"]):
        pytest.skip("a real store-watcher owns the intake port")
    _PushIntake.received = []
    server = http.server.ThreadingHTTPServer(host_port(stack["store_watcher"]["intake"]), _PushIntake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        u = _user(stack, 2)
        subject = f"push-test {_token()}"
        _send_mail(stack, u["email"], subject)
        got = wait_for(lambda: [r for r in _PushIntake.received if subject.encode() in r[2]], 10)
    finally:
        server.shutdown()
        server.server_close()
    assert got, f"no push for '{subject}' at the intake; received {_PushIntake.received}"
    method, path, body = got[0]
    event = json.loads(body)
    if stack["dovecot"].get("push_driver", "ox") == "lua":  # services/store-watcher/dovecot/pimap-push.lua
        assert (method, path) == ("POST", "/dovecot/lua")
        (new,) = [e for e in event["events"] if e["type"] == "MessageNew"]
        assert event["user"] == u["name"] and new["mailbox"] == "INBOX" and new["subject"] == subject
    else:
        assert (method, path) == ("PUT", "/dovecot/push")
        assert event["user"] == u["name"] and event["event"] == "messageNew" and event["folder"] == "INBOX"


def _kcat(stack: dict, *args: str, data: bytes | None = None) -> bytes:
    r = subprocess.run(["kcat", "-b", stack["kafka"], *args], input=data, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def test_kafka_topic_exists_and_a_record_round_trips(stack):
    meta = json.loads(_kcat(stack, "-L", "-J", "-t", "pimap.events"))
    (events,) = [t for t in meta["topics"] if t["topic"] == "pimap.events"]
    assert len(events["partitions"]) == 8
    topic = stack["kafka_topics"]["selftest"]
    key, value = f"user-{_token()}", f"event-{_token()}"
    _kcat(stack, "-P", "-t", topic, "-K", ":", "-X", "acks=all", data=f"{key}:{value}\n".encode())
    out = _kcat(stack, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s\\n")
    assert f"{key}={value}".encode() in out.splitlines()


def _redis(stack: dict, *args: str) -> list[str]:
    host, port = host_port(stack["redis"])
    r = subprocess.run(["redis-cli", "-h", host, "-p", str(port), *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_redis_stream_round_trip_and_aof(stack):
    assert _redis(stack, "CONFIG", "GET", "appendonly") == ["appendonly", "yes"]
    stream, token = f"pimap:selftest:{_token()}", _token()
    (entry_id,) = _redis(stack, "XADD", stream, "*", "event", token)
    assert _redis(stack, "XRANGE", stream, "-", "+") == [entry_id, "event", token]
    assert _redis(stack, "DEL", stream) == ["1"]


def _fakesmsc_lines(stack: dict) -> list[str]:
    return Path(stack["kannel"]["fakesmsc_log"]).read_text(errors="replace").splitlines()


def test_sms_through_kannel_sendsms_reaches_fakesmsc(stack):
    k = stack["kannel"]
    text = f"stack test {_token()}"
    query = urllib.parse.urlencode({"username": k["sendsms_username"], "password": k["sendsms_password"],
                                    "from": "12345", "to": "+4912345678", "text": text})
    with urllib.request.urlopen(f"{k['sendsms']}?{query}", timeout=10) as r:
        assert b"Accepted" in r.read()
    got = wait_for(lambda: [line for line in _fakesmsc_lines(stack) if text in line], 10)
    assert got and "+4912345678" in got[0], f"SMS '{text}' not seen by fakesmsc"


PAP = """--{b}\r
Content-Type: application/xml\r
\r
<?xml version="1.0"?>\r
<!DOCTYPE pap PUBLIC "-//WAPFORUM//DTD PAP 2.0//EN" "http://www.wapforum.org/DTD/pap_2.0.dtd">\r
<pap>\r
  <push-message push-id="{token}@pimap.test">\r
    <address address-value="WAPPUSH=+4912345678/TYPE=PLMN@ppg.pimap.test"/>\r
    <quality-of-service priority="high" delivery-method="unconfirmed" network-required="true" network="GSM" bearer-required="true" bearer="SMS"/>\r
  </push-message>\r
</pap>\r
--{b}\r
Content-Type: text/vnd.wap.si\r
\r
<?xml version="1.0"?>\r
<!DOCTYPE si PUBLIC "-//WAPFORUM//DTD SI 1.0//EN" "http://www.wapforum.org/DTD/si.dtd">\r
<si><indication href="http://mail.example.test/{token}" si-id="{token}@pimap.test" action="signal-high">New mail</indication></si>\r
--{b}--\r
"""


def test_wap_push_through_the_ppg_is_accepted_and_reaches_fakesmsc(stack):
    token, boundary = _token(), "pimap-pap-boundary"
    content_type = f'multipart/related; boundary={boundary}; type="application/xml"'
    req = urllib.request.Request(stack["kannel"]["ppg"], data=PAP.format(b=boundary, token=token).encode(),
                                 method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as r:
        answer = r.read().decode()
    assert re.search(r'code\s*=\s*"1001"', answer), answer  # Kannel writes `code ="1001"`
    # The SI is compiled to WBXML and sent as one binary SMS; the href text stays readable.
    got = wait_for(lambda: [line for line in _fakesmsc_lines(stack) if token in line and " udh " in line], 10)
    assert got, f"WAP push {token} not seen by fakesmsc"
