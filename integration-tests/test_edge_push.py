"""In-band events on the TCP binding (profile §4; docs/protocol.md "In-band events").

A P-IMAP device in IDLE on the edge reads its events as ordinary untagged responses: a mail sent
through the stack's Postfix goes Dovecot -> push_notification -> store-watcher -> Kafka -> notifier ->
Redis -> session service -> EdgeStream -> edge, and the device reads `* n EXISTS` within 5 s.

With the stack's Lua push driver every kind of change flows: PIMAP_INBAND_NEW_FORMAT's unsolicited
FETCH after the EXISTS, `* STATUS` for a folder other than the selected one, and flag changes and
expunges made by another client (`* n FETCH (UID u FLAGS (...))`, `* n EXPUNGE`).

With PIMAP_INBAND_PUSH ON (user50) the same events reach a device that has a folder selected while no
command is in progress, except expunges, which RFC 3501 §7.4.1 holds until the device's next command.

Users user46..user50 only. The device id carries a per-run suffix so every run starts a fresh session.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import smtplib
import socket
import time
import urllib.request

import pytest

import edge_harness as h
from edge_wire import Wire, stack_edge
from pimap_stack import host_port

USER = "user46"
RUN = secrets.token_hex(3)
EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")


@pytest.fixture(autouse=True)
def edge_up(stack):
    h.require_edge(stack)
    for svc in ("session", "store-watcher", "notifier"):
        if svc not in stack.get("pimap_services", []):
            pytest.skip(f"the stack did not start pimap-{svc}; in-band events need the whole pipeline")


def device_wire(stack) -> Wire:
    w = Wire(stack_edge(stack, "imaps"), tls=h.tls_context(stack), timeout=15)
    name = f"{USER}#Ppush1-{RUN}"
    untagged, done = w.cmd(f'LOGIN "{name}" "{h.user(stack, USER)["password"]}"')
    assert done.startswith(b"t1 OK"), (untagged, done)
    assert any(ln.startswith(b"* SESSIONID ") for ln in untagged), untagged
    return w


def select_count(w: Wire) -> int:
    untagged = w.ok("SELECT INBOX")
    counts = [int(m.group(1)) for ln in untagged if (m := EXISTS.match(ln))]
    assert counts, untagged
    return counts[-1]


def send_mail(stack, subject: str) -> None:
    host, port = host_port(stack["smtp"])
    rcpt = h.user(stack, USER)["email"]
    msg = (f"From: sender@example.org\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{subject}@example.org>\r\n\r\nin-band push test\r\n").encode()
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        assert smtp.sendmail("sender@example.org", [rcpt], msg) == {}


def read_until(w: Wire, pattern: re.Pattern, seconds: float) -> tuple[bytes, list[bytes]]:
    """The first line matching `pattern` within `seconds`, and every line read before it."""
    deadline = time.monotonic() + seconds
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no line matching {pattern.pattern!r} within {seconds} s; read {seen!r}")
        try:
            ln = w.line(left)
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"no line matching {pattern.pattern!r} within {seconds} s; read {seen!r}")
        if pattern.match(ln):
            return ln, seen
        seen.append(ln)


def idle(w: Wire) -> str:
    tag = w.tag()
    w.send(f"{tag} IDLE\r\n".encode())
    assert w.line() == b"+ idling\r\n"
    return tag


def done(w: Wire, tag: str) -> list[bytes]:
    w.send(b"DONE\r\n")
    untagged, completion = w.until_tagged(tag)
    assert completion.startswith(f"{tag} OK".encode()), (untagged, completion)
    return untagged


def test_new_mail_reaches_a_device_in_idle(stack):
    with device_wire(stack) as w:
        before = select_count(w)
        tag = idle(w)
        time.sleep(0.5)  # the edge works out the device's view as IDLE starts
        sent = time.monotonic()
        send_mail(stack, f"push-{RUN}-1")
        line, earlier = read_until(w, EXISTS, 5.0 + (time.monotonic() - sent))
        assert line == f"* {before + 1} EXISTS\r\n".encode(), (line, earlier)
        assert not [ln for ln in earlier if not ln.startswith(b"* ")], earlier
        # Only the RECENT that belongs to the EXISTS may follow; then DONE ends the IDLE cleanly.
        rest = done(w, tag)
        assert all(re.match(rb"^\* \d+ RECENT\r\n$", ln) for ln in rest), rest
        # The device's numbering and the store's agree after the edge's own EXISTS: no second EXISTS
        # for the same message on the next command, and the new message is number before + 1.
        untagged = w.ok("NOOP")
        assert not [ln for ln in untagged if EXISTS.match(ln) and int(EXISTS.match(ln).group(1)) != before + 1], \
            untagged
        fetched = w.ok(f"FETCH {before + 1} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert any(f"push-{RUN}-1".encode() in ln for ln in fetched), fetched
        w.ok("LOGOUT")


def test_second_mail_in_a_later_idle_counts_on(stack):
    with device_wire(stack) as w:
        before = select_count(w)
        for i in (2, 3):
            tag = idle(w)
            time.sleep(0.5)
            send_mail(stack, f"push-{RUN}-{i}")
            line, earlier = read_until(w, EXISTS, 5.0)
            before += 1
            assert line == f"* {before} EXISTS\r\n".encode(), (line, earlier)
            done(w, tag)
        w.ok("LOGOUT")


def test_mail_that_arrives_between_commands_is_told_when_idle_starts(stack):
    """Events wait in the edge while the device is not in IDLE and come right after `+ idling`."""
    with device_wire(stack) as w:
        before = select_count(w)
        send_mail(stack, f"push-{RUN}-queued")
        time.sleep(3)  # through the pipeline to the edge, which holds it
        tag = idle(w)
        line, earlier = read_until(w, EXISTS, 3.0)
        assert line == f"* {before + 1} EXISTS\r\n".encode(), (line, earlier)
        done(w, tag)
        untagged = w.ok("NOOP")
        assert not [ln for ln in untagged if EXISTS.match(ln) and int(EXISTS.match(ln).group(1)) != before + 1], \
            untagged
        w.ok("LOGOUT")


def test_new_mail_outside_the_selected_mailbox_is_status(stack):
    """Not SELECTED: the new mail's folder is reported as * STATUS, with the store's own UNSEEN."""
    with device_wire(stack) as w:
        tag = idle(w)
        time.sleep(0.3)
        send_mail(stack, f"push-{RUN}-status")
        status = re.compile(rb'^\* STATUS "INBOX" \((?:MESSAGES \d+ UIDNEXT \d+ )?UNSEEN (\d+)(?: HIGHESTMODSEQ \d+)?\)\r\n$')
        line, earlier = read_until(w, status, 5.0)
        assert not earlier, earlier
        done(w, tag)
        d = h.direct(stack, USER)
        try:
            typ, data = d.status("INBOX", "(UNSEEN)")
            assert typ == "OK", data
            unseen = int(re.search(rb"UNSEEN (\d+)", data[0]).group(1))
        finally:
            d.logout()
        assert int(status.match(line).group(1)) == unseen, (line, data)
        w.ok("LOGOUT")


# ---------------------------------------------------------------------------------------------------------
# Every event kind (profile §4), user47: PIMAP_INBAND_NEW_FORMAT, STATUS of another folder, flag changes
# and expunges made by another client.

USER47 = "user47"
FETCH_LINE = re.compile(rb"^\* (\d+) FETCH \((.*)\)\r\n$")


def wire47(stack, dev: str) -> Wire:
    w = Wire(stack_edge(stack, "imaps"), tls=h.tls_context(stack), timeout=15)
    untagged, done = w.cmd(f'LOGIN "{USER47}#{dev}" "{h.user(stack, USER47)["password"]}"')
    assert done.startswith(b"t1 OK"), (untagged, done)
    return w


def deliver47(stack, subject: str) -> None:
    host, port = host_port(stack["smtp"])
    rcpt = h.user(stack, USER47)["email"]
    msg = (f"From: sender@example.org\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{subject}@example.org>\r\n\r\nevent kinds test\r\n").encode()
    with smtplib.SMTP(host, port, timeout=30) as smtp:
        assert smtp.sendmail("sender@example.org", [rcpt], msg) == {}


def store_uid_of(stack, subject: str) -> int:
    d = h.direct(stack, USER47)
    try:
        d.select("INBOX", readonly=True)
        typ, data = d.uid("SEARCH", None, "HEADER", "Subject", subject)
        assert typ == "OK" and data[0], (typ, data)
        return int(data[0].split()[-1])
    finally:
        d.logout()


def test_new_mail_with_new_format_is_exists_then_the_fetch_from_the_next_session_on(stack):
    dev = f"Pnewfmt-{RUN}"
    with wire47(stack, dev) as w:
        w.ok("XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS RFC822.SIZE ENVELOPE)")
        w.ok("LOGOUT")
    with wire47(stack, dev) as w:  # a new session: the edge reads the preference with it
        before = select_count(w)
        tag = idle(w)
        time.sleep(0.5)
        subject = f"newfmt-{RUN}"
        deliver47(stack, subject)
        line, _ = read_until(w, EXISTS, 10.0)
        assert line == f"* {before + 1} EXISTS\r\n".encode(), line
        assert w.line(5) == b"* 1 RECENT\r\n"
        fetch = w.line(5)  # right after the EXISTS (and its RECENT)
        m = FETCH_LINE.match(fetch)
        assert m and int(m.group(1)) == before + 1, fetch
        uid = store_uid_of(stack, subject)
        assert re.search(rb"\bUID %d\b" % uid, m.group(2)), (fetch, uid)
        assert b"RFC822.SIZE " in m.group(2) and b"FLAGS (" in m.group(2), fetch
        assert subject.encode() in m.group(2), fetch  # in the ENVELOPE
        done(w, tag)
        w.ok("LOGOUT")


def test_new_mail_in_another_folder_than_the_selected_one_is_status(stack):
    with h.direct(stack, USER47) as d:
        d.create("Archive")
        d.logout()
    with wire47(stack, f"Pstatus-{RUN}") as w:
        w.ok("SELECT Archive")
        tag = idle(w)
        time.sleep(0.5)
        deliver47(stack, f"status-{RUN}")
        status = re.compile(rb'^\* STATUS "INBOX" \(.*UNSEEN (\d+).*\)\r\n$')
        line, earlier = read_until(w, status, 10.0)
        assert not [ln for ln in earlier if EXISTS.match(ln)], earlier  # nothing for the selected Archive
        done(w, tag)
        w.ok("LOGOUT")


def test_flag_change_and_expunge_by_another_client_reach_the_device_in_idle(stack):
    with wire47(stack, f"Pflags-{RUN}") as w:
        w.ok("SELECT INBOX")
        listed = w.ok("FETCH 1:* (UID)")
        uids = [int(re.search(rb"UID (\d+)", ln).group(1)) for ln in listed if FETCH_LINE.match(ln)]
        assert len(uids) >= 2, listed  # the mails of the tests above
        with h.direct(stack, USER47) as d:  # an earlier run on the same stack flagged it already
            d.select("INBOX")
            d.uid("STORE", str(uids[0]), "-FLAGS.SILENT", "(\\Flagged)")
            d.logout()
        w.ok("NOOP")
        tag = idle(w)
        time.sleep(0.5)
        with h.direct(stack, USER47) as d:
            d.select("INBOX")
            d.uid("STORE", str(uids[0]), "+FLAGS", "(\\Flagged)")
            # (The unflagging above may still be on its way: a FLAGS () line may come first.)
            flag_line = re.compile(rb"^\* 1 FETCH \(UID %d FLAGS \(([^)]*\\Flagged[^)]*)\)\)\r\n$" % uids[0])
            line, _ = read_until(w, flag_line, 10.0)
            n = len(uids)
            d.uid("STORE", str(uids[-1]), "+FLAGS.SILENT", "(\\Deleted)")
            d.expunge()
            d.logout()
        line, _ = read_until(w, re.compile(rb"^\* \d+ EXPUNGE\r\n$"), 10.0)
        assert line == f"* {n} EXPUNGE\r\n".encode(), line
        done(w, tag)
        # The device's numbering and the store's agree: the next command reports nothing again.
        untagged = w.ok("NOOP")
        assert not [ln for ln in untagged if re.match(rb"^\* \d+ (EXISTS|EXPUNGE)", ln)], untagged
        w.ok("LOGOUT")


# ---------------------------------------------------------------------------------------------------------
# PIMAP_INBAND_PUSH ON (profile §4, docs/protocol.md "In-band events"), user50: a device with a folder
# selected is told of changes between commands, without IDLE.

USER50 = "user50"


def wire50(stack, dev: str) -> Wire:
    w = Wire(stack_edge(stack, "imaps"), tls=h.tls_context(stack), timeout=15)
    untagged, done = w.cmd(f'LOGIN "{USER50}#{dev}" "{h.user(stack, USER50)["password"]}"')
    assert done.startswith(b"t1 OK"), (untagged, done)
    return w


def lines_within(w: Wire, seconds: float) -> list[bytes]:
    """Every line the device is sent within `seconds` while it sends nothing."""
    deadline = time.monotonic() + seconds
    got = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(w.line(left))
        except (socket.timeout, TimeoutError):
            break
    return got


COUNTS = re.compile(rb"^\* \d+ (EXISTS|EXPUNGE)\r\n$|^\* VANISHED ")


def test_inband_push_on_tells_a_selected_device_between_commands(stack):
    h.reset_mailbox(stack, USER50)
    h.deliver(stack, USER50, [h.message(f"auto-{RUN}-{i}") for i in range(3)])
    dev = f"Pauto-{RUN}"
    with wire50(stack, dev) as w:
        w.ok("XSETPIMAPPREF PIMAP_INBAND_PUSH ON")
        w.ok("LOGOUT")
    with wire50(stack, dev) as w:  # a new session: the preference comes with it
        assert b"* XGETPIMAPPREF (PIMAP_INBAND_PUSH ON)\r\n" in w.ok("XGETPIMAPPREF PIMAP_INBAND_PUSH")
        assert select_count(w) == 3
        listed = w.ok("UID FETCH 1:* (UID)")
        uids = [int(re.search(rb"UID (\d+)", ln).group(1)) for ln in listed if FETCH_LINE.match(ln)]
        assert len(uids) == 3, listed

        # New mail: `* 4 EXISTS` with no command in progress (and no IDLE).
        h.deliver(stack, USER50, [h.message(f"auto-{RUN}-new")])
        line, earlier = read_until(w, EXISTS, 10.0)
        assert line == b"* 4 EXISTS\r\n", (line, earlier)
        assert not [ln for ln in earlier if not ln.startswith(b"* ")], earlier

        # A flag change by another client: the FETCH FLAGS, unsolicited.
        with h.direct(stack, USER50) as d:
            d.select("INBOX")
            d.uid("STORE", str(uids[0]), "+FLAGS", "(\\Flagged)")
            flag_line = re.compile(rb"^\* 1 FETCH \(UID %d FLAGS \(([^)]*)\)\)\r\n$" % uids[0])
            line, _ = read_until(w, flag_line, 10.0)
            assert b"\\Flagged" in flag_line.match(line).group(1), line

            # An expunge by another client is not sent while no command is in progress ...
            d.uid("STORE", str(uids[1]), "+FLAGS.SILENT", "(\\Deleted)")
            d.expunge()
            d.logout()
        # (FETCH FLAGS lines may come: the user's first reconcile tells every message's flags.)
        quiet = lines_within(w, 4.0)
        assert not [ln for ln in quiet if COUNTS.match(ln)], quiet
        # ... it comes with the next command, once, numbered as the device knows the mailbox.
        untagged = w.ok("NOOP")
        assert [ln for ln in untagged if re.match(rb"^\* \d+ EXPUNGE", ln)] == [b"* 2 EXPUNGE\r\n"], untagged
        assert all(ln == b"* 3 EXISTS\r\n" for ln in untagged if EXISTS.match(ln)), untagged
        quiet = lines_within(w, 2.0)
        assert not [ln for ln in quiet if COUNTS.match(ln)], quiet
        assert not [ln for ln in w.ok("NOOP") if re.match(rb"^\* \d+ (EXISTS|EXPUNGE)", ln)]
        fetched = w.ok("FETCH 1:* (UID)")
        assert [int(re.search(rb"UID (\d+)", ln).group(1)) for ln in fetched if FETCH_LINE.match(ln)] == \
            [uids[0], uids[2], store_uid50(stack, f"auto-{RUN}-new")], fetched

        # Another folder selected: a new mail in INBOX is its * STATUS, between commands too.
        w.ok("CREATE Later")
        w.ok("SELECT Later")
        h.deliver(stack, USER50, [h.message(f"auto-{RUN}-status")])
        status = re.compile(rb'^\* STATUS "INBOX" \(.*\)\r\n$')
        line, earlier = read_until(w, status, 10.0)
        assert not [ln for ln in earlier if EXISTS.match(ln)], earlier

        # OFF again: nothing between commands; the mail waits for IDLE.
        w.ok("SELECT INBOX")
        w.ok("XSETPIMAPPREF PIMAP_INBAND_PUSH OFF")
        h.deliver(stack, USER50, [h.message(f"auto-{RUN}-off")])
        quiet = lines_within(w, 4.0)
        assert not [ln for ln in quiet if COUNTS.match(ln) or ln.startswith(b"* STATUS")], quiet
        tag = idle(w)
        line, earlier = read_until(w, EXISTS, 10.0)
        assert line == b"* 5 EXISTS\r\n", (line, earlier)
        done(w, tag)
        w.ok("LOGOUT")


def store_uid50(stack, key: str) -> int:
    d = h.direct(stack, USER50)
    try:
        d.select("INBOX", readonly=True)
        typ, data = d.uid("SEARCH", None, "HEADER", "Message-ID", key)
        assert typ == "OK" and data[0], (typ, data)
        return int(data[0].split()[-1])
    finally:
        d.logout()


# ---------------------------------------------------------------------------------------------------------
# Hooks that cross (docs/protocol.md "Rendering"): two mails committed at once by two Dovecot processes can
# have their hooks arrive in the opposite order of their UIDs. The edge asks the store whether the lower one
# exists: it does, so the device is told to RESYNC rather than left without it until its next command.

def _drop_into_maildir(stack, user: str, key: str, flags: str = "") -> tuple[int, int]:
    """Put a message into the user's Maildir behind Dovecot's back (no hook fires for mail a sync finds),
    with Maildir `flags` (e.g. "T" = \\Deleted) if given, let a direct session's SELECT give it its UID,
    and return (uid, uidvalidity)."""
    maildir = pathlib.Path(stack["dovecot"]["mail_root"]) / user / "Maildir"
    owner = os.stat(maildir)
    name = f"{int(time.time())}.P{os.getpid()}Q{secrets.token_hex(4)}.pimap-it"
    tmp = maildir / "tmp" / name
    tmp.write_bytes(h.message(key))
    os.chown(tmp, owner.st_uid, owner.st_gid)
    os.rename(tmp, maildir / "cur" / f"{name}:2,{flags}" if flags else maildir / "new" / name)
    with h.direct(stack, user) as d:
        d.select("INBOX")
        typ, data = d.uid("SEARCH", None, "HEADER", "Message-ID", key)
        assert typ == "OK" and data[0], (typ, data)
        typ, st = d.status("INBOX", "(UIDVALIDITY)")
        d.logout()
    return int(data[0].split()[-1]), int(re.search(rb"UIDVALIDITY (\d+)", st[0]).group(1))


def _lua_hook(stack, user: str, uidvalidity: int, uid: int) -> None:
    """What Dovecot's Lua driver POSTs for one new message (services/store-watcher/dovecot/pimap-push.lua);
    the same event a reconcile run publishes for it."""
    body = json.dumps({"v": 1, "user": user, "events": [
        {"type": "MessageNew", "mailbox": "INBOX", "uidvalidity": uidvalidity, "uid": uid}]}).encode()
    req = urllib.request.Request(stack["dovecot"]["push_url"], data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200, r.status


def test_hooks_that_cross_end_in_a_resync_not_a_silent_gap(stack):
    with device_wire(stack) as w:
        count = select_count(w)
        tag = idle(w)
        time.sleep(0.5)
        # A reconcile run of the store-watcher (periodic, or asked for by an earlier change) may find the two
        # mails first and tell them in order: then the hooks have nothing to cross, and it is tried again.
        for attempt in range(3):
            x, uidvalidity = _drop_into_maildir(stack, USER, f"cross-x{attempt}-{RUN}")
            y, _ = _drop_into_maildir(stack, USER, f"cross-y{attempt}-{RUN}")
            assert y > x
            told = [int(m.group(1)) for ln in lines_within(w, 1.5) if (m := EXISTS.match(ln))]
            if not told:
                break
            count = told[-1]
        else:
            raise AssertionError("a reconcile told the dropped mails first in all 3 attempts")
        _lua_hook(stack, USER, uidvalidity, y)  # the later delivery's hook first
        line, earlier = read_until(w, EXISTS, 10.0)
        assert line == f"* {count + 1} EXISTS\r\n".encode(), (line, earlier)
        _lua_hook(stack, USER, uidvalidity, x)
        line, earlier = read_until(w, re.compile(rb"^\* RESYNC\r\n$"), 10.0)
        assert earlier[-1:] == [b"* FOLDER INBOX\r\n"], earlier
        done(w, tag)
        # The state comparison a RESYNC asks for finds both, in UID order.
        fetched = w.ok("UID FETCH %d:%d (UID)" % (x, y))
        assert [int(re.search(rb"UID (\d+)", ln).group(1)) for ln in fetched if FETCH_LINE.match(ln)] == [x, y], fetched
        w.ok("LOGOUT")


def test_a_live_hook_for_a_message_already_gone_says_nothing(stack):
    """The echo case the check exists for: a NEW below the device's highest UID for a message the store no
    longer has (the device's own APPEND, EXPUNGEd since) is not worth a RESYNC."""
    with device_wire(stack) as w:
        before = select_count(w)
        with h.direct(stack, USER) as d:
            d.select("INBOX")
            typ, st = d.status("INBOX", "(UIDVALIDITY UIDNEXT)")
            uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", st[0]).group(1))
            d.logout()
        tag = idle(w)
        time.sleep(0.5)
        x, _ = _drop_into_maildir(stack, USER, f"gone-x-{RUN}")
        y, _ = _drop_into_maildir(stack, USER, f"gone-y-{RUN}")
        with h.direct(stack, USER) as d:
            d.select("INBOX")
            d.uid("STORE", str(x), "+FLAGS.SILENT", "(\\Deleted)")
            d.expunge()
            d.logout()
        _lua_hook(stack, USER, uidvalidity, y)
        line, earlier = read_until(w, EXISTS, 10.0)
        assert line == f"* {before + 1} EXISTS\r\n".encode(), (line, earlier)
        _lua_hook(stack, USER, uidvalidity, x)
        quiet = lines_within(w, 3.0)
        assert b"* RESYNC\r\n" not in quiet, quiet
        done(w, tag)
        w.ok("LOGOUT")


def test_a_new_told_after_its_expunge_is_dropped(stack):
    """A reconcile run reads the store, the message is expunged and its hook publishes EXPUNGED, then the
    run publishes NEW (docs/store-watcher.md "Races between hooks and runs"). A device that never had the
    message must not get it after its expunge: it would keep it, since the next run's EXPUNGED is a
    duplicate of the hook's. Here the hook that announced the message is missing because the message
    enters behind Dovecot's back, already \\Deleted; its late NEW is POSTed by hand after the expunge."""
    with device_wire(stack) as w:
        count = select_count(w)
        tag = idle(w)
        time.sleep(0.5)
        for attempt in range(3):
            x, uidvalidity = _drop_into_maildir(stack, USER, f"late-new{attempt}-{RUN}", flags="T")
            with h.direct(stack, USER) as d:
                d.select("INBOX")
                typ, data = d.expunge()  # the real Lua hook publishes MESSAGE_EXPUNGED x
                assert typ == "OK", data
                d.logout()
            told = lines_within(w, 1.5)
            if not [ln for ln in told if EXISTS.match(ln)]:
                break
            # A periodic reconcile found x between the drop and the expunge and told it in order.
            count = [int(m.group(1)) for ln in told if (m := EXISTS.match(ln))][-1]
            count -= sum(1 for ln in told if re.match(rb"^\* \d+ EXPUNGE\r\n$", ln))
        else:
            raise AssertionError("a reconcile told the dropped mail before its expunge in all 3 attempts")
        _lua_hook(stack, USER, uidvalidity, x)  # the late NEW
        quiet = lines_within(w, 2.0)
        assert not [ln for ln in quiet if EXISTS.match(ln)], quiet
        # The pipeline goes on, and the device's numbering never counted x.
        send_mail(stack, f"after-late-new-{RUN}")
        line, earlier = read_until(w, EXISTS, 15.0)
        assert line == f"* {count + 1} EXISTS\r\n".encode(), (line, earlier)
        done(w, tag)
        w.ok("LOGOUT")

