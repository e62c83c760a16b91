"""A burst of concurrent deliveries through Postfix loses no event (issue #5).

Postfix delivers 50 mails to one user over several parallel LMTP connections. Dovecot's Maildir only
try-locks its uidlist when a delivery commits, so under contention it saves some mails without a UID
and its push_notification Lua driver reports them with uid 0. The store-watcher used to answer those
hooks 400 and drop them; now such a hook asks the user's reconcile (which knows the UIDs) to publish
them. The test checks what a notifier would read: one MESSAGE_NEW per delivered UID in Kafka
`pimap.events`, and no rejected hook in Dovecot's log.

User user37 (shared with test_store_watcher_events.py, which runs in the same cluster one file at a
time); the mails carry a per-run token, so only this run's UIDs are compared.
"""

from __future__ import annotations

import imaplib
import smtplib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pimap_stack import host_port, wait_for
from test_store_watcher_events import (Events, _user, imap, of_kind, one, redis, request_full_reconcile, token,
                                       watcher)  # noqa: F401  (watcher is the fixture)

MAILS = 50
CONNECTIONS = 10  # parallel SMTP clients, MAILS / CONNECTIONS mails each


def _send(stack: dict, rcpt: str, subjects: list[str]) -> None:
    host, port = host_port(stack["smtp"])
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        for subject in subjects:
            msg = f"From: burst <burst@example.org>\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\nburst\r\n"
            assert smtp.sendmail("burst@example.org", [rcpt], msg) == {}


def _uids_with(c: imaplib.IMAP4, text: str) -> set[int]:
    c.select("INBOX", readonly=True)
    typ, data = c.uid("SEARCH", "SUBJECT", f'"{text}"')
    assert typ == "OK", data
    return {int(x) for x in data[0].split()}


def _dovecot_log(stack: dict) -> Path:
    return Path(stack["logs"]) / "dovecot.log"


def test_fifty_concurrent_deliveries_through_postfix_all_reach_kafka(watcher):
    u = _user(watcher, "user37")
    name = u["name"]
    # A watched user with a recorded baseline (what a device's registration and the watcher's catch-up
    # give): the reconcile a UID-less hook asks for then publishes exactly what arrived since.
    redis(watcher, "SADD", "pimap:watched", name)
    state_key = f"pimap:sw:mbox:{{{name}}}"
    redis(watcher, "DEL", state_key)
    with imap(watcher, u) as c:
        c.select("INBOX")
    request_full_reconcile(watcher, name)
    assert wait_for(lambda: redis(watcher, "HGET", state_key, "INBOX").strip() != "", 30, interval=0.3), \
        "the store-watcher recorded no reconcile baseline for INBOX"

    log = _dovecot_log(watcher)
    log_start = log.stat().st_size
    events = Events(watcher, name)
    tok = token()
    subjects = [f"burst {tok} {i:02d}" for i in range(MAILS)]
    per = MAILS // CONNECTIONS
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        for f in [pool.submit(_send, watcher, u["email"], subjects[i:i + per]) for i in range(0, MAILS, per)]:
            f.result()

    stored: set[int] = set()

    def all_stored() -> bool:
        with imap(watcher, u) as c:
            stored.clear()
            stored.update(_uids_with(c, tok))
        return len(stored) == MAILS

    assert wait_for(all_stored, 90, interval=1), f"only {len(stored)} of {MAILS} mails in INBOX"

    def new_uids(got: list[dict]) -> set[int]:
        return {int(x) for e in of_kind(got, "MESSAGE_NEW", "INBOX") for x in e.get("uids", [])} & stored

    got = events.wait(lambda ev: new_uids(ev) == stored, f"MESSAGE_NEW for all {MAILS} delivered UIDs")
    burst = [e for e in of_kind(got, "MESSAGE_NEW", "INBOX") if int(e["uids"][0]) in stored]
    assert {one(e, "event_id") for e in burst} == {f"{name}/INBOX/{one(e, 'uidvalidity')}/{int(e['uids'][0])}/new"
                                                   for e in burst}
    assert len({one(e, "event_id") for e in burst}) == MAILS  # duplicates (hook + reconcile) share an id

    tail = log.read_bytes()[log_start:].decode(errors="replace")
    rejected = [ln for ln in tail.splitlines() if "pimap-push:" in ln and " answered 400" in ln]
    assert not rejected, "\n".join(rejected[:5])
    redis(watcher, "SREM", "pimap:watched", name)
