"""The services' Prometheus metrics, scraped live from the local stack, against the chart's dashboard and alerts.

For each pimap service (edge, session, store-watcher, notifier), after a device has logged in through the
edge and a mail has gone through the pipeline:
  - the service runs in the stack (its binary must be built in PIMAP_BUILD_DIR: a missing one fails);
  - `promtool check metrics` accepts its GET /metrics without a single finding;
  - the naming rules of docs/HELPERS-CONTEXT.md hold: every family is pimap_<svc>_..., counters end in
    _total, histograms of time end in _seconds, no label is a user/device/session/mailbox id, and no
    label value carries the test user's name or device id;
and every metric name that helm/pimap's dashboard, alert rules and edge HPA reference (also listed in
files/metrics-referenced.txt) is exposed by the service it names, with the labels the queries filter
and group by. Families are taken from the # TYPE lines: a family counts as exposed when it is declared,
and a labelled one is only serialised once it has a series, hence the exercise first.

Run: PIMAP_BUILD_DIR=build/<dir> python3 -m pytest -q integration-tests/test_metrics.py
     (brings up its own stack unless PIMAP_STACK_JSON points at a running one)
"""

from __future__ import annotations

import imaplib
import json
import re
import smtplib
import ssl
import subprocess
import time
import urllib.request
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml

from pimap_stack import host_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "pimap"
SERVICES = ["edge", "session", "store-watcher", "notifier"]
FORBIDDEN_LABELS = {"user", "device", "device_id", "session", "session_id", "mailbox"}
# Labels Prometheus attaches to every series at scrape time (target and Kubernetes labels).
TARGET_LABELS = {"namespace", "pod", "instance", "job", "service", "container", "endpoint"}
METRIC_NAME = re.compile(r"\bpimap_[a-z0-9_]+")
TIME_WORDS = re.compile(r"latency|duration|_time|delay|wait|_ms$|_us$|millis|micros|_secs?$|_minutes?$|_hours?$")
DEVICE_ID = "Pmetricsprobe1"


def prefix(service: str) -> str:
    return "pimap_" + service.replace("-", "_") + "_"


# --- exposition parsing ----------------------------------------------------------------------------------

LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?$")


class Scrape:
    """A text exposition: families (name -> type), their samples, and the labels seen per family."""

    def __init__(self, text: str):
        self.text = text
        self.types: dict[str, str] = {}
        self.helps: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
            elif line.startswith("# HELP "):
                parts = line.split(None, 3)
                self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
            elif line and not line.startswith("#"):
                m = SAMPLE.match(line)
                assert m, f"unparseable sample line: {line!r}"
                labels = dict(LABEL.findall(m.group(2) or ""))
                self.samples.append((m.group(1), labels, float(m.group(3))))

    def family_of(self, series: str) -> str | None:
        """The family a series name belongs to (histogram/summary suffixes resolved)."""
        if series in self.types:
            return series
        for suffix in ("_bucket", "_sum", "_count"):
            base = series[: -len(suffix)] if series.endswith(suffix) else None
            if base and self.types.get(base) in ("histogram", "summary"):
                if suffix == "_bucket" and self.types[base] != "histogram":
                    return None
                return base
        return None

    def labels_of(self, family: str) -> set[str]:
        out = set()
        for name, labels, _ in self.samples:
            if self.family_of(name) == family:
                out.update(k for k in labels if k not in ("le", "quantile"))
        return out

    def value(self, series: str, **labels: str) -> float:
        return sum(v for name, ls, v in self.samples
                   if name == series and all(ls.get(k) == want for k, want in labels.items()))


def scrape(stack: dict, service: str) -> Scrape:
    with urllib.request.urlopen(f"http://{stack['metrics'][service]}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers.get_content_type() == "text/plain"
        return Scrape(r.read().decode())


# --- what the chart references ---------------------------------------------------------------------------

def dashboard_queries() -> list[str]:
    out = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition", "query") and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads((CHART / "dashboards" / "pimap.json").read_text()))
    return out


def alert_queries() -> list[str]:
    groups = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def hpa_metrics() -> set[str]:
    # The Pods metric of templates/edge-hpa.yaml is a literal name (test_helm.py checks the rendering).
    return set(re.findall(r"^\s*name:\s*(pimap_[a-z0-9_]+)\s*$", (CHART / "templates" / "edge-hpa.yaml").read_text(), re.M))


def listed_metrics() -> set[str]:
    names = set()
    for line in (CHART / "files" / "metrics-referenced.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return names


def referenced() -> dict[str, str]:
    """metric name -> where it is referenced."""
    out: dict[str, str] = {}
    for where, queries in (("dashboard", dashboard_queries()), ("alerts.yaml", alert_queries())):
        for q in queries:
            for name in METRIC_NAME.findall(q):
                out.setdefault(name, where)
    for name in hpa_metrics():
        out.setdefault(name, "edge HPA")
    for name in listed_metrics():
        out.setdefault(name, "metrics-referenced.txt")
    return out


def label_uses(query: str) -> list[tuple[str, set[str]]]:
    """(metric, labels) pairs a query relies on: the labels of its matchers, and of its `by (...)` clauses,
    which must exist on at least one of the metrics the aggregation covers (here: the query's metrics)."""
    uses = []
    for m in re.finditer(r"\b(pimap_[a-z0-9_]+)\{([^}]*)\}", query):
        labels = {lab for lab in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(2))}
        uses.append((m.group(1), labels))
    metrics = set(METRIC_NAME.findall(query))
    for by in re.findall(r"\bby\s*\(([^)]*)\)", query):
        labels = {lab.strip() for lab in by.split(",") if lab.strip()}
        uses.append(("|".join(sorted(metrics)), labels))
    return uses


# --- exercise the stack so that labelled series exist ----------------------------------------------------

def running(stack: dict, service: str) -> bool:
    return service in stack.get("pimap_services", [])


@pytest.fixture(scope="module")
def exercised(stack):
    """Log a P-IMAP device in through the edge (IMAPS), stay connected while a mail is delivered through
    Postfix (store hook -> store-watcher -> Kafka -> notifier -> session push), then log out."""
    if not all(running(stack, s) for s in SERVICES):
        return None  # test_service_runs reports which one is missing
    user = stack["users"][-1]  # the last test user: the other integration tests mostly use the first ones
    ctx = ssl.create_default_context(cafile=stack["ca_cert"])
    host, port = host_port(stack["edge"]["imaps"])
    imap = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=20)
    try:
        typ, _ = imap.login(f"{user['name']}#{DEVICE_ID}", user["password"])
        assert typ == "OK", "device login through the edge failed"
        assert imap.select("INBOX")[0] == "OK"
        msg = EmailMessage()
        msg["From"] = "probe@example.org"
        msg["To"] = user["email"]
        msg["Subject"] = f"metrics probe {uuid.uuid4()}"
        msg.set_content("metrics probe\n")
        with smtplib.SMTP(*host_port(stack["smtp"]), timeout=20) as smtp:
            smtp.send_message(msg)
        # Best effort: the pipeline's own tests judge it; here it only makes series appear.
        wait_for(lambda: scrape(stack, "store-watcher").value(
            "pimap_store_watcher_hooks_received_total", result="ok") > 0, timeout=20, interval=0.5)
        wait_for(lambda: scrape(stack, "notifier").value("pimap_notifier_events_consumed_total") > 0,
                 timeout=20, interval=0.5)
        assert imap.noop()[0] == "OK"
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    time.sleep(0.5)  # let the edge account for the LOGOUT and the closed connection
    return user


@pytest.fixture(scope="module")
def scrapes(stack, exercised):
    return {s: scrape(stack, s) for s in SERVICES if running(stack, s)}


def need(scrapes, service) -> Scrape:
    if service not in scrapes:
        pytest.fail(f"pimap-{service} is not running in the stack (test_service_runs says why)")
    return scrapes[service]


# --- tests -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_service_runs(stack, service):
    assert running(stack, service), (
        f"pimap-{service} did not start with the stack: build it in PIMAP_BUILD_DIR "
        f"({stack.get('build_dir')}/services/{service}/pimap-{service}); started: {stack.get('pimap_services')}")


@pytest.mark.parametrize("service", SERVICES)
def test_promtool_check_metrics(scrapes, service):
    text = need(scrapes, service).text
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    findings = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and not findings, f"promtool check metrics (rc {r.returncode}):\n{findings}"


@pytest.mark.parametrize("service", SERVICES)
def test_naming_conventions(scrapes, exercised, service):
    s = need(scrapes, service)
    assert s.types, f"{service} exposes no metric at all"
    problems = []
    for family, kind in sorted(s.types.items()):
        if not family.startswith(prefix(service)):
            problems.append(f"{family}: not {prefix(service)}<what>")
        if kind == "counter" and not family.endswith("_total"):
            problems.append(f"{family}: counter without _total")
        if kind != "counter" and family.endswith("_total"):
            problems.append(f"{family}: {kind} ending in _total")
        if kind == "histogram" and TIME_WORDS.search(family[len(prefix(service)):]) and not family.endswith("_seconds"):
            problems.append(f"{family}: a histogram of time must be in _seconds")
        if re.search(r"_(ms|us|milliseconds|microseconds|minutes|hours)(_|$)", family):
            problems.append(f"{family}: not in base units")
        if not s.helps.get(family):
            problems.append(f"{family}: no HELP text")
        for label in s.labels_of(family):
            if label.lower() in FORBIDDEN_LABELS:
                problems.append(f"{family}: label '{label}' identifies a user, device, session or mailbox")
    for name, labels, _ in s.samples:
        if s.family_of(name) is None:
            problems.append(f"{name}: sample without a # TYPE line")
        for label, value in labels.items():
            if exercised and (exercised["name"] in value or DEVICE_ID in value or exercised["email"] in value):
                problems.append(f"{name}{{{label}={value!r}}}: a user or device id as a label value")
    assert not problems, "\n".join(problems)


def test_services_are_exercised(scrapes, exercised):
    """The probe reached the services, so their labelled families are in the scrapes below."""
    assert exercised, "the stack lacks a pimap service (see test_service_runs)"
    edge = need(scrapes, "edge")
    assert edge.value("pimap_edge_logins_total", result="ok") >= 1
    assert edge.value("pimap_edge_commands_total", command="SELECT", result="ok") >= 1
    assert need(scrapes, "session").value("pimap_session_sessions_opened_total") \
        + need(scrapes, "session").value("pimap_session_sessions_resumed_total") >= 1


def test_referenced_metrics_are_exposed(scrapes):
    refs = referenced()
    assert len(refs) > 10 and "pimap_edge_connections" in refs
    missing = []
    for name, where in sorted(refs.items()):
        owner = next((svc for svc in SERVICES if name.startswith(prefix(svc))), None)
        if owner is None:
            missing.append(f"{name} ({where}): names no pimap service")
            continue
        s = need(scrapes, owner)
        if s.family_of(name) is None:
            missing.append(f"{name} ({where}): not exposed by {owner}")
    assert not missing, "metrics the chart references but the services do not expose:\n" + "\n".join(missing)


def test_referenced_labels_exist(scrapes):
    """Every label a dashboard or alert query filters or groups by exists on the metric it is used with."""
    exposed_labels: dict[str, set[str]] = {}
    for s in scrapes.values():
        for family in s.types:
            exposed_labels[family] = s.labels_of(family)
            if s.types[family] == "histogram":
                for suffix in ("_bucket", "_sum", "_count"):
                    exposed_labels[family + suffix] = exposed_labels[family]
    if len(scrapes) < len(SERVICES):
        pytest.fail("not every service runs (see test_service_runs)")
    problems = []
    for query in dashboard_queries() + alert_queries():
        for metrics, labels in label_uses(query):
            wanted = labels - TARGET_LABELS - {"le"}
            if not wanted:
                continue
            have = set()
            for metric in metrics.split("|"):
                have |= exposed_labels.get(metric, set())
            if wanted - have:
                problems.append(f"{metrics}: no label {sorted(wanted - have)} (has {sorted(have)}) in: {query}")
    assert not problems, "\n".join(problems)
