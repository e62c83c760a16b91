"""`stack up | down | status`: orchestration of the components into one local cluster."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from .core import Aborted, Context, StackError, say, stack_id, tcp_open, write_json_atomic
from .dovecot import Dovecot
from .kafka import SELFTEST_TOPIC, TOPIC, Kafka
from .kannel import Kannel
from .pimap_services import SERVICES, start_services
from .ports import PortReservation
from .postfix import Postfix
from .procs import Registry
from .redis_server import Redis
from .restart import READY, SIGNALS, command as restart_command
from .tls import make_certificates

STACK_FILE = "stack.json"
# What `up` owns inside DIR and wipes before starting (anything else in DIR is left alone).
OWNED = ["logs", "tls", "secrets", "dovecot", "redis", "kafka", "postfix", "kannel", STACK_FILE,
         *[f"{svc.name}.yaml" for svc in SERVICES]]


def _wipe(directory: Path) -> None:
    for name in OWNED:
        p = directory / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def _describe(ctx: Context, certs, dovecot: Dovecot, redis: Redis, kafka: Kafka, postfix: Postfix,
              kannel: Kannel) -> dict:
    a = ctx.addr
    return {
        "dir": str(ctx.dir),
        "id": ctx.id,
        "ca_cert": str(certs.ca_cert),
        "tls": {"cert": str(certs.cert), "key": str(certs.key)},
        "edge": {"imap": a("edge.imap"), "imaps": a("edge.imaps"), "https": a("edge.https")},
        "session": {"grpc": a("session.grpc")},
        "store_watcher": {"intake": a("store_watcher.intake")},
        "metrics": {svc.name: a(f"metrics.{svc.name}") for svc in SERVICES},
        "dovecot": dovecot.describe(),
        "smtp": postfix.describe(),
        "redis": redis.describe(),
        "kafka": kafka.describe(),
        "kafka_topics": {"events": TOPIC, "selftest": SELFTEST_TOPIC},
        "kannel": kannel.describe(),
        "users": [{k: u[k] for k in ("name", "password", "email")} for u in dovecot.users],
        "logs": str(ctx.dir / "logs"),
    }


def up(directory: Path, build_dir: Path, replace: bool) -> int:
    t0 = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    registry = Registry(directory)
    if registry.live_pids():
        if not replace:
            say(f"a stack is already running in {directory}; run `scripts/stack down --dir {directory}` "
                "first (or pass --replace)")
            return 1
        say(f"replacing the stack running in {directory}")
    if registry.data["processes"] or registry.data["netns"]:
        if _teardown(registry) != 0:
            return 1
    _wipe(directory)
    registry = Registry(directory)

    try:
        reservation = PortReservation.allocate()
    except RuntimeError as e:
        say(f"FAILED: ports: {e}")
        return 1
    ctx = Context(dir=directory, build_dir=build_dir, ports=reservation.ports, registry=registry)
    failures: list[BaseException] = []

    def guarded(fn):
        try:
            fn()
        except Aborted:
            pass
        except BaseException as e:  # noqa: B036 - reported below, then everything is torn down
            failures.append(e)
            ctx.abort.set()

    kafka_thread = None
    try:
        say(f"starting in {directory} (ports {min(ctx.ports.values())}-{max(ctx.ports.values())}, "
            f"netns {ctx.netns})")
        certs = make_certificates(ctx)
        dovecot, redis, kafka = Dovecot(ctx, certs), Redis(ctx), Kafka(ctx)
        postfix, kannel = Postfix(ctx), Kannel(ctx)
        for c in (kafka, dovecot, redis, postfix, kannel):
            c.prepare()
        # Kafka dominates start-up time: it boots in its own thread while the rest come up.
        kafka_thread = threading.Thread(target=guarded, args=(lambda: kafka.start(reservation),), daemon=True)
        kafka_thread.start()
        for c in (dovecot, redis, postfix, kannel):
            guarded(lambda c=c: c.start(reservation))
            if failures:
                break
            say(f"{c.name} up ({time.monotonic() - t0:.1f} s)")
        kafka_thread.join()
        if failures:
            raise failures[0]
        say(f"kafka up ({time.monotonic() - t0:.1f} s)")
        stack = _describe(ctx, certs, dovecot, redis, kafka, postfix, kannel)
        stack["pimap_services"] = start_services(ctx, reservation, stack)
        stack["build_dir"] = str(build_dir)
        reservation.release_all()
        write_json_atomic(directory / STACK_FILE, stack)
    except BaseException as e:
        ctx.abort.set()
        registry.close()
        if kafka_thread is not None:
            kafka_thread.join(timeout=150)
        reservation.release_all()
        if isinstance(e, StackError):
            say(f"FAILED: {e}")
        elif isinstance(e, (KeyboardInterrupt, SystemExit)):
            say("interrupted")
        else:
            say(f"FAILED: {type(e).__name__}: {e}")
        say("tearing down what was started")
        _teardown(registry)
        if not isinstance(e, (StackError, KeyboardInterrupt, SystemExit)):
            raise
        return 1
    say(f"up in {time.monotonic() - t0:.1f} s; description in {directory / STACK_FILE}")
    print(json.dumps(stack, indent=2), flush=True)
    return 0


def _teardown(registry: Registry) -> int:
    survivors = registry.stop_all()
    failed_ns = registry.delete_netns()
    if survivors or failed_ns:
        say(f"could not stop everything: pids {survivors} netns {failed_ns}")
        return 1
    registry.forget()
    return 0


def down(directory: Path) -> int:
    registry = Registry(directory)
    netns = f"pimap-{stack_id(directory)}"
    # Also sweeps the derived netns name, in case `up` died between creating and recording it.
    if Path(f"/run/netns/{netns}").exists() and netns not in registry.data["netns"]:
        registry.data["netns"].append(netns)
    rc = _teardown(registry)
    if rc == 0:
        (directory / STACK_FILE).unlink(missing_ok=True)
        say(f"down: nothing left running for {directory}")
    return rc


def status(directory: Path) -> int:
    registry = Registry(directory)
    try:
        stack = json.loads((directory / STACK_FILE).read_text())
    except (OSError, ValueError):
        stack = None
    procs = registry.status()
    ports = {}
    if stack:
        for key, value in _addresses(stack):
            ports[key] = tcp_open(int(value.rsplit(":", 1)[1]))
    report = {"dir": str(directory), "running": bool(procs) and all(p["alive"] for p in procs),
              "processes": procs, "listening": ports}
    print(json.dumps(report, indent=2))
    if not procs:
        return 3
    return 0 if report["running"] else 1


def _addresses(stack: dict, prefix: str = ""):
    """(key, host:port) pairs of every service address in a stack description."""
    for key, value in stack.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _addresses(value, name + ".")
        elif isinstance(value, str) and value.startswith("127.0.0.1:"):
            yield name, value


def default_dir(repo: Path) -> Path:
    """Under /tmp rather than in the checkout: Dovecot's per-user mail uids and its auth worker must
    traverse every parent folder, and checkouts often sit below private (0700) homes."""
    return Path("/tmp") / f"pimap-stack-{hashlib.sha1(str(repo).encode()).hexdigest()[:8]}"


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(prog="stack", description="Local pimap cluster on 127.0.0.1 "
                                 "(see docs/local-cluster.md).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, text in (("up", "start a stack, print its description (JSON) on stdout"),
                       ("down", "stop everything a stack started"),
                       ("status", "show which recorded processes and ports are alive"),
                       ("stop", "stop one component of a running stack (fault tests)"),
                       ("start", "start a stopped component again with its recorded command"),
                       ("restart", "stop, then start one component")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--dir", type=Path, default=default_dir(repo),
                       help="stack directory (default: /tmp/pimap-stack-<hash of the repo path>)")
        if name == "up":
            p.add_argument("--build-dir", type=Path,
                           default=Path(os.environ.get("PIMAP_BUILD_DIR", repo / "build" / "debug")),
                           help="where pimap service binaries are looked for "
                                "(default: $PIMAP_BUILD_DIR or <repo>/build/debug)")
            p.add_argument("--replace", action="store_true", help="tear down a stack already running in DIR")
        if name in ("stop", "start", "restart"):
            p.add_argument("component", choices=list(READY))
        if name in ("stop", "restart"):
            p.add_argument("--signal", choices=list(SIGNALS), default="TERM",
                           help="KILL: kill -9 (the whole process session); TERM (default): clean stop")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        say("needs root (network namespace for Kannel, per-user mail uids for Dovecot)")
        return 1
    directory = args.dir.resolve()
    # SIGTERM (e.g. a ctest timeout) during `up` must still tear down what was started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.cmd == "up":
        return up(directory, args.build_dir.resolve(), args.replace)
    if args.cmd == "down":
        return down(directory)
    if args.cmd in ("stop", "start", "restart"):
        return restart_command(directory, args.cmd, args.component, getattr(args, "signal", "TERM"))
    return status(directory)
