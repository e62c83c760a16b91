"""Store changes made by real IMAP/LMTP clients against the stack's Dovecot come out of Kafka
`pimap.events` as StoreEvents (docs/store-watcher.md):

- live, through Dovecot's push_notification Lua driver (services/store-watcher/dovecot/pimap-push.lua):
  a delivery, a flag change, an expunge, a mailbox create / rename / delete;
- after downtime: store-watcher killed -9, changes made directly in Dovecot meanwhile (its hooks then
  fail), store-watcher restarted -> its MODSEQ/QRESYNC reconcile (as the master user) publishes them.

Kafka is read with kcat (payload length framed, so binary protobuf is safe) and decoded with
`protoc --decode`, so the test checks the bytes the notifier would get. Users user34..user37 are
used by no other test file. Redis is stopped and restarted by the last test.
"""

from __future__ import annotations

import imaplib
import re
import secrets
import smtplib
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

from pimap_stack import REPO, host_port, stack_component, wait_for

PROTO_DIR = REPO / "proto"
TOPIC = "pimap.events"
CONTROL_TOPIC = "pimap.store-watcher.control"
EVENT_WAIT = 20  # seconds; a hook is answered in milliseconds, a reconcile after a restart in ~10 s


# ---- Kafka: read and decode StoreEvents -------------------------------------------------------

def _records(stack: dict, topic: str = TOPIC) -> list[tuple[int, int, bytes, bytes]]:
    """Every record of `topic` as (partition, offset, key, value)."""
    r = subprocess.run(["kcat", "-b", stack["kafka"], "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", "%p %o %K %S\n%k%s"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    out, data, pos = [], r.stdout, 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        partition, offset, klen, vlen = (int(x) for x in data[pos:nl].split())
        pos = nl + 1
        klen, vlen = max(klen, 0), max(vlen, 0)
        key, value = data[pos:pos + klen], data[pos + klen:pos + klen + vlen]
        pos += klen + vlen
        out.append((partition, offset, key, value))
    return out


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _decode(values: list[bytes]) -> list[dict]:
    """StoreEvents -> dicts (field -> list of values; nested messages as dicts), via protoc."""
    if not values:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "batch.proto").write_text(
            'syntax = "proto3";\nimport "pimap/events.proto";\n'
            "message Batch { repeated pimap.v1.StoreEvent e = 1; }\n")
        wire = b"".join(b"\x0a" + _varint(len(v)) + v for v in values)
        r = subprocess.run(["protoc", f"-I{tmp}", f"-I{PROTO_DIR}", "--decode=Batch", "batch.proto"],
                           input=wire, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    top: dict = {}
    stack_ = [top]
    for line in r.stdout.decode().splitlines():
        line = line.strip()
        if line.endswith("{"):
            child: dict = {}
            stack_[-1].setdefault(line[:-1].strip(), []).append(child)
            stack_.append(child)
        elif line == "}":
            stack_.pop()
        elif line:
            name, value = line.split(": ", 1)
            if value.startswith('"'):
                value = value[1:-1].encode("latin-1").decode("unicode_escape").encode("latin-1").decode()
            stack_[-1].setdefault(name, []).append(value)
    return top.get("e", [])


def one(event: dict, field: str, default=None):
    return event.get(field, [default])[0]


class Events:
    """StoreEvents for one user published after `mark()`."""

    def __init__(self, stack: dict, user: str):
        self.stack, self.user, self.seen = stack, user, set()
        self.mark()

    def mark(self) -> None:
        self.seen |= {(p, o) for p, o, _, _ in _records(self.stack)}

    def new(self) -> list[dict]:
        return _decode([v for p, o, k, v in _records(self.stack)
                        if k == self.user.encode() and (p, o) not in self.seen])

    def wait(self, predicate, what: str) -> list[dict]:
        """New events once `predicate(events)` holds; fails with what arrived otherwise."""
        got: list[dict] = []

        def ready():
            got[:] = self.new()
            return predicate(got)

        wait_for(ready, EVENT_WAIT, interval=0.3)
        assert predicate(got), f"{what}: not in Kafka after {EVENT_WAIT}s; got {[_brief(e) for e in got]}"
        return got


def _brief(e: dict) -> str:
    return (f"{one(e, 'kind')} {one(e, 'mailbox')} uids={e.get('uids', [])} "
            f"flags={e.get('flags', [])} src={one(e, 'source')}")


def of_kind(events: list[dict], kind: str, mailbox: str | None = None) -> list[dict]:
    return [e for e in events if one(e, "kind") == kind and (mailbox is None or one(e, "mailbox") == mailbox)]


# ---- Store clients ------------------------------------------------------------------------------

def _user(stack: dict, name: str) -> dict:
    (u,) = [u for u in stack["users"] if u["name"] == name]
    return u


def deliver(stack: dict, user: dict, subject: str) -> None:
    host, port = host_port(stack["dovecot"]["lmtp"])
    with smtplib.LMTP(host, port) as lmtp:
        lmtp.sendmail("it@example.test", [user["email"]],
                      f"From: Tester <it@example.test>\r\nTo: {user['email']}\r\nSubject: {subject}\r\n\r\nhi\r\n")


def imap(stack: dict, user: dict) -> imaplib.IMAP4:
    host, port = host_port(stack["dovecot"]["imap"])
    c = imaplib.IMAP4(host, port, timeout=30)
    c.login(user["name"], user["password"])
    return c


def uid_of(c: imaplib.IMAP4, subject: str) -> int:
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "SUBJECT", f'"{subject}"')
    assert typ == "OK" and data[0], f"no message '{subject}' in INBOX"
    return int(data[0].split()[-1])


def status(c: imaplib.IMAP4, mailbox: str) -> dict:
    typ, data = c.status(mailbox, "(UIDVALIDITY UIDNEXT)")
    assert typ == "OK", data
    return {k: int(v) for k, v in re.findall(rb"(UIDVALIDITY|UIDNEXT) (\d+)", data[0])}


def redis(stack: dict, *args: str) -> str:
    host, port = host_port(stack["redis"])
    r = subprocess.run(["redis-cli", "-h", host, "-p", str(port), *args], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout


def token() -> str:
    return secrets.token_hex(4)


@pytest.fixture(scope="module")
def watcher(stack):
    if "store-watcher" not in stack.get("pimap_services", []):
        pytest.fail("the stack runs no store-watcher (build pimap-store-watcher in PIMAP_BUILD_DIR)")
    if stack["dovecot"].get("push_driver") != "lua":
        pytest.fail("the stack's Dovecot does not use the Lua push driver")
    return stack


# ---- Live: the Lua driver ----------------------------------------------------------------------

def test_delivery_becomes_message_new(watcher):
    u = _user(watcher, "user34")
    events = Events(watcher, u["name"])
    subject = f"lua-new {token()}"
    deliver(watcher, u, subject)
    with imap(watcher, u) as c:
        uid = uid_of(c, subject)
        uidvalidity = status(c, "INBOX")[b"UIDVALIDITY"]
    got = events.wait(lambda ev: any(m.get("subject") == [subject] for e in of_kind(ev, "MESSAGE_NEW")
                                     for m in e.get("messages", [])), f"MESSAGE_NEW '{subject}'")
    (e,) = [e for e in of_kind(got, "MESSAGE_NEW") if e["messages"][0].get("subject") == [subject]]
    assert one(e, "mailbox") == "INBOX" and e["uids"] == [str(uid)]
    assert one(e, "uidvalidity") == str(uidvalidity)
    assert one(e, "source") == "push_notification"
    assert one(e, "event_id") == f"{u['name']}/INBOX/{uidvalidity}/{uid}/new"
    assert int(one(e["status"][0], "uidnext")) > uid  # the mailbox status after the delivery


def test_flag_change_becomes_flags_changed_with_the_full_set(watcher):
    u = _user(watcher, "user34")
    subject = f"lua-flags {token()}"
    deliver(watcher, u, subject)
    with imap(watcher, u) as c:
        uid = uid_of(c, subject)
        c.uid("STORE", str(uid), "+FLAGS", r"(\Seen)")
        events = Events(watcher, u["name"])
        typ, _ = c.uid("STORE", str(uid), "+FLAGS", r"(\Flagged $Work)")
        assert typ == "OK"

    def has_flagged(ev):
        return any(e["uids"] == [str(uid)] and "\\Flagged" in e.get("flags", [])
                   for e in of_kind(ev, "FLAGS_CHANGED"))
    got = events.wait(has_flagged, f"FLAGS_CHANGED \\Flagged on uid {uid}")
    (e,) = [e for e in of_kind(got, "FLAGS_CHANGED") if e["uids"] == [str(uid)] and "\\Flagged" in e["flags"]]
    # Devices need the whole set: the flag set before (\Seen) is there too.
    assert set(e["flags"]) == {"\\Seen", "\\Flagged", "$Work"}
    assert int(one(e, "modseq")) > 0 and one(e, "mailbox") == "INBOX"


def test_expunge_becomes_message_expunged(watcher):
    u = _user(watcher, "user35")
    subject = f"lua-expunge {token()}"
    deliver(watcher, u, subject)
    with imap(watcher, u) as c:
        uid = uid_of(c, subject)
        events = Events(watcher, u["name"])
        c.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)")
        c.expunge()
    got = events.wait(lambda ev: any(e["uids"] == [str(uid)] for e in of_kind(ev, "MESSAGE_EXPUNGED", "INBOX")),
                      f"MESSAGE_EXPUNGED uid {uid}")
    # The hook's; the reconcile run the \Deleted flag change asks for may repeat it, with the same id.
    expunged = of_kind(got, "MESSAGE_EXPUNGED")
    assert one(expunged[0], "source") == "push_notification", [_brief(e) for e in got]
    assert {one(e, "event_id") for e in expunged} == {one(expunged[0], "event_id")}, [_brief(e) for e in got]
    assert {one(e, "source") for e in expunged[1:]} <= {"reconcile"}, [_brief(e) for e in got]


def test_mailbox_create_rename_delete(watcher):
    u = _user(watcher, "user35")
    first, renamed = f"Proj-{token()}", f"Archive-{token()}"
    events = Events(watcher, u["name"])
    with imap(watcher, u) as c:
        assert c.create(first)[0] == "OK"
        uidvalidity = status(c, first)[b"UIDVALIDITY"]
        assert c.rename(first, renamed)[0] == "OK"
        assert c.delete(renamed)[0] == "OK"
    got = events.wait(lambda ev: of_kind(ev, "MAILBOX_DELETED", renamed), f"MAILBOX_DELETED {renamed}")
    # Dovecot auto-creates Drafts/Sent/Trash (auto = subscribe) lazily, so their events may show up too.
    ours = [e for e in got if one(e, "mailbox") in (first, renamed)]
    kinds = [(one(e, "kind"), one(e, "mailbox")) for e in ours]
    assert kinds == [("MAILBOX_CREATED", first), ("MAILBOX_RENAMED", renamed), ("MAILBOX_DELETED", renamed)], kinds
    created, moved = ours[0], ours[1]
    assert one(moved, "old_mailbox") == first
    # Dovecot keeps UIDVALIDITY across RENAME; the ids are the ones a reconcile run would compute.
    assert one(created, "event_id") == f"{u['name']}/{first}/{uidvalidity}/created"
    assert one(moved, "event_id") == f"{u['name']}/{renamed}/{uidvalidity}/renamed-from/{first}"


def test_non_ascii_mailbox_names_take_the_imap_spelling(watcher):
    """Dovecot's Lua hooks name mailboxes in UTF-8, its IMAP in modified UTF-7: events carry the latter
    (the name a device SELECTs and the reconciler sends back), so both paths give one event id."""
    u = _user(watcher, "user35")
    name = f"Entw&APw-rfe-{token()}"  # "Entwürfe-…" as IMAP spells it
    events = Events(watcher, u["name"])
    with imap(watcher, u) as c:
        assert c.create(name)[0] == "OK"
        subject = f"lua-utf7 {token()}"
        typ, data = c.append(name, None, None,
                             f"From: it@example.test\r\nSubject: {subject}\r\n\r\nhi\r\n".encode())
        assert typ == "OK", data
        st = status(c, name)
        uid, uidvalidity = st[b"UIDNEXT"] - 1, st[b"UIDVALIDITY"]
    got = events.wait(lambda ev: of_kind(ev, "MESSAGE_NEW", name), f"MESSAGE_NEW in {name}")
    (e,) = of_kind(got, "MESSAGE_NEW", name)
    assert one(e, "source") == "push_notification" and e["uids"] == [str(uid)]
    assert one(e, "event_id") == f"{u['name']}/{name}/{uidvalidity}/{uid}/new"
    assert [one(c, "mailbox") for c in of_kind(got, "MAILBOX_CREATED") if "APw" in one(c, "mailbox")] == [name]
    assert not [x for x in got if "\u00fc" in one(x, "mailbox") or "ü" in one(x, "mailbox")], [_brief(x) for x in got]


# ---- After downtime: the reconciler ------------------------------------------------------------

def _fnv1a32(text: str) -> int:
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def _partitions(stack: dict, topic: str) -> int:
    r = subprocess.run(["kcat", "-b", stack["kafka"], "-L", "-t", topic], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return len(re.findall(r"^\s+partition \d+", r.stdout, re.M))


def request_full_reconcile(stack: dict, user: str) -> None:
    """The documented on-demand path: key = user, empty value, on partition shard_of(user)."""
    partition = _fnv1a32(user) % _partitions(stack, CONTROL_TOPIC)
    r = subprocess.run(["kcat", "-b", stack["kafka"], "-P", "-t", CONTROL_TOPIC, "-p", str(partition), "-K", "\t",
                        "-Z", "-X", "acks=all"], input=f"{user}\t\n".encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode()


def test_changes_made_while_the_watcher_was_down_are_published_after_restart(watcher):
    u = _user(watcher, "user36")
    name = u["name"]
    state_key = f"pimap:sw:mbox:{{{name}}}"
    redis(watcher, "SADD", "pimap:watched", name)
    # Known state to compare with: the first reconcile of a watched user records a baseline. (The
    # first login auto-creates Drafts/Sent/Trash; logging in before it keeps them out of the diff.)
    with imap(watcher, u) as c:
        c.select("INBOX")
        old_subject = f"before {token()}"
    deliver(watcher, u, old_subject)
    request_full_reconcile(watcher, name)
    assert wait_for(lambda: "INBOX" in redis(watcher, "HKEYS", state_key), EVENT_WAIT), \
        f"no reconcile state in Redis {state_key}"
    with imap(watcher, u) as c:
        old_uid = uid_of(c, old_subject)
        inbox_before = status(c, "INBOX")
    assert wait_for(lambda: redis(watcher, "HGET", state_key, "INBOX").split()[2] == str(inbox_before[b"UIDNEXT"]),
                    EVENT_WAIT), "baseline does not include the last delivery"

    stack_component(watcher, "stop", "store-watcher", signal="KILL")
    try:
        events = Events(watcher, name)
        subject, box, renamed_from = f"while-down {token()}", f"Down-{token()}", f"Tmp-{token()}"
        deliver(watcher, u, subject)
        with imap(watcher, u) as c:
            new_uid = uid_of(c, subject)
            c.uid("STORE", str(old_uid), "+FLAGS", r"(\Answered)")
            doomed = f"doomed {token()}"
            c.append("INBOX", None, None, f"Subject: {doomed}\r\n\r\nx\r\n".encode())
            doomed_uid = uid_of(c, doomed)
            c.uid("STORE", str(doomed_uid), "+FLAGS", r"(\Deleted)")  # new and gone while the watcher is down
            c.expunge()
            assert c.create(box)[0] == "OK"
            assert c.create(renamed_from)[0] == "OK"
        assert events.new() == [], "the watcher was down; nothing may have been published yet"
    finally:
        stack_component(watcher, "start", "store-watcher")

    # The reconcile that runs when the restarted watcher gains the user's shard.
    got = events.wait(lambda ev: of_kind(ev, "MAILBOX_CREATED", renamed_from) and of_kind(ev, "FLAGS_CHANGED")
                      and of_kind(ev, "MESSAGE_NEW") and of_kind(ev, "MESSAGE_EXPUNGED"),
                      "reconciled changes after restart")
    assert all(one(e, "source") == "reconcile" for e in got), [_brief(e) for e in got]
    (flags,) = of_kind(got, "FLAGS_CHANGED")
    assert flags["uids"] == [str(old_uid)] and "\\Answered" in flags["flags"]
    assert of_kind(got, "MAILBOX_CREATED", box)
    (new,) = of_kind(got, "MESSAGE_NEW")
    assert new["uids"] == [str(new_uid)] and new["messages"][0]["subject"] == [subject]
    assert new["messages"][0]["from"] == ["Tester <it@example.test>"]
    assert int(one(new["messages"][0], "size")) > 0 and int(one(new["messages"][0], "internal_date_unix")) > 0
    # Appended and expunged while down: no NEW, but an EXPUNGED, since the watcher cannot know whether a
    # hook told devices of it before it went down (docs/store-watcher.md "Races between hooks and runs");
    # a device that never had it drops the expunge.
    doomed_events = [(one(e, "kind"), e["uids"]) for e in got if e.get("uids") == [str(doomed_uid)]]
    assert doomed_events == [("MESSAGE_EXPUNGED", [str(doomed_uid)])], [_brief(e) for e in got]

    # Second downtime: an expunge of a message devices knew, a rename and a delete.
    stack_component(watcher, "stop", "store-watcher", signal="KILL")
    try:
        events.mark()
        renamed_to = f"Renamed-{token()}"
        with imap(watcher, u) as c:
            uidvalidity = status(c, renamed_from)[b"UIDVALIDITY"]
            c.select("INBOX")
            c.uid("STORE", str(old_uid), "+FLAGS", r"(\Deleted)")
            c.expunge()
            assert c.rename(renamed_from, renamed_to)[0] == "OK"
            assert c.delete(box)[0] == "OK"
    finally:
        stack_component(watcher, "start", "store-watcher")
    got = events.wait(lambda ev: of_kind(ev, "MESSAGE_EXPUNGED") and of_kind(ev, "MAILBOX_RENAMED")
                      and of_kind(ev, "MAILBOX_DELETED"), "expunge, rename, delete after restart")
    assert [e["uids"] for e in of_kind(got, "MESSAGE_EXPUNGED")] == [[str(old_uid)]]
    (moved,) = of_kind(got, "MAILBOX_RENAMED")
    assert (one(moved, "mailbox"), one(moved, "old_mailbox")) == (renamed_to, renamed_from)
    assert one(moved, "event_id") == f"{name}/{renamed_to}/{uidvalidity}/renamed-from/{renamed_from}"
    assert [one(e, "mailbox") for e in of_kind(got, "MAILBOX_DELETED")] == [box]


# ---- Retry after Redis faults ------------------------------------------------------------------

def _failed_reconciles(stack: dict) -> float:
    with urllib.request.urlopen(f"http://{stack['metrics']['store-watcher']}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^pimap_store_watcher_reconcile_runs_total\{result="error"\} (\S+)$', text, re.M)
    assert m, "no pimap_store_watcher_reconcile_runs_total{result=\"error\"} series"
    return float(m.group(1))


def test_a_flag_change_made_while_redis_is_down_is_published_once_redis_is_back(watcher):
    """The hook's reconcile request cannot run without Redis (the last published MODSEQs live there): it is
    retried with backoff instead of being dropped until the next periodic reconcile (5 min here)."""
    u = _user(watcher, "user37")
    name = u["name"]
    state_key = f"pimap:sw:mbox:{{{name}}}"
    subject = f"redis-down {token()}"
    deliver(watcher, u, subject)
    with imap(watcher, u) as c:
        uid = uid_of(c, subject)
    request_full_reconcile(watcher, name)
    assert wait_for(lambda: "INBOX" in redis(watcher, "HKEYS", state_key), EVENT_WAIT), "no baseline"

    events = Events(watcher, name)
    failed_before = _failed_reconciles(watcher)
    stack_component(watcher, "stop", "redis")
    try:
        with imap(watcher, u) as c:
            c.select("INBOX")
            assert c.uid("STORE", str(uid), "+FLAGS", r"(\Flagged)")[0] == "OK"
        # The hook turned the change into a request; its run failed on Redis (and keeps failing).
        assert wait_for(lambda: _failed_reconciles(watcher) > failed_before, EVENT_WAIT), \
            "the reconcile request never ran against the stopped Redis"
        assert not of_kind(events.new(), "FLAGS_CHANGED"), "published without Redis?"
    finally:
        stack_component(watcher, "start", "redis")
    got = events.wait(lambda ev: any(e["uids"] == [str(uid)] for e in of_kind(ev, "FLAGS_CHANGED")),
                      f"FLAGS_CHANGED uid {uid} after Redis came back")
    (e,) = [e for e in of_kind(got, "FLAGS_CHANGED") if e["uids"] == [str(uid)]]
    assert "\\Flagged" in e["flags"] and one(e, "source") == "reconcile"

    # Redis restarts while the watcher is idle: its kept connection is dead, the next request must not
    # fail on it ("SSCAN/HGETALL: Server closed the connection").
    stack_component(watcher, "restart", "redis", signal="KILL")
    events.mark()
    with imap(watcher, u) as c:
        c.select("INBOX")
        assert c.uid("STORE", str(uid), "+FLAGS", r"($Later)")[0] == "OK"
    got = events.wait(lambda ev: any("$Later" in e.get("flags", []) for e in of_kind(ev, "FLAGS_CHANGED")),
                      f"FLAGS_CHANGED $Later on uid {uid} after a Redis restart")
