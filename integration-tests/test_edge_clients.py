"""Real IMAP clients work through pimap-edge unchanged (issue 4, Acceptance 1).

Every scenario runs twice, once directly against the stack's Dovecot and once through the edge (login
`userNN#Ptest1`, a P-IMAP device), each time with a user of its own, over STARTTLS (edge.imap) and over
implicit TLS (edge.imaps), the certificate checked against the stack CA. The end states — what the store
holds and what the client's local copy holds — must be the expected ones and equal between the two runs.
The direct run goes first: when it fails, the scenario or the stack is wrong, not the edge.

Users: user30..user39 (edge_harness.CLIENT_USERS), wiped at the start of each scenario.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import edge_harness as h

TRANSPORTS = ["starttls", "imaps"]

# (direct user, edge user) per client; interimap needs a second pair (its "local" side).
PAIR = ("user30", "user31")
PAIR2 = ("user32", "user33")


@pytest.fixture(scope="module")
def tg(stack):
    with h.push_intake_sink(stack):
        yield h.targets(stack)


@pytest.fixture
def workdir():
    # Not pytest's tmp_path (0700): clients run as a non-root account must be able to enter it.
    d = Path(tempfile.mkdtemp(prefix="pimap-edge-clients-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_both(stack, tg, scenario, users, transport, workdir, **kw):
    """scenario(stack, target, username, transport, dir) -> end state; direct first, then the edge."""
    out = {}
    for name, username in (("dovecot", users[0]), ("edge", users[1])):
        if name == "edge":
            h.require_edge(stack)
            h.end_device_session(stack, tg[name], username)
        h.reset_mailbox(stack, username)
        d = workdir / name
        d.mkdir()
        d.chmod(0o755)
        out[name] = scenario(stack, tg[name], username, transport, d, **kw)
    return out["dovecot"], out["edge"]


def assert_same(direct, edge, what):
    assert edge == direct, f"{what}: end state through the edge differs from Dovecot directly\n" \
                           f"direct: {direct}\nedge:   {edge}"


# ---------------------------------------------------------------------------------------------------------
# The two-way sync scenario shared by mbsync and offlineimap (real-clients.md §3, scaled down)

INITIAL = [f"k{i:02d}" for i in range(1, 15)]
S, F, R = "\\Seen", "\\Flagged", "\\Answered"
TWO_WAY_EXPECTED = {
    "INBOX": sorted([("a01", ()), ("a02", (S,)), ("k01", (F, S)), ("k02", (F,)), ("k03", (F,)),
                     ("k04", (S,)), ("k05", (S,)), ("k06", (S,)), ("k09", (S,)), ("k10", (S,)),
                     ("k11", (R, S)), ("k12", ()), ("n01", ())]),
    "Projects": [("p01", ()), ("p02", ())],
    "LocalOnly": [("l01", ()), ("l02", (S,))],
    "Drafts": [], "Sent": [], "Trash": [],
}


def ids(state):
    """Message-ids are <key@it.pimap.test>; keep the key."""
    return {box: sorted((mid.split("@")[0], flags) for mid, flags in msgs) for box, msgs in state.items()}


def server_changes(stack, target, username, transport, flags=(), expunge=(), append=(), folders=()):
    """Changes made on the server side by imaplib, over the same target and transport as the client.

    flags: [(keys, "+FLAGS", "(\\Seen)")], expunge: keys, append: [(key, flags)] into INBOX,
    folders: [(name, [keys])] created, subscribed and filled.
    """
    conn = h.login(stack, target, transport, username, device="Pharness")
    try:
        assert conn.select("INBOX")[0] == "OK"
        uid_of = {}
        typ, data = conn.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                uid_of[re.search(rb"<([^@]*)@", item[1]).group(1).decode()] = uid

        def uids(keys):
            return ",".join(str(uid_of[k]) for k in keys)
        for keys, op, value in flags:
            assert conn.uid("STORE", uids(keys), op, value)[0] == "OK"
        if expunge:
            assert conn.uid("STORE", uids(expunge), "+FLAGS", "(\\Deleted)")[0] == "OK"
            assert conn.expunge()[0] == "OK"
        for key, fl in append:
            assert conn.append("INBOX", fl, None, h.message(key))[0] == "OK"
        for name, keys in folders:
            assert conn.create(name)[0] == "OK"
            assert conn.subscribe(name)[0] == "OK"
            for k in keys:
                assert conn.append(name, None, None, h.message(k))[0] == "OK"
        assert conn.logout()[0] == "BYE"
    except BaseException:
        conn.shutdown()
        raise


def far_changes(stack, target, username, transport):
    server_changes(stack, target, username, transport,
                   flags=[(("k01", "k02", "k03"), "+FLAGS", "(\\Flagged)"),
                          (("k04", "k05", "k06"), "+FLAGS", "(\\Seen)")],
                   expunge=("k07", "k08"), append=[("a01", None), ("a02", "(\\Seen)")],
                   folders=[("Projects", ["p01", "p02"])])


def near_changes(inbox: Path, root: Path):
    files = {k.split("@")[0]: f for k, f in h.maildir_files(inbox).items()}
    assert sorted(files) == INITIAL, sorted(files)
    h.maildir_set_flags(files["k09"], "S")
    h.maildir_set_flags(files["k10"], "S")
    h.maildir_set_flags(files["k11"], "RS")
    h.maildir_set_flags(files["k01"], "S")  # conflicts with the far side's \Flagged: both must win
    files["k13"].unlink()
    files["k14"].unlink()
    h.maildir_add(inbox, h.message("n01"))
    local_only = root / "LocalOnly"
    h.maildir_add(local_only, h.message("l01"))
    h.maildir_add(local_only, h.message("l02"), "S")


# ---------------------------------------------------------------------------------------------------------
# mbsync (isync): judges UIDPLUS/APPENDUID, LITERAL+, pipelining and COMPRESS (it switches it on itself)

def mbsync_scenario(stack, target, username, transport, d):
    h.deliver(stack, username, [h.message(k) for k in INITIAL])
    local = d / "local"
    local.mkdir()
    rc = d / "mbsyncrc"
    rc.write_text(f"""IMAPAccount acc
Host localhost
Port {target.port(transport)}
User {target.login_name(username)}
Pass {h.user(stack, username)['password']}
SSLType {'IMAPS' if transport == 'imaps' else 'STARTTLS'}
CertificateFile {stack['ca_cert']}
SystemCertificates no
PipelineDepth 50
Timeout 20

IMAPStore far
Account acc

MaildirStore near
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel ch
Far :far:
Near :near:
Patterns *
Create Both
Remove Both
Expunge Both
SyncState *
Sync All
CopyArrivalDate yes
""")

    def sync(n):
        r = h.run(["mbsync", "-c", str(rc), "-a"], timeout=60)
        assert r.returncode == 0, f"{target.name}: mbsync run {n} failed (rc {r.returncode})\n{r.stdout}\n{r.stderr}"
        return r

    sync(1)
    first = ids(h.maildir_state(local))
    assert first["INBOX"] == [(k, ()) for k in INITIAL], f"{target.name}: initial sync: {first}"
    far_changes(stack, target, username, transport)
    near_changes(local / "INBOX", local)
    sync(2)
    sync(3)  # converged: nothing left to do, and the state must not move
    return {"store": ids(h.store_state(stack, username)), "local": ids(h.maildir_state(local))}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_mbsync_two_way_sync(stack, tg, workdir, transport):
    direct, edge = run_both(stack, tg, mbsync_scenario, PAIR, transport, workdir)
    assert direct["store"] == TWO_WAY_EXPECTED, f"direct run is off: {direct['store']}"
    assert direct["local"] == direct["store"]
    assert_same(direct, edge, f"mbsync over {transport}")


# ---------------------------------------------------------------------------------------------------------
# offlineimap3: the same two-way scenario through another IMAP stack (imaplib2, threads, UID-based)

def offlineimap_scenario(stack, target, username, transport, d):
    h.deliver(stack, username, [h.message(k) for k in INITIAL])
    local = d / "local"
    local.mkdir()
    rc = d / "offlineimaprc"
    # STARTTLS: offlineimap 8.0.0 calls imaplib2's starttls() without its CA file, so only the implicit
    # TLS run verifies the certificate (there with sslcacertfile).
    rc.write_text(f"""[general]
accounts = acc
metadata = {d}/meta
ui = basic
maxsyncaccounts = 1

[Account acc]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {local}
sep = /

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = {target.port(transport)}
remoteuser = {target.login_name(username)}
remotepass = {h.user(stack, username)['password']}
ssl = {'yes' if transport == 'imaps' else 'no'}
starttls = {'no' if transport == 'imaps' else 'yes'}
sslcacertfile = {stack['ca_cert']}
usecompression = no
maxconnections = 1
createfolders = True
timeout = 20
""")

    def sync(n):
        # imaplib2 (offlineimap's IMAP library) uses one SSL object from its reader and its writer thread at
        # once; right after STARTTLS this sometimes loses the answer to CAPABILITY (the run hangs) or crashes
        # the interpreter (SIGSEGV). Both happen against Dovecot directly as well, always before the login,
        # so such a run changed nothing and is retried, at most twice, on both targets alike.
        def before_login(out):
            lines = out.strip().splitlines()
            return bool(lines) and lines[-1].startswith("Establishing connection")
        for attempt in range(3):
            try:
                r = h.run(["offlineimap", "-c", str(rc), "-u", "basic", "-o"], timeout=45)
            except AssertionError as e:
                out = str(e).split("stdout:\n", 1)[-1].split("\nstderr:", 1)[0]
                if "timed out" in str(e) and before_login(out) and attempt < 2:
                    continue
                raise
            if r.returncode < 0 and before_login(r.stdout) and attempt < 2:
                continue
            break
        text = r.stdout + r.stderr
        assert r.returncode == 0 and "ERROR" not in text, \
            f"{target.name}: offlineimap run {n} failed (rc {r.returncode})\n{text}"
        return text

    sync(1)
    first = ids(h.maildir_state(local))
    assert first["INBOX"] == [(k, ()) for k in INITIAL], f"{target.name}: initial sync: {first}"
    far_changes(stack, target, username, transport)
    near_changes(local / "INBOX", local)
    sync(2)
    sync(3)
    return {"store": ids(h.store_state(stack, username)), "local": ids(h.maildir_state(local))}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_offlineimap_two_way_sync(stack, tg, workdir, transport):
    direct, edge = run_both(stack, tg, offlineimap_scenario, PAIR, transport, workdir)
    assert direct["store"] == TWO_WAY_EXPECTED, f"direct run is off: {direct['store']}"
    assert direct["local"] == direct["store"]
    assert_same(direct, edge, f"offlineimap over {transport}")


# ---------------------------------------------------------------------------------------------------------
# interimap: IMAP<->IMAP sync driven by CONDSTORE/QRESYNC (ENABLE QRESYNC, SELECT ... (QRESYNC ...),
# UID FETCH ... (CHANGEDSINCE ...) VANISHED), both sides on the same target

INTERIMAP_EXPECTED = {
    "INBOX": sorted([("q02", ()), ("r01", (R, F)), ("r02", (F,)), ("r03", (S,)), ("r05", (S,)),
                     ("r06", ()), ("r07", ()), ("r08", ()), ("r09", ()), ("r10", ()), ("r11", ())]),
    "Projects": [("p01", ())],
    "LocalOnly": [("l01", ())],
    "Drafts": [], "Sent": [], "Trash": [],
}


def interimap_scenario(stack, target, username, transport, d, local_user):
    h.reset_mailbox(stack, local_user)
    h.deliver(stack, username, [h.message(f"r{i:02d}") for i in range(1, 11)])
    h.deliver(stack, local_user, [h.message("q01"), h.message("q02")])

    def side(name, u):
        kind = "imaps" if transport == "imaps" else "imap"
        starttls = "" if transport == "imaps" else "STARTTLS = YES\n"
        return (f"[{name}]\ntype = {kind}\nhost = localhost\nport = {target.port(transport)}\n{starttls}"
                f"username = {target.login_name(u)}\npassword = {h.user(stack, u)['password']}\n"
                f"SSL_CAfile = {stack['ca_cert']}\nSSL_verify = YES\n")
    conf = d / "interimap.conf"
    conf.write_text(f"database = {d}/interimap.db\n\n" + side("local", local_user) + "\n" + side("remote", username))
    conf.chmod(0o600)

    def sync(n):
        # interimap ends by closing the socket, without LOGOUT. Through the edge that leaves a live P-IMAP
        # session, and the next device login resumes it in the SELECTED state (`* SESSION SELECTED`,
        # profile §3) — which a client that does not speak P-IMAP cannot follow (its ENABLE QRESYNC then
        # meets a selected mailbox). A device ends its session with LOGOUT; do that for it between runs.
        h.end_device_session(stack, target, username)
        h.end_device_session(stack, target, local_user)
        r = h.run(["interimap", f"--config={conf}", "--debug"], timeout=90)
        assert r.returncode == 0, f"{target.name}: interimap run {n} failed (rc {r.returncode})\n{r.stderr[-4000:]}"
        return r.stderr

    sync(1)
    server_changes(stack, target, username, transport,
                   flags=[(("r01", "r02"), "+FLAGS", "(\\Flagged)"), (("r03",), "+FLAGS", "(\\Seen)")],
                   expunge=("r04",), append=[("r11", None)], folders=[("Projects", ["p01"])])
    server_changes(stack, target, local_user, transport,
                   flags=[(("r05",), "+FLAGS", "(\\Seen)"), (("r01",), "+FLAGS", "(\\Answered)")],
                   expunge=("q01",), folders=[("LocalOnly", ["l01"])])
    log2 = sync(2)
    log3 = sync(3)
    # It really ran on QRESYNC/CONDSTORE, and the third run found nothing left to do.
    assert "ENABLE QRESYNC" in log2 and re.search(r"SELECT \S+ \(QRESYNC \(", log2), \
        f"{target.name}: interimap did not resynchronise by QRESYNC:\n{log2[-3000:]}"
    assert not re.search(r"C: \S+ (UID STORE|APPEND|UID EXPUNGE|CREATE) ", log3), f"{target.name}: third run still changed things:\n{log3[-3000:]}"
    return {"remote": ids(h.store_state(stack, username)), "local": ids(h.store_state(stack, local_user))}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_interimap_condstore_qresync_sync(stack, tg, workdir, transport):
    out = {}
    for name, (remote, local) in (("dovecot", (PAIR[0], PAIR2[0])), ("edge", (PAIR[1], PAIR2[1]))):
        if name == "edge":
            h.require_edge(stack)
            h.end_device_session(stack, tg[name], remote)
            h.end_device_session(stack, tg[name], local)
        h.reset_mailbox(stack, remote)
        d = workdir / name
        d.mkdir()
        out[name] = interimap_scenario(stack, tg[name], remote, transport, d, local_user=local)
    direct, edge = out["dovecot"], out["edge"]
    assert direct["remote"] == INTERIMAP_EXPECTED, f"direct run is off: {direct}"
    assert direct["local"] == direct["remote"]
    assert_same(direct, edge, f"interimap over {transport}")


# ---------------------------------------------------------------------------------------------------------
# fetchmail: works by sequence number (FETCH n, STORE n +FLAGS (\Seen \Deleted), EXPUNGE after each
# message), so the edge must keep sequence numbers right across EXPUNGEs

FETCH_KEYS = [f"f{i:02d}" for i in range(1, 9)]
SEEN_BEFORE = ("f02", "f04", "f06")  # not fetched (fetchmail takes unseen mail only): gaps in the numbering


def fetchmail_scenario(stack, target, username, transport, d):
    h.deliver(stack, username, [h.message(k) for k in FETCH_KEYS])
    with h.direct(stack, username) as conn:
        conn.select("INBOX")
        for k in SEEN_BEFORE:
            conn.store(str(FETCH_KEYS.index(k) + 1), "+FLAGS", "(\\Seen)")
        conn.logout()
    out = d / "out"
    out.mkdir()
    mda = d / "mda.sh"
    mda.write_text(f'#!/bin/sh\nexec cat > "{out}/$(date +%s%N).$$.eml"\n')
    mda.chmod(0o755)
    tls = "ssl\n    " if transport == "imaps" else "sslproto 'TLS1.2+'\n    "
    rc = d / "fetchmailrc"
    rc.write_text(f"""set no syslog
set idfile {d}/fetchids
poll localhost service {target.port(transport)} proto IMAP auth password timeout 20
    user "{target.login_name(username)}" password "{h.user(stack, username)['password']}" is {h.CLIENT_ACCOUNT} here
    folder INBOX
    {tls}sslcertck
    sslcertfile {stack['ca_cert']}
    mda "{mda}"
""")
    rc.chmod(0o600)
    # fetchmail warns against running as root; run it as an ordinary account, as a user would.
    uid, gid = h.client_account()
    h.chown_tree(d, uid, gid)
    r = h.run(["fetchmail", "-f", str(rc), "-v", "--nosyslog"], timeout=60, as_user=True,
              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(d)})
    assert r.returncode == 0, f"{target.name}: fetchmail failed (rc {r.returncode})\n{r.stdout}\n{r.stderr}"
    assert re.search(r"IMAP> A\d+ EXPUNGE", r.stdout + r.stderr), "fetchmail did not expunge per message"
    fetched = {}
    for f in out.iterdir():
        text = f.read_bytes()
        mid = re.search(rb"(?im)^Message-ID:\s*<([^@>]*)@", text).group(1).decode()
        body = text.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in text else text.split(b"\n\n", 1)[1]
        fetched[mid] = body.replace(b"\r\n", b"\n")
    return {"store": ids(h.store_state(stack, username)), "fetched": fetched}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fetchmail_fetch_and_delete_by_sequence_number(stack, tg, workdir, transport):
    direct, edge = run_both(stack, tg, fetchmail_scenario, PAIR, transport, workdir)
    unseen = [k for k in FETCH_KEYS if k not in SEEN_BEFORE]
    assert sorted(direct["fetched"]) == unseen, f"direct run is off: {sorted(direct['fetched'])}"
    for k, body in direct["fetched"].items():
        assert body == h.message(k).split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n"), k
    assert direct["store"]["INBOX"] == [(k, (S,)) for k in SEEN_BEFORE]
    assert sorted(edge["fetched"]) == unseen, f"through the edge fetchmail got {sorted(edge['fetched'])}"
    assert_same(direct, edge, f"fetchmail over {transport}")


# ---------------------------------------------------------------------------------------------------------
# curl: one command per run (LIST, EXAMINE, SEARCH, FETCH by UID / section / partial, APPEND, STORE)

CURL_KEYS = ["c01", "c02", "c03"]


def curl_scenario(stack, target, username, transport, d):
    h.deliver(stack, username, [h.message(k, subject=f"curl {k}", size=3000 if k == "c02" else 0)
                                for k in CURL_KEYS])
    scheme = "imaps" if transport == "imaps" else "imap"
    base = f"{scheme}://localhost:{target.port(transport)}"
    auth = f"{target.login_name(username)}:{h.user(stack, username)['password']}"

    def curl(path, *extra, data: bytes | None = None):
        argv = ["curl", "-sS", "--max-time", "20", "--cacert", stack["ca_cert"], "--user", auth, *extra,
                base + path]
        if transport == "starttls":
            argv.insert(1, "--ssl-reqd")
        if data is not None:
            (d / "upload.eml").write_bytes(data)
            argv[1:1] = ["-T", str(d / "upload.eml")]
        r = h.run(argv, timeout=30)
        assert r.returncode == 0, f"{target.name}: {' '.join(argv[:-1])} {path}: rc {r.returncode}\n{r.stderr}"
        return r.stdout

    def norm(text):
        # The user's name, per-user counters and the LMTP trace header differ between the two users;
        # nothing else may.
        text = text.replace(username, "USER")
        text = re.sub(r"\tid \S+\r\n", "\tid ID\r\n", text)
        text = re.sub(r"; \w{3}, +\d+ \w{3} \d{4} [\d:]+ [+-]\d{4}\r\n", "; DATE\r\n", text)
        text = re.sub(r"\[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ) \d+\]", r"[\1 n]", text)
        text = re.sub(r"\b(UIDNEXT|UIDVALIDITY|HIGHESTMODSEQ) \d+", r"\1 n", text)
        return text

    out = {}
    out["list"] = curl("/")
    out["append"] = curl("/INBOX", data=h.message("c04", subject="curl appended"))
    out["examine"] = norm(curl("/INBOX", "-X", "EXAMINE INBOX"))
    out["search"] = curl("/INBOX?SUBJECT%20c02")
    uid = int(re.search(r"\* SEARCH (\d+)", curl("/INBOX", "-X", "UID SEARCH SUBJECT c02")).group(1))
    out["fetch_uid"] = norm(curl(f"/INBOX;UID={uid}"))
    out["section"] = curl(f"/INBOX;UID={uid};SECTION=HEADER.FIELDS%20(SUBJECT%20MESSAGE-ID)")
    out["partial"] = norm(curl(f"/INBOX;UID={uid};PARTIAL=0.100"))
    out["text_partial"] = curl(f"/INBOX;UID={uid};SECTION=TEXT;PARTIAL=1000.200")
    out["store"] = re.sub(r"UID \d+", "UID u", curl("/INBOX", "-X", f"UID STORE {uid} +FLAGS (\\Flagged)"))
    out["appended_search"] = curl("/INBOX?SUBJECT%20%22curl%20appended%22")
    out["status"] = norm(curl("/", "-X", "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"))
    out["end"] = ids(h.store_state(stack, username))
    return out


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_curl_single_commands(stack, tg, workdir, transport):
    direct, edge = run_both(stack, tg, curl_scenario, PAIR, transport, workdir)
    assert "INBOX" in direct["list"] and direct["search"].strip() == "* SEARCH 2", direct
    assert len(direct["partial"]) <= 100 and direct["fetch_uid"].startswith(direct["partial"])
    assert "Message-ID: <c02@it.pimap.test>" in direct["fetch_uid"]
    assert len(direct["text_partial"]) == 200
    assert direct["end"]["INBOX"] == [("c01", ()), ("c02", (F, S)), ("c03", ()), ("c04", (S,))]
    assert direct["appended_search"].strip() == "* SEARCH 4"
    for key in direct:
        assert edge[key] == direct[key], f"curl {key} over {transport}: edge differs\n" \
                                         f"direct: {direct[key]!r}\nedge:   {edge[key]!r}"


# ---------------------------------------------------------------------------------------------------------
# python imaplib: a plain session plus IDLE entered and left

IMAPLIB_KEYS = [f"i{i:02d}" for i in range(1, 7)]


def imaplib_scenario(stack, target, username, transport, d):
    h.deliver(stack, username, [h.message(k, subject=f"imaplib {k}") for k in IMAPLIB_KEYS])
    conn = h.login(stack, target, transport, username)
    out = {}
    try:
        caps = set(conn.capability()[1][0].decode().upper().split())
        out["caps"] = sorted(caps & {"IDLE", "UIDPLUS", "CONDSTORE", "QRESYNC", "ENABLE", "LITERAL+", "MOVE"})
        typ, data = conn.select("INBOX")
        out["select"] = (typ, data, conn.untagged_responses.get("FLAGS"),
                         conn.untagged_responses.get("PERMANENTFLAGS"))
        uid_key = {}
        typ, data = conn.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        fetched = []
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                key = re.search(rb"imaplib (\w+)", item[1]).group(1).decode()
                uid_key[uid] = key
                fetched.append(re.sub(rb"UID \d+", b"UID u", item[0]) + item[1])
        out["fetch"] = (typ, fetched)

        def keys(uid_list: bytes):
            return sorted(uid_key[int(u)] for u in uid_list.split())
        typ, data = conn.store("2:4", "+FLAGS", "(\\Flagged)")
        out["store"] = (typ, data)
        typ, data = conn.store("3", "+FLAGS", "(\\Deleted \\Seen)")
        out["store_deleted"] = (typ, data)
        typ, data = conn.expunge()
        out["expunge"] = (typ, data)  # the sequence numbers expunged
        typ, data = conn.uid("SEARCH", "FLAGGED")
        out["uid_search_flagged"] = (typ, keys(data[0]))
        typ, data = conn.search(None, "UNFLAGGED")
        out["search_unflagged"] = (typ, data)
        typ, data = conn.fetch("3", "(FLAGS BODY[TEXT])")
        out["fetch_after_expunge"] = (typ, data)

        # IDLE by hand (imaplib < 3.14 has no idle()): "+ idling", DONE, tagged OK, and the session goes on.
        tag = conn._new_tag()
        conn.send(tag + b" IDLE\r\n")
        cont = conn.readline()
        t0 = time.monotonic()
        conn.send(b"DONE\r\n")
        # Untagged responses may precede the completion (RFC 3501 §7). Through the edge the session is a
        # P-IMAP device, so the pipeline's in-band events for the changes above (profile §4) can arrive
        # here when the machine is slow; they must be well-formed event lines, never anything else.
        done = conn.readline()
        while done.startswith(b"* "):
            assert re.match(rb"\* (\d+ (EXISTS|RECENT|EXPUNGE|FETCH \()|STATUS |FOLDER |RESYNC|VANISHED |OK )", done), done
            done = conn.readline()
        out["idle"] = (cont.split(b" ")[0], re.sub(rb" OK .*", b" OK", done.strip()) == tag + b" OK")
        assert time.monotonic() - t0 < 5, "DONE took too long to be answered"
        out["noop_after_idle"] = conn.noop()[0]
        typ, data = conn.uid("SEARCH", "ALL")
        out["uid_search_all"] = (typ, keys(data[0]))
        out["close"] = conn.close()[0]
        out["logout"] = conn.logout()[0]
    except BaseException:
        conn.shutdown()
        raise
    out["end"] = ids(h.store_state(stack, username))
    return out, cont


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_imaplib_session_with_idle(stack, tg, workdir, transport):
    (direct, dcont), (edge, econt) = run_both(stack, tg, imaplib_scenario, PAIR, transport, workdir)
    assert direct["idle"] == (b"+", True) and dcont.startswith(b"+ idling"), dcont
    assert econt.startswith(b"+ idling"), f"edge IDLE continuation: {econt!r}"
    assert direct["uid_search_flagged"] == ("OK", ["i02", "i04"])
    assert direct["end"]["INBOX"] == [("i01", ()), ("i02", (F,)), ("i04", (F, S)), ("i05", ()), ("i06", ())]
    for key in direct:
        assert edge[key] == direct[key], f"imaplib {key} over {transport}: edge differs\n" \
                                         f"direct: {direct[key]!r}\nedge:   {edge[key]!r}"
