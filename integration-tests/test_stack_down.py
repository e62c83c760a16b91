"""`scripts/stack down` stops exactly what `up` started and leaves nothing behind.

Every test here brings up stacks of its own (never the shared one from PIMAP_STACK_JSON).
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading

import pytest

from pimap_stack import (accepts, addresses, alive, netns_list, new_stack_dir, pgrep, recorded_pids,
                         remove_dir, run_stack, session_pids, stack_down, stack_up, wait_for)


@pytest.fixture
def stack_dirs():
    """Fresh stack dirs; anything still up at the end is torn down (failsafe, not the assertion)."""
    made = []

    def make():
        made.append(new_stack_dir("pimap-down-"))
        return made[-1]

    yield make
    for d in made:
        stack_down(d)
        remove_dir(d)


def _snapshot(directory):
    """Every process the stack runs right now: recorded pids and all members of their sessions."""
    entries = recorded_pids(directory)
    pids = session_pids({e["pid"] for e in entries if e["own_session"]})
    pids |= {e["pid"] for e in entries if alive(e["pid"])}
    return entries, pids


def _assert_nothing_left(directory, stack, pids):
    assert not [p for p in pids if alive(p)], "processes survived `down`"
    assert pgrep(str(directory)) == [], "a process still mentions the stack dir"
    listening = {k: a for k, a in addresses(stack).items() if accepts(a)}
    assert listening == {}, f"ports still accept connections after `down`: {listening}"
    assert stack["kannel"]["netns"] not in netns_list()
    assert not (directory / "pids.json").exists()


def _down_and_check(directory, stack, pids):
    r = stack_down(directory)
    assert r.returncode == 0, r.stderr
    _assert_nothing_left(directory, stack, pids)
    again = stack_down(directory)
    assert again.returncode == 0, f"second `down` is not idempotent:\n{again.stderr}"


@pytest.mark.parametrize("victim", ["redis", "dovecot"], ids=["redis", "dovecot-master"])
def test_down_after_a_component_was_sigkilled(stack_dirs, victim):
    d = stack_dirs()
    stack = stack_up(d)
    entries, pids = _snapshot(d)
    (entry,) = [e for e in entries if e["component"] == victim]
    if victim == "dovecot":
        children = session_pids({entry["pid"]}) - {entry["pid"]}
        assert children, "Dovecot's master should have forked children (log, auth, config...)"
    os.kill(entry["pid"], signal.SIGKILL)
    assert wait_for(lambda: not alive(entry["pid"]), 5), f"{victim} survived SIGKILL"
    _down_and_check(d, stack, pids)


def test_two_stacks_side_by_side_and_down_touches_only_its_own(stack_dirs):
    """Also the clean case: nothing killed beforehand, everything gone after `down`."""
    a, b = stack_dirs(), stack_dirs()
    results = {}

    def bring_up(d):
        try:
            results[d] = stack_up(d)
        except Exception as e:  # reported by the assertion below
            results[d] = e

    threads = [threading.Thread(target=bring_up, args=(d,)) for d in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(results[d], dict) for d in (a, b)), results
    sa, sb = results[a], results[b]
    assert not set(addresses(sa).values()) & set(addresses(sb).values()), "two stacks got the same ports"
    assert sa["kannel"]["netns"] != sb["kannel"]["netns"]
    assert {sa["kannel"]["netns"], sb["kannel"]["netns"]} <= set(netns_list())
    _, pids_a = _snapshot(a)
    _, pids_b = _snapshot(b)
    assert len(pids_a) > len(recorded_pids(a)), "expected forked children (Dovecot, Postfix) in the snapshot"

    refused = run_stack("up", "--dir", str(b))
    assert refused.returncode != 0 and "already running" in refused.stderr, refused.stderr

    _down_and_check(a, sa, pids_a)
    assert all(alive(p) for p in pids_b), "down of one stack (or a refused up) hurt the other"
    assert run_stack("status", "--dir", str(b), timeout=30).returncode == 0
    assert accepts(sb["smtp"]) and accepts(sb["kafka"]) and accepts(sb["kannel"]["ppg"].split("/")[2])
    _down_and_check(b, sb, pids_b)


def test_failed_up_names_the_component_and_tears_down(stack_dirs):
    d = stack_dirs()
    r = run_stack("up", "--dir", str(d), env={"PIMAP_KAFKA_JAVA_OPTS": "-XX:+NoSuchJvmOption"})
    assert r.returncode != 0
    assert r.stdout == "", "a failed `up` must not print a stack description"
    assert "kafka:" in r.stderr and "last lines of" in r.stderr, r.stderr
    assert pgrep(str(d)) == []
    assert not (d / "pids.json").exists() and not (d / "stack.json").exists()
    assert f"pimap-{_stack_id(d)}" not in netns_list()


def _stack_id(directory):
    # Same derivation as scripts/stack_lib/core.stack_id: the netns name of a stack that never
    # got as far as printing its description.
    return hashlib.sha1(str(directory).encode()).hexdigest()[:10]
