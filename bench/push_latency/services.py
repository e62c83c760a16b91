"""Processes the push benchmark starts itself, and what it reads from the services' /metrics."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(hostport, path, timeout=5):
    with urllib.request.urlopen(f"http://{hostport}{path}", timeout=timeout) as r:
        return r.status, r.read().decode()


class Service:
    """A pimap service binary: the stack's config file plus flag overrides, output to a log file."""

    def __init__(self, binary, config, flags, log, admin):
        self.admin = admin
        self.log = open(log, "w")
        self.proc = subprocess.Popen([str(binary), "--config", str(config), *flags],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{binary} exited {self.proc.returncode}; see {log}")
            try:
                if http_get(admin, "/readyz", 1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{binary} not ready within 30 s; see {log}")

    def metrics(self):
        return parse_metrics(http_get(self.admin, "/metrics")[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def parse_metrics(text):
    """Prometheus text -> {"name{labels}": value}."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                continue
    return out


def total(m, name, **labels):
    """Sum of every series of `name` whose labels include `labels`."""
    s = 0.0
    for key, v in m.items():
        if key == name or key.startswith(name + "{"):
            if all(f'{k}="{val}"' in key for k, val in labels.items()):
                s += v
    return s


def histogram_delta(before, after, name):
    """(count, mean seconds, {le: cumulative count}) of a histogram between two scrapes."""
    n = total(after, name + "_count") - total(before, name + "_count")
    s = total(after, name + "_sum") - total(before, name + "_sum")
    buckets = {}
    for key, v in after.items():
        if key.startswith(name + "_bucket{"):
            le = key.split('le="', 1)[1].split('"', 1)[0]
            buckets[le] = buckets.get(le, 0) + v - before.get(key, 0.0)
    return n, (s / n if n else None), buckets


def bucket_quantile(buckets, q):
    """Upper bound of the histogram bucket holding quantile q (None without data)."""
    items = sorted(((float("inf") if le == "+Inf" else float(le)), c) for le, c in buckets.items())
    if not items or items[-1][1] <= 0:
        return None
    want = q * items[-1][1]
    for le, c in items:
        if c >= want:
            return le
    return None


def stack_pid(stack, component):
    """PID of the process `scripts/stack` recorded for `component` in DIR/pids.json, or None."""
    data = json.loads((pathlib.Path(stack["dir"]) / "pids.json").read_text())
    for rec in data.get("processes", []):
        if rec.get("component") == component:
            return int(rec["pid"])
    return None


def percentile(values, q):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100 * len(v) + 0.5)) - 1))
    return v[k]


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (0 if it is gone)."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu_seconds(pid):
    """CPU of a process and all its descendants, living or exited and reaped (Dovecot's master and
    its imap/lmtp/auth workers): each process's utime + stime + cutime + cstime, so a worker that
    exits between two readings keeps counting in its parent's cutime."""
    parents, stats = {}, {}
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(f[1]), []).append(int(d.name))
        stats[int(d.name)] = sum(int(x) for x in f[11:15]) / TICK
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, 0.0)
        todo.extend(parents.get(p, []))
    return total
