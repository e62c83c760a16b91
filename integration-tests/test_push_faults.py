"""Push under faults (issue #5): kill -9 every pimap service, restart Redis and Kafka, while 100 devices
sit in IDLE and a stream of 1,000 store changes flows; afterwards every device's view equals the store and
no device was told the same event twice.

Setup: users user04..user28 (no other test file uses them), 4 P-IMAP devices each = 100 devices, every
INBOX emptied and seeded with SEED messages first, emptied again at the end; every device LOGOUTs at the
end, so no session outlives the test. Device ids carry a per-run suffix, so each run starts from first
logins.

The stream: changes go round-robin over the users, paced; new mail is delivered over LMTP (the path
Postfix takes), flag changes (+/-\\Seen, +/-\\Flagged) and expunges (UID STORE +\\Deleted, UID EXPUNGE) are
made by another client directly at Dovecot. Faults, in this order, each between two points of the stream
(the stream goes on while the component is down; the next fault starts only after the last is back):
kill -9 store-watcher, notifier, session, edge (each restarted after DOWNTIME), then a clean restart of
Redis (AOF) and of Kafka (data dir kept) — `scripts/stack stop|start|restart` (docs/local-cluster.md).

A device (class Device) does what a P-IMAP client does: first login, ENABLE CONDSTORE, SELECT INBOX,
`UID FETCH 1:* (FLAGS MODSEQ)` to learn its view, then IDLE and reads. Its view is the list of the
INBOX's messages in sequence order, each (UID or unknown, flags, last MODSEQ told), changed only by
what it is told:
- `* n EXISTS` appends n - len(view) messages (UID unknown, no flags: new mail arrives unflagged);
- `* n EXPUNGE` removes message n;
- `* n FETCH (UID u FLAGS (...) [MODSEQ (m)])` sets message n's flags and learns its UID;
- `* RESYNC` (alone, or after `* FOLDER INBOX`) makes it do a state comparison once out of IDLE
  (SELECT INBOX + UID FETCH 1:* (FLAGS MODSEQ)), which replaces its view - allowed after RESYNC only.
A dropped connection (edge killed, BYE) makes it log in again with the same device id; the resume
(`* SESSION SELECTED`, `* FOLDER INBOX`, replayed events or `* RESYNC`, `* SESSIONID`) is applied the
same way.

"The same event twice" means, precisely, any of:
- an EXISTS that adds nothing: `* n EXISTS` with n <= the number of messages the device already holds
  (a new-mail event told again; EXISTS is the mailbox size, so a repeat cannot grow it);
- a FETCH whose MODSEQ is not above the MODSEQ the device was already told for that UID (by an event or by
  its own state comparison): a flag change told again;
- a FETCH naming UID u at sequence number n where the device knows a different UID at n, or an
  EXPUNGE/FETCH beyond the end of its view: the device's numbering was broken by a repeated (or lost)
  EXPUNGE or EXISTS.
These are checked as each line arrives. "Nothing lost": at the end, once the stream and all restarts are
over, each device's view must equal the store (Dovecot, read directly): same count, same UID at every
position where the device knows one, same system flags everywhere (\\Recent ignored).

test_flags_and_expunges_... runs the same faults over new mail, flag changes and expunges (the Lua push
driver reports all three; docs/store-watcher.md); it first checks that a flag change made at the store
reaches a device in IDLE and fails early, naming that, if not.
"""

from __future__ import annotations

import collections
import dataclasses
import imaplib
import random
import re
import secrets
import smtplib
import socket
import threading
import time
from pathlib import Path

import pytest

import edge_harness as h
from edge_wire import Closed, Wire, stack_edge
from pimap_stack import host_port, redis_command, stack_component

USERS = [f"user{n:02d}" for n in range(4, 29)]
DEVICES_PER_USER = 4
CHANGES = 1000
SEED = 4
RATE = 20.0          # changes per second the stream aims at (faults and the 2-core CI box slow it)
DOWNTIME = 2.0       # seconds a killed service stays down while the stream goes on
SETTLE = 90.0        # bound for the last events to reach every device after the stream ends
RUN = secrets.token_hex(3)
# (component, signal): the four services are killed -9, Redis and Kafka stopped cleanly and restarted.
FAULTS = [("store-watcher", "KILL"), ("notifier", "KILL"), ("session", "KILL"), ("edge", "KILL"),
          ("redis", "TERM"), ("kafka", "TERM")]
SYSTEM_FLAGS = h.SYSTEM_FLAGS

EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")
EXPUNGE = re.compile(rb"^\* (\d+) EXPUNGE\r\n$")
FETCH = re.compile(rb"^\* (\d+) FETCH \((.*)\)\r\n$")
UID = re.compile(rb"\bUID (\d+)")
FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
MODSEQ = re.compile(rb"\bMODSEQ \((\d+)\)")


@pytest.fixture(autouse=True)
def pipeline_up(stack):
    h.require_edge(stack)
    missing = [s for s in ("session", "store-watcher", "notifier") if s not in stack.get("pimap_services", [])]
    assert not missing, f"the stack did not start {missing}; push under faults needs the whole pipeline"


# -------------------------------------------------------------------------------------------------------
# A device

@dataclasses.dataclass
class Msg:
    uid: int | None
    flags: frozenset
    modseq: int = 0


def system_flags(raw: bytes) -> frozenset:
    return frozenset(f for f in raw.decode().split() if f in SYSTEM_FLAGS)


class Device(threading.Thread):
    def __init__(self, stack: dict, user: str, n: int, scenario: str):
        super().__init__(daemon=True, name=f"{user}-{scenario}{n}")
        self.stack, self.user = stack, user
        self.login_name = f"{user}#P{scenario}{n}-{RUN}"
        self.password = h.user(stack, user)["password"]
        self.lock = threading.Lock()
        self.view: list[Msg] = []
        self.uid_modseq: dict[int, int] = {}
        self.errors: list[str] = []
        self.log: list[str] = []        # what happened, for failure reports (bounded)
        self.heard: collections.deque = collections.deque(maxlen=12)  # last untagged lines, for reports
        self.logins = self.resyncs = self.drops = 0
        self.resync_pending = False
        self.ready = threading.Event()  # first login done, view known, in IDLE
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.w: Wire | None = None

    # -- bookkeeping ----------------------------------------------------------------------------------
    def note(self, text: str) -> None:
        self.log.append(f"{time.monotonic():.2f} {text}")
        del self.log[:-60]

    def error(self, text: str) -> None:
        self.errors.append(text)
        self.note("ERROR " + text)

    def apply(self, ln: bytes) -> None:
        """One untagged line told to the device (in IDLE, in a resume, before a tagged completion)."""
        with self.lock:
            self.heard.append(f"{time.monotonic():.2f} {ln.decode(errors='replace').strip()}")
            if m := EXISTS.match(ln):
                n = int(m.group(1))
                if n <= len(self.view):
                    self.error(f"EXISTS adds nothing: {ln!r} while the device holds {len(self.view)}")
                self.view += [Msg(None, frozenset()) for _ in range(n - len(self.view))]
            elif m := EXPUNGE.match(ln):
                n = int(m.group(1))
                if n > len(self.view):
                    self.error(f"{ln!r} beyond the device's {len(self.view)} messages")
                else:
                    del self.view[n - 1]
            elif m := FETCH.match(ln):
                self._apply_fetch(int(m.group(1)), m.group(2), ln)
            elif re.match(rb"^\* (RESYNC|FOLDER )", ln):
                self.resync_pending = self.resync_pending or ln.startswith(b"* RESYNC")
                self.note(ln.decode().strip())
            elif re.match(rb"^\* (\d+ RECENT|OK|SESSION|SESSIONID|STATUS|CAPABILITY)\b", ln):
                pass
            else:
                self.note(f"unhandled {ln!r}")

    def _apply_fetch(self, n: int, body: bytes, ln: bytes) -> None:
        uid, flags, modseq = UID.search(body), FLAGS.search(body), MODSEQ.search(body)
        if n > len(self.view) or n < 1:
            self.error(f"{ln!r} beyond the device's {len(self.view)} messages")
            return
        msg = self.view[n - 1]
        if uid:
            u = int(uid.group(1))
            if msg.uid is not None and msg.uid != u:
                self.error(f"{ln!r}: the device holds UID {msg.uid} at {n}")
            msg.uid = u
        if modseq and msg.uid is not None:
            m = int(modseq.group(1))
            if m <= self.uid_modseq.get(msg.uid, 0):
                self.error(f"flag change told twice: {ln!r}, MODSEQ {self.uid_modseq[msg.uid]} already told")
            self.uid_modseq[msg.uid] = max(m, self.uid_modseq.get(msg.uid, 0))
        if flags:
            msg.flags = system_flags(flags.group(1))

    # -- connection -----------------------------------------------------------------------------------
    def connect(self) -> list[bytes]:
        """Log in (first login or resume); returns the login's untagged lines."""
        self.w = None
        w = Wire(stack_edge(self.stack, "imaps"), tls=h.tls_context(self.stack), timeout=30)
        w.logged_in = False
        self.w = w
        lines, done = w.cmd(f'LOGIN "{self.login_name}" "{self.password}"')
        if not re.match(rb"t\d+ OK", done):
            raise Closed(f"LOGIN refused: {done!r} {lines!r}")
        w.logged_in = True
        self.logins += 1
        return lines

    def state_comparison(self) -> None:
        lines = self.w.ok("SELECT INBOX")
        lines += self.w.ok("UID FETCH 1:* (FLAGS MODSEQ)")
        with self.lock:
            # In order, as a client applies them: the store may report an expunge (or new mail) at the end
            # of the UID FETCH (RFC 3501 7.4.1 allows EXPUNGE during UID commands; Dovecot sends it), so
            # the view is the SELECT's count changed by what followed, not the count alone.
            self.view = []
            for ln in lines:
                if m := EXISTS.match(ln):
                    n = int(m.group(1))
                    self.view += [Msg(None, frozenset()) for _ in range(n - len(self.view))]
                elif m := EXPUNGE.match(ln):
                    n = int(m.group(1))
                    if 1 <= n <= len(self.view):
                        del self.view[n - 1]
                elif m := FETCH.match(ln):
                    n, body = int(m.group(1)), m.group(2)
                    u, f, ms = UID.search(body), FLAGS.search(body), MODSEQ.search(body)
                    if 1 <= n <= len(self.view) and u:
                        self.view[n - 1] = Msg(int(u.group(1)), system_flags(f.group(1) if f else b""))
                        if ms:
                            self.uid_modseq[int(u.group(1))] = int(ms.group(1))
            self.resync_pending = False
            self.note(f"state comparison: {len(self.view)} messages")

    def idle_until(self, leave: threading.Event) -> None:
        """IDLE, applying what arrives, until `leave` is set or a RESYNC asks for a state comparison."""
        tag = self.w.tag()
        self.w.send(f"{tag} IDLE\r\n".encode())
        while True:
            ln = self.w.line(60)
            if ln.startswith(b"+ "):
                break
            self.apply(ln)
        self.ready.set()
        while not leave.is_set() and not self.resync_pending:
            try:
                ln = self.w.line(0.5)
            except (socket.timeout, TimeoutError):
                continue
            if ln.startswith(b"* BYE"):
                raise Closed(ln.decode().strip())
            self.apply(ln)
        self.w.send(b"DONE\r\n")
        untagged, completion = self.w.until_tagged(tag, 30)
        for ln in untagged:
            self.apply(ln)
        if not completion.startswith(f"{tag} OK".encode()):
            raise Closed(f"IDLE ended with {completion!r}")

    def run(self) -> None:
        first = True
        while not self.finished.is_set():
            try:
                lines = self.connect()
                if first:
                    self.w.ok("ENABLE CONDSTORE")
                    self.state_comparison()
                    first = False
                else:
                    self.note(f"resumed: {[ln.decode().strip() for ln in lines]}")
                    for ln in lines:
                        self.apply(ln)
                    if b"* SESSION SELECTED\r\n" not in lines:
                        # The device had INBOX selected; a resume in any other state lost it (and with
                        # it every event rendered for INBOX). It carries on with a SELECT to see what else breaks.
                        self.error(f"resume after a dropped connection is not SELECTED INBOX: {lines!r}")
                        self.resync_pending = True
                while True:
                    if self.resync_pending:
                        self.resyncs += 1
                        self.state_comparison()
                    if self.stopping.is_set():
                        self.finish()
                        return
                    self.idle_until(self.stopping)
            except (Closed, OSError, socket.timeout, TimeoutError, AssertionError) as e:
                if self.w is not None and self.w.logged_in:
                    self.drops += 1
                self.note(f"connection lost: {e}")
                if self.w:
                    self.w.close()
                time.sleep(0.3 + random.random() * 0.3)
            except BaseException as e:  # noqa: B036 - a crashed device thread must show in the test
                self.error(f"device thread died: {type(e).__name__}: {e}")
                self.finished.set()
                return

    def finish(self) -> None:
        self.w.ok("LOGOUT")
        self.w.close()
        self.finished.set()

    def differences(self, store: list[tuple[int, frozenset]]) -> list[str]:
        """How this device's view differs from the store's [(uid, flags)] (empty: equal)."""
        with self.lock:
            view = list(self.view)
        out = []
        if len(view) != len(store):
            out.append(f"holds {len(view)} messages, the store {len(store)}")
            out.append(f"device UIDs {[m.uid for m in view]}, store UIDs {[u for u, _ in store]}")
        for i, (msg, (uid, flags)) in enumerate(zip(view, store), 1):
            if msg.uid is not None and msg.uid != uid:
                out.append(f"#{i}: UID {msg.uid}, the store has UID {uid}")
                break
            if msg.flags != flags:
                out.append(f"#{i} (UID {uid}): flags {sorted(msg.flags)}, the store {sorted(flags)}")
        return out


# -------------------------------------------------------------------------------------------------------
# The store: truth and changes

def store_view(conn: imaplib.IMAP4) -> list[tuple[int, frozenset]]:
    typ, data = conn.select("INBOX", readonly=True)
    assert typ == "OK", data
    if int(data[0]) == 0:
        return []
    typ, data = conn.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK", data
    out = []
    for item in data:
        raw = item[0] if isinstance(item, tuple) else item
        if raw and (u := UID.search(raw)):
            out.append((int(u.group(1)), system_flags(FLAGS.search(raw).group(1))))
    return sorted(out)


class Changer:
    """Makes the stream of changes; one direct connection per user for flags and expunges."""

    def __init__(self, stack: dict, kinds: tuple[str, ...]):
        self.stack, self.kinds = stack, kinds
        self.conns = {u: h.direct(self.stack, u) for u in USERS}
        for c in self.conns.values():
            typ, data = c.select("INBOX")
            assert typ == "OK", data
        self.rng = random.Random(RUN)
        self.lmtp: smtplib.LMTP | None = None
        self.counts = {k: 0 for k in ("new", "flags", "expunge")}
        self.serial = 0
        self.fault_started_at = 0  # change number at which the current fault began (for the timeline)

    def deliver(self, user: str) -> None:
        self.serial += 1
        msg = h.message(f"fault-{RUN}-{self.serial}")
        for attempt in range(3):
            try:
                if self.lmtp is None:
                    host, port = host_port(self.stack["dovecot"]["lmtp"])
                    self.lmtp = smtplib.LMTP(host, port, timeout=60)
                refused = self.lmtp.sendmail("sender@example.org", [h.user(self.stack, user)["email"]], msg)
                assert refused == {}, refused
                return
            except (smtplib.SMTPException, OSError):
                self.lmtp = None
                if attempt == 2:
                    raise

    def uids(self, user: str) -> list[int]:
        typ, data = self.conns[user].uid("SEARCH", None, "ALL")
        assert typ == "OK", data
        return [int(x) for x in data[0].split()]

    def change(self, user: str) -> str:
        kind = self.rng.choice(self.kinds)
        uids = self.uids(user) if kind != "new" else []
        if kind != "new" and len(uids) < 2:
            kind = "new"  # keep every mailbox from running dry
        conn = self.conns[user]
        if kind == "new":
            self.deliver(user)
        elif kind == "flags":
            uid = self.rng.choice(uids)
            flag = self.rng.choice(["\\Seen", "\\Flagged"])
            op = self.rng.choice(["+FLAGS", "-FLAGS"])
            typ, data = conn.uid("STORE", str(uid), op, f"({flag})")
            assert typ == "OK", data
        else:
            uid = self.rng.choice(uids)
            typ, data = conn.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
            assert typ == "OK", data
            typ, data = conn.uid("EXPUNGE", str(uid))
            assert typ == "OK", data
        self.counts[kind] += 1
        return kind

    def close(self) -> None:
        for c in self.conns.values():
            try:
                c.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        if self.lmtp is not None:
            try:
                self.lmtp.quit()
            except (smtplib.SMTPException, OSError):
                pass


def truth(stack: dict) -> dict[str, list[tuple[int, frozenset]]]:
    out = {}
    for u in USERS:
        with h.direct(stack, u) as conn:
            out[u] = store_view(conn)
            conn.logout()
    return out


def mismatches(devices: list[Device], store: dict) -> dict[str, list[str]]:
    return {d.login_name: diff for d in devices if (diff := d.differences(store[d.user]))}


def diagnosis(stack: dict, d: Device) -> str:
    """Where a device's missing events are (for a failure report): its session and queue in Redis, who
    holds it for wake-ups, and the last lines it heard. Events past `ack` in the queue point at the
    session service / edge; a queue that never got them points at the store-watcher / notifier."""
    tag = f"pimap:d:{{{d.user}/{d.login_name.split('#', 1)[1]}}}"
    try:
        s = redis_command(stack, "HMGET", f"{tag}:s", "ack", "seq", "ps", "ep", "st", "edge")
        q = redis_command(stack, "XREVRANGE", f"{tag}:q", "+", "-", "COUNT", "3")
        a = redis_command(stack, "GET", f"{tag}:a")
        fields = dict(zip(("ack", "seq", "ps", "ep", "st", "edge"),
                          (v.decode() if isinstance(v, bytes) else v for v in s)))
        tail = [(e[0].decode(), dict(zip(e[1][::2], e[1][1::2])).get(b"i", b"").decode()) for e in q or []]
        redis_part = f"session {fields}; queue tail {tail}; attach {a!r}"
    except (OSError, ValueError, TypeError, IndexError) as e:
        redis_part = f"redis unreadable: {e}"
    return f"{redis_part}\n    heard: {list(d.heard)[-8:]}"


def service_lines(stack: dict, users: set[str], n: int = 4) -> str:
    """The last log lines (info and above) of each pimap service that name one of `users`."""
    out = []
    names = tuple(f'"user":"{u}"' for u in users)
    for svc in ("store-watcher", "notifier", "session", "edge"):
        try:
            lines = (Path(stack["dir"]) / "logs" / f"{svc}.log").read_text(errors="replace").splitlines()
        except OSError:
            continue
        picked = [ln[:240] for ln in lines if '"level":"debug"' not in ln and any(u in ln for u in names)][-n:]
        out.append(f"{svc}: {picked}")
    return "\n".join(out)


# -------------------------------------------------------------------------------------------------------
# The scenario

def run_faults(stack: dict, kinds: tuple[str, ...], scenario: str) -> None:
    """The stream of changes with the faults; `scenario` names the devices (one session each)."""
    for u in USERS:
        h.reset_mailbox(stack, u)
        h.deliver(stack, u, [h.message(f"seed-{RUN}-{u}-{i}") for i in range(SEED)])
    devices = [Device(stack, u, n, scenario) for u in USERS for n in range(DEVICES_PER_USER)]
    for d in devices:
        d.start()
    changer = Changer(stack, kinds)
    timeline: list[str] = []
    fault_done = threading.Event()
    fault_errors: list[str] = []
    try:
        assert all(d.ready.wait(60) for d in devices), \
            f"devices not in IDLE within 60 s: {[(d.login_name, d.errors, d.log[-3:]) for d in devices if not d.ready.is_set()]}"

        def inject(component: str, sig: str) -> None:
            try:
                t0 = time.monotonic()
                stack_component(stack, "stop", component, sig)
                time.sleep(DOWNTIME)
                stack_component(stack, "start", component)
                timeline.append(f"{component} SIG{sig}: down {time.monotonic() - t0:.1f} s "
                                f"(changes {changer.fault_started_at}..{changes_made[0]})")
            except BaseException as e:  # noqa: B036 - reported by the main thread
                fault_errors.append(f"{component}: {e}")
            finally:
                fault_done.set()

        # Fault i starts at change triggers[i]; the stream waits at triggers[i + 1] for it to be back.
        triggers = [CHANGES * (i + 1) // (len(FAULTS) + 2) for i in range(len(FAULTS))] + [CHANGES]
        changes_made = [0]
        next_fault = 0
        fault_done.set()
        start = time.monotonic()
        for i in range(CHANGES):
            if next_fault < len(FAULTS) and i == triggers[next_fault]:
                assert fault_done.wait(240), f"fault {FAULTS[next_fault - 1]} did not finish"
                assert not fault_errors, fault_errors
                fault_done.clear()
                changer.fault_started_at = i
                threading.Thread(target=inject, args=FAULTS[next_fault], daemon=True).start()
                next_fault += 1
            elif i in triggers[1:] and not fault_done.is_set():
                assert fault_done.wait(240), f"fault {FAULTS[next_fault - 1]} did not finish"
            changer.change(USERS[i % len(USERS)])
            changes_made[0] = i + 1
            lag = start + (i + 1) / RATE - time.monotonic()
            if lag > 0:
                time.sleep(lag)
        assert fault_done.wait(240), "the last fault did not finish"
        assert not fault_errors, fault_errors
        stream_seconds = time.monotonic() - start

        # Nothing lost: wait (bounded) until every view equals the store, then compare for the record.
        store = truth(stack)
        deadline = time.monotonic() + SETTLE
        while (diff := mismatches(devices, store)) and time.monotonic() < deadline:
            time.sleep(1)
        # Read before the devices LOGOUT (Close deletes their sessions and queues).
        diagnosed = {name: diagnosis(stack, d) for d in devices if (name := d.login_name) in list(diff)[:4]}
        for d in devices:
            d.stopping.set()
        for d in devices:
            d.finished.wait(60)
        store = truth(stack)
        diff = mismatches(devices, store)
        errors = {d.login_name: d.errors for d in devices if d.errors}
        summary = (f"{CHANGES} changes {changer.counts} in {stream_seconds:.0f} s; faults: {timeline}; "
                   f"devices: {sum(d.logins for d in devices)} logins, {sum(d.drops for d in devices)} dropped connections, "
                   f"{sum(d.resyncs for d in devices)} state comparisons after RESYNC")
        print(summary)
        report = "\n".join(f"{name}: {errs[:5]}\n    log: {next(d.log[-12:] for d in devices if d.login_name == name)}"
                           for name, errs in list(errors.items())[:8])
        assert not errors, f"{len(errors)} devices were told an event twice or out of step; {summary}\n{report}"
        by_name = {d.login_name: d for d in devices}
        report = "\n".join(f"{name}: {lines[:4]}\n    log: {by_name[name].log[-12:]}\n    {diagnosed.get(name, 'no diagnosis (differed only after the settle)')}"
                           for name, lines in list(diff.items())[:4])
        kinds_of_difference = collections.Counter(lines[0] for lines in diff.values())
        assert not diff, (f"{len(diff)} of {len(devices)} devices' views differ from the store "
                          f"{dict(kinds_of_difference)} ({sorted({by_name[n].user for n in diff})}); {summary}\n"
                          f"{report}\n{service_lines(stack, {by_name[n].user for n in list(diff)[:4]})}")
    finally:
        for d in devices:
            d.stopping.set()
            d.finished.set()
        changer.close()
        for u in USERS:
            h.reset_mailbox(stack, u)


def test_new_mail_survives_kills_and_restarts(stack):
    run_faults(stack, ("new",), "new")


class FlagEventsMissing(AssertionError):
    """A flag change made at the store did not reach a device in IDLE: nothing to test under faults."""


# Causes of failure found with this test and fixed (issue #5; docs/store-watcher.md "Races between hooks and
# runs", docs/protocol.md "Rendering" and "Acks and checkpoints"): an expunge lost while the watcher was down
# (a reconcile skipped vanished UIDs at or above its old UIDNEXT); a reconcile's late NEW after the expunge's
# hook (the later EXPUNGED was a duplicate); a reconcile's late flag change told again after the device's
# state comparison (the SELECT's HIGHESTMODSEQ floor), or committed between its SELECT and its FETCH (the
# MODSEQ its FETCH showed, per UID); checkpoints refused while the session service restarted were dropped
# (now retried); an edge killed between writing events and storing their checkpoint made the resume replay
# them (now the session service records what it pushed, and a resume over events pushed but not
# acknowledged is a scoped RESYNC). And one in the test itself: its state comparison ignored an EXPUNGE the
# store sent at the end of the UID FETCH.
def test_flags_and_expunges_survive_kills_and_restarts(stack):
    # Fail fast, by name, if a flag change does not reach a device at all (e.g. the OX push driver,
    # which reports new mail only). Until the reconciler said a new message's flags again, this probe
    # failed: the reset's reconcile ran after the STORE and folded the flag into a NEW the device skipped.
    u = USERS[0]
    h.reset_mailbox(stack, u)
    h.deliver(stack, u, [h.message(f"probe-{RUN}")])
    d = Device(stack, u, 0, "probe")
    d.start()
    try:
        assert d.ready.wait(30), d.log
        with h.direct(stack, u) as conn:
            conn.select("INBOX")
            typ, data = conn.uid("STORE", "1:*", "+FLAGS", "(\\Flagged)")
            assert typ == "OK", data
            conn.logout()
        deadline = time.monotonic() + 10
        while not (d.view and "\\Flagged" in d.view[0].flags) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not (d.view and "\\Flagged" in d.view[0].flags):
            raise FlagEventsMissing(
                "a flag change made at the store did not reach a device in IDLE within 10 s "
                f"(docs/store-watcher.md); device log {d.log}")
    finally:
        d.stopping.set()
        d.finished.wait(20)
        h.reset_mailbox(stack, u)
    assert not d.errors, d.errors
    run_faults(stack, ("new", "flags", "expunge"), "all")
