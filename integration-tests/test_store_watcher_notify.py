"""watch.mode notify and idle (docs/store-watcher.md): a Dovecot without any push_notification driver
(PIMAP_STACK_PUSH_DRIVER=none, so no hook ever reaches the store-watcher) and a store-watcher holding one
IMAP connection per watched user: NOTIFY (RFC 5465), or, for stores that lack it, IDLE on INBOX
(PIMAP_STACK_WATCH_MODE=idle). A delivery, a flag change and an expunge made by ordinary clients still
come out of Kafka `pimap.events`, as reconcile events, long before the periodic reconcile (5 min) runs.

This file brings up a stack of its own per mode (the shared one runs the Lua driver) and tears it down.
"""

from __future__ import annotations

import re
import tempfile
import urllib.request
from pathlib import Path

import pytest

import test_store_watcher_events as sw
from pimap_stack import remove_dir, stack_down, stack_up, wait_for

USER = "user34"


def _gauge(stack: dict, name: str) -> float:
    with urllib.request.urlopen(f"http://{stack['metrics']['store-watcher']}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    assert m, f"no {name} series"
    return float(m.group(1))


@pytest.fixture(scope="module", params=["notify", "idle"])
def notify_stack(request):
    directory = Path(tempfile.mkdtemp(prefix="pimap-nt-", dir="/tmp"))  # short: Dovecot's socket paths
    try:
        stack = stack_up(directory, env={"PIMAP_STACK_PUSH_DRIVER": "none", "PIMAP_STACK_WATCH_MODE": request.param})
        assert stack["dovecot"]["push_driver"] == "none"
        assert "store-watcher" in stack.get("pimap_services", []), "no pimap-store-watcher in PIMAP_BUILD_DIR"
        # The store-watcher says which mode it runs; the connections it holds are that kind.
        log = (directory / "logs" / "store-watcher.log").read_text()
        assert f"watch.mode {request.param}: one IMAP" in log, log[-2000:]
        yield stack
    finally:
        stack_down(directory)
        remove_dir(directory)


@pytest.fixture(scope="module")
def watched(notify_stack):
    """USER is watched, its NOTIFY connection is up and its baseline recorded."""
    s = notify_stack
    sw.redis(s, "SADD", "pimap:watched", USER)
    assert wait_for(lambda: _gauge(s, "pimap_store_watcher_notify_connections") >= 1, sw.EVENT_WAIT), \
        "the store-watcher opened no NOTIFY / IDLE connection for the watched user"
    state_key = f"pimap:sw:mbox:{{{USER}}}"
    assert wait_for(lambda: "INBOX" in sw.redis(s, "HKEYS", state_key), sw.EVENT_WAIT), \
        "no baseline after the NOTIFY connection came up"
    return s


def test_delivery_flag_change_and_expunge_reach_kafka_through_notify(watched):
    s = watched
    u = sw._user(s, USER)
    events = sw.Events(s, USER)
    subject = f"notify-new {sw.token()}"
    sw.deliver(s, u, subject)
    with sw.imap(s, u) as c:
        uid = sw.uid_of(c, subject)
        uidvalidity = sw.status(c, "INBOX")[b"UIDVALIDITY"]
    got = events.wait(lambda ev: any(e["uids"] == [str(uid)] for e in sw.of_kind(ev, "MESSAGE_NEW", "INBOX")),
                      f"MESSAGE_NEW uid {uid}")
    (new,) = [e for e in sw.of_kind(got, "MESSAGE_NEW") if e["uids"] == [str(uid)]]
    assert new["messages"][0]["subject"] == [subject]
    assert sw.one(new, "source") == "reconcile"  # Dovecot has no push driver: only NOTIFY / IDLE could tell
    assert sw.one(new, "event_id") == f"{USER}/INBOX/{uidvalidity}/{uid}/new"

    events.mark()
    with sw.imap(s, u) as c:
        c.select("INBOX")
        assert c.uid("STORE", str(uid), "+FLAGS", r"(\Flagged)")[0] == "OK"
    got = events.wait(lambda ev: any(e["uids"] == [str(uid)] and "\\Flagged" in e.get("flags", [])
                                     for e in sw.of_kind(ev, "FLAGS_CHANGED")), f"FLAGS_CHANGED uid {uid}")

    events.mark()
    with sw.imap(s, u) as c:
        c.select("INBOX")
        c.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)")
        c.expunge()
    got = events.wait(lambda ev: any(e["uids"] == [str(uid)] for e in sw.of_kind(ev, "MESSAGE_EXPUNGED", "INBOX")),
                      f"MESSAGE_EXPUNGED uid {uid}")
    assert all(sw.one(e, "source") == "reconcile" for e in got)
