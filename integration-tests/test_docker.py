"""Static checks of the container images (docker/*.Dockerfile), .dockerignore and docker/compose.yaml.

No Docker engine runs here, so the files are read, not built:
  - each Dockerfile parses (a small but real parser: continuations, comments, parser directives, JSON and
    shell forms, flags, ARG/ENV substitution) into a Debian 12 build stage and a debian:12-slim runtime stage;
  - every COPY source exists in the build context and is not excluded by its .dockerignore; every
    COPY --from source is produced by that stage; the configure step gets every directory CMake enters;
  - the builder installs exactly scripts/install-deps' BUILD_PKGS and builds only the service's CMake target,
    which services/<svc>/CMakeLists.txt must declare (a missing CMakeLists fails, it does not skip);
  - the runtime stage runs that binary as a non-root user, exposes the service's ports, and installs every
    shared library the built binary needs (ldd -> dpkg -S, when build/debug or build/release has the
    binary) and no library package it does not need;
  - the HEALTHCHECK script works against a real HTTP server;
  - docker/compose.yaml matches the Compose Specification schema and everything it references exists.
Run: python3 -m pytest -q integration-tests/test_docker.py
"""
import http.server
import json
import os
import re
import shlex
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from test_helm import CONTRACT_KEYS, check_with_binary, find_binary, flatten

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
OPS = ROOT / "tools" / "ops-check"
SERVICES = ["edge", "session", "store-watcher", "notifier"]
# docs/architecture.md, "listens (container default)".
PORTS = {"edge": {1143, 1993, 8443, 9090}, "session": {50051, 9090}, "store-watcher": {8080, 9090}, "notifier": {9090}}
# Library packages a runtime stage may list although the binary's ldd output does not name them.
NOT_LIBRARIES = {"ca-certificates", "tzdata"}


# --- a Dockerfile parser --------------------------------------------------------------------------------

INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
                "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


@dataclass
class Instruction:
    cmd: str
    flags: dict
    args: str          # the rest of the line, continuations joined
    line: int

    def words(self):
        """JSON (exec) form when it parses as a JSON array of strings, else shell words."""
        text = self.args.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    return value
            except json.JSONDecodeError:
                pass
        return shlex.split(text, comments=False)

    def is_exec_form(self):
        try:
            return isinstance(json.loads(self.args.strip()), list)
        except json.JSONDecodeError:
            return False


@dataclass
class Stage:
    base: str
    name: str
    index: int
    instructions: list = field(default_factory=list)

    def all(self, cmd):
        return [i for i in self.instructions if i.cmd == cmd]

    def one(self, cmd):
        found = self.all(cmd)
        assert len(found) == 1, f"stage {self.name}: expected one {cmd}, found {len(found)}"
        return found[0]


class DockerfileError(Exception):
    pass


def parse_dockerfile(text):
    """Instructions grouped into stages. Raises DockerfileError on what Docker would reject."""
    lines = text.split("\n")
    escape = "\\"
    k = 0
    # Parser directives: only at the very top, before any comment or instruction.
    while k < len(lines):
        m = re.match(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$", lines[k])
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
        k += 1
    instructions = []
    while k < len(lines):
        raw = lines[k]
        start = k + 1
        k += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        text = raw.rstrip()
        while text.endswith(escape):
            text = text[: -len(escape)]
            # Comment lines and empty lines inside a continuation are skipped, as Docker does.
            while k < len(lines) and (lines[k].lstrip().startswith("#") or not lines[k].strip()):
                k += 1
            if k >= len(lines):
                raise DockerfileError(f"line {start}: continuation at end of file")
            text += " " + lines[k].strip()
            k += 1
        m = re.match(r"^\s*([A-Za-z]+)\s*(.*)$", text)
        if not m or m.group(1).upper() not in INSTRUCTIONS:
            raise DockerfileError(f"line {start}: unknown instruction: {text.strip()[:60]!r}")
        cmd, rest = m.group(1).upper(), m.group(2)
        if "<<" in rest and cmd in ("RUN", "COPY"):
            raise DockerfileError(f"line {start}: heredocs are not supported by this checker")
        flags = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags.setdefault(name, []).append(value)
            rest = rest.lstrip()
        instructions.append(Instruction(cmd, flags, rest, start))

    stages, args = [], {}
    for ins in instructions:
        if ins.cmd == "ARG" and not stages:
            name, _, default = ins.args.partition("=")
            args[name.strip()] = default.strip()
            continue
        if ins.cmd == "FROM":
            words = ins.words()
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
                raise DockerfileError(f"line {ins.line}: FROM image [AS name]")
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            stages.append(Stage(base, words[2] if len(words) == 3 else str(len(stages)), len(stages)))
            continue
        if not stages:
            raise DockerfileError(f"line {ins.line}: {ins.cmd} before FROM")
        stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError("no FROM")
    return stages


def substitute(stage, text):
    """${VAR} / $VAR from the stage's ARG and ENV instructions."""
    env = {}
    for ins in stage.instructions:
        if ins.cmd in ("ARG", "ENV"):
            for word in ins.words():
                name, _, value = word.partition("=")
                env[name] = value
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)), text)


def shell_commands(run):
    """Simple commands of a RUN in shell form: split on && || ; | (outside quotes)."""
    lexer = shlex.shlex(run.args, posix=True, punctuation_chars="&|;")
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def apt_installs(stage):
    """Packages of every `apt-get install` in the stage's RUN instructions."""
    packages = []
    for run in stage.all("RUN"):
        for words in shell_commands(run):
            if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
                after = words[words.index("install") + 1:]
                packages += [w for w in after if not w.startswith("-")]
    return packages


def copies(stage):
    """(instruction, sources, destination) of each COPY/ADD."""
    out = []
    for ins in stage.all("COPY") + stage.all("ADD"):
        words = [substitute(stage, w) for w in ins.words()]
        if len(words) < 2:
            raise DockerfileError(f"line {ins.line}: {ins.cmd} needs a source and a destination")
        out.append((ins, words[:-1], words[-1]))
    return out


# --- .dockerignore (Docker's rules: Go filepath.Match plus **, last match wins, ! re-includes) ----------

def dockerignore_rules(context):
    path = context / ".dockerignore"
    rules = []
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
            rules.append((negate, pattern))
    return rules


def _pattern_regex(pattern):
    out, k = "", 0
    while k < len(pattern):
        if pattern.startswith("**/", k):
            out += "(.*/)?"
            k += 3
        elif pattern.startswith("**", k):
            out += ".*"
            k += 2
        elif pattern[k] == "*":
            out += "[^/]*"
            k += 1
        elif pattern[k] == "?":
            out += "[^/]"
            k += 1
        else:
            out += re.escape(pattern[k])
            k += 1
    return re.compile(f"^{out}$")


def ignored(rules, relpath):
    """Whether relpath (or a directory containing it) is excluded from the build context."""
    parts = relpath.strip("/").split("/")
    excluded = False
    for negate, pattern in rules:
        regex = _pattern_regex(pattern)
        # A pattern matching a parent directory excludes everything below it.
        if any(regex.match("/".join(parts[: n + 1])) for n in range(len(parts))):
            excluded = not negate
    return excluded


# --- helpers ----------------------------------------------------------------------------------------------

def dockerfile(svc):
    return DOCKER / f"{svc}.Dockerfile"


def stages_of(svc):
    return parse_dockerfile(dockerfile(svc).read_text())


def build_pkgs_of_install_deps():
    text = (ROOT / "scripts" / "install-deps").read_text()
    m = re.search(r"^BUILD_PKGS=\((.*?)\)", text, re.S | re.M)
    assert m, "scripts/install-deps has no BUILD_PKGS=(...) array"
    return shlex.split(m.group(1), comments=True)


def cmake_executables(svc):
    lists = ROOT / "services" / svc / "CMakeLists.txt"
    assert lists.exists(), f"services/{svc}/CMakeLists.txt does not exist: nothing builds pimap-{svc}"
    text = re.sub(r"#.*", "", lists.read_text())
    return set(re.findall(r"\b(?:add_executable|pimap_executable)\s*\(\s*([A-Za-z0-9_.+-]+)", text))


def run(cmd, timeout=60, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)


# --- the parser itself ------------------------------------------------------------------------------------

def test_parser_reads_the_constructs_it_claims():
    text = (
        "# syntax=docker/dockerfile:1.6\n"
        "ARG BASE=debian:12\n"
        "FROM ${BASE} AS build\n"
        "# a comment\n"
        "RUN --mount=type=cache,target=/c apt-get update \\\n"
        "  # comment inside a continuation\n"
        " && apt-get install -y --no-install-recommends a b \\\n"
        "      c && echo 'x && apt-get install z'\n"
        "COPY --chown=1:1 [\"src dir/\", \"/dst/\"]\n"
        "FROM debian:12-slim\n"
        "COPY --from=build /out/x /usr/local/bin/x\n"
        'ENTRYPOINT ["/usr/local/bin/x"]\n'
    )
    build, final = parse_dockerfile(text)
    assert (build.base, build.name, final.name) == ("debian:12", "build", "1")
    assert apt_installs(build) == ["a", "b", "c"]
    assert build.all("RUN")[0].flags == {"mount": ["type=cache,target=/c"]}
    ((_, sources, dest),) = copies(build)
    assert (sources, dest) == (["src dir/"], "/dst/")
    assert final.one("COPY").flags["from"] == ["build"]
    assert final.one("ENTRYPOINT").is_exec_form()
    with pytest.raises(DockerfileError, match="unknown instruction"):
        parse_dockerfile("FROM debian:12\nRUN apt-get install \\\n  a\n  b\n")  # a lost continuation
    with pytest.raises(DockerfileError, match="before FROM"):
        parse_dockerfile("RUN true\n")


def test_dockerignore_matcher():
    rules = [(False, "build"), (False, "**/node_modules"), (False, "docs"), (True, "docs/keep.md"), (False, "*.swp")]
    assert ignored(rules, "build/debug/x")
    assert ignored(rules, "tools/ops-check/node_modules/yaml/index.js")
    assert ignored(rules, "docs/a.md") and not ignored(rules, "docs/keep.md")
    assert ignored(rules, "x.swp") and not ignored(rules, "libs/x.swp")
    assert not ignored(rules, "libs/kit/CMakeLists.txt")


# --- per service ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("svc", SERVICES)
def test_stages_user_ports_entrypoint(svc):
    stages = stages_of(svc)
    assert [s.base for s in stages] == ["debian:12", "debian:12-slim"], "build on Debian 12, run on debian:12-slim"
    build, runtime = stages
    user = runtime.one("USER").args.strip()
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"runtime USER {user!r}: numeric and non-root (runAsNonRoot)"
    exposed = {int(p.split("/")[0]) for ins in runtime.all("EXPOSE") for p in ins.words()}
    assert exposed == PORTS[svc]
    entry = runtime.one("ENTRYPOINT")
    assert entry.is_exec_form(), "exec form, so that SIGTERM reaches the service, not a shell"
    assert entry.words() == [f"/usr/local/bin/pimap-{svc}"]
    assert runtime.one("CMD").words() == ["--config", f"/etc/pimap/{svc}.yaml"]
    health = runtime.one("HEALTHCHECK")
    assert set(health.flags) <= {"interval", "timeout", "start-period", "start-interval", "retries"}, health.flags
    body = health.args.strip()
    assert body.startswith("CMD "), "HEALTHCHECK CMD ... (NONE would need a reason; Docker users get one)"
    probe = Instruction("CMD", {}, body[4:], health.line)
    assert probe.is_exec_form() and probe.words() == ["/usr/local/bin/pimap-healthcheck"]
    assert any(dest == "/usr/local/bin/pimap-healthcheck" and sources == ["docker/healthcheck"]
               for _, sources, dest in copies(runtime)), "the probe script is copied into the image"
    stop = runtime.all("STOPSIGNAL")
    assert not stop or stop[0].args.strip() == "SIGTERM"


@pytest.mark.parametrize("svc", SERVICES)
def test_copy_sources_exist_and_are_in_the_context(svc):
    stages = stages_of(svc)
    rules = dockerignore_rules(ROOT)
    names = {s.name for s in stages}
    for stage in stages:
        for ins, sources, _ in copies(stage):
            if "from" in ins.flags:
                (source_stage,) = ins.flags["from"]
                assert source_stage in names, f"line {ins.line}: COPY --from={source_stage}: no such stage"
                producer = next(s for s in stages if s.name == source_stage)
                assert producer.index < stage.index
                produced = " ".join(r.args for r in producer.all("RUN"))
                for src in sources:
                    assert src in produced, f"line {ins.line}: {src} is not produced by stage {source_stage}"
                continue
            for src in sources:
                matches = list(ROOT.glob(src.rstrip("/"))) if any(c in src for c in "*?[") else [ROOT / src]
                assert matches and all(m.exists() for m in matches), f"line {ins.line}: COPY source {src} does not exist"
                for m in matches:
                    rel = m.relative_to(ROOT).as_posix()
                    assert not ignored(rules, rel), f"line {ins.line}: COPY source {rel} is excluded by .dockerignore"
                    if m.is_dir():
                        for f in m.rglob("*"):
                            if f.is_file() and "CMakeLists.txt" in f.name:
                                assert not ignored(rules, f.relative_to(ROOT).as_posix()), f


@pytest.mark.parametrize("svc", SERVICES)
def test_builder_configures_with_what_cmake_reads(svc):
    build, _ = stages_of(svc)
    copied = {re.sub(r"^\./", "", src.rstrip("/")) for _, sources, _ in copies(build) for src in sources}
    configure = next(w for r in build.all("RUN") for w in shell_commands(r) if w[:2] == ["cmake", "--preset"])
    options = {m.group(1): m.group(2) for m in (re.match(r"-D(\w+)=(\w+)", w) for w in configure) if m}
    assert {"CMakeLists.txt", "CMakePresets.json", "cmake"} <= copied
    assert configure[2] == "release"
    top = re.sub(r"#.*", "", (ROOT / "CMakeLists.txt").read_text())
    # add_subdirectory(X) at the top level, with the if(OPTION) that guards it, if any.
    guard = None
    for line in top.splitlines():
        line = line.strip()
        m = re.match(r"if\s*\(\s*(\w+)\s*\)", line)
        if m:
            guard = m.group(1)
        elif line.startswith("endif"):
            guard = None
        m = re.match(r"add_subdirectory\s*\(\s*([\w-]+)", line)
        if m:
            skipped = guard is not None and options.get(guard, "").upper() in ("OFF", "FALSE", "0", "NO")
            if not skipped:
                assert m.group(1) in copied, f"CMake enters {m.group(1)}/ but the image does not COPY it"
    # Includes of the top-level file (cmake/...) and include directories are inside what is copied.
    for inc in re.findall(r"include\s*\(\s*([\w-]+)\s*\)", top):
        if (ROOT / "cmake" / f"{inc}.cmake").exists():
            assert "cmake" in copied


@pytest.mark.parametrize("svc", SERVICES)
def test_builder_installs_the_build_packages_of_install_deps(svc):
    build, _ = stages_of(svc)
    assert sorted(apt_installs(build)) == sorted(build_pkgs_of_install_deps())


@pytest.mark.parametrize("svc", SERVICES)
def test_image_runs_the_cmake_target_it_builds(svc):
    """The target the builder builds, the file it installs, the binary the runtime stage copies and runs,
    and the executable services/<svc>/CMakeLists.txt declares are one and the same."""
    build, runtime = stages_of(svc)
    target = f"pimap-{svc}"
    commands = [w for r in build.all("RUN") for w in shell_commands(r)]
    builds = [w for w in commands if w[:2] == ["cmake", "--build"]]
    assert builds, "the builder runs cmake --build"
    for words in builds:
        assert "--target" in words and words[words.index("--target") + 1] == target, words
        assert words.count("--target") == 1, "build only the service's own target"
    installs = [w for w in commands if w[0] == "install"]
    assert any(f"build/release/services/{svc}/{target}" in w for w in installs), installs
    ((_, sources, dest),) = [c for c in copies(runtime) if "from" in c[0].flags]
    assert sources == [f"/out/{target}"] and dest == f"/usr/local/bin/{target}"
    assert runtime.one("ENTRYPOINT").words()[0] == dest
    assert target in cmake_executables(svc), f"services/{svc}/CMakeLists.txt declares no executable {target}"


def _installed_packages():
    r = run(["dpkg-query", "-W", "-f", "${Package}\t${Status}\t${Priority}\t${Essential}\t${Depends}, ${Pre-Depends}\t${Provides}\n"])
    assert r.returncode == 0, r.stderr
    info, provides = {}, {}
    for line in r.stdout.splitlines():
        name, status, priority, essential, depends, provided = (line.split("\t") + [""] * 6)[:6]
        if "installed" not in status.split():
            continue
        alternatives = []
        for dep in depends.split(","):
            options = [re.sub(r"[\s(].*$", "", o.strip()).split(":")[0] for o in dep.split("|") if o.strip()]
            if options:
                alternatives.append(options)
        info[name] = {"priority": priority, "essential": essential == "yes", "depends": alternatives}
        for p in provided.split(","):
            p = re.sub(r"[\s(].*$", "", p.strip())
            if p:
                provides.setdefault(p, []).append(name)
    return info, provides


def _closure(roots, info, provides):
    seen, todo = set(), list(roots)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        for options in info.get(pkg, {}).get("depends", []):
            for option in options:
                for real in [option] + provides.get(option, []):
                    if real in info and real not in seen:
                        todo.append(real)
    return seen


_FILE_INDEX = {}


def _package_of(path):
    """The Debian package shipping a library file (dpkg's file lists, merged-/usr spellings included)."""
    if not _FILE_INDEX:
        for listing in Path("/var/lib/dpkg/info").glob("*.list"):
            pkg = listing.name[: -len(".list")].split(":")[0]
            for line in listing.read_text(errors="replace").splitlines():
                _FILE_INDEX.setdefault(line, pkg)
    real = os.path.realpath(path)
    for p in (path, real):
        for candidate in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
            if candidate in _FILE_INDEX:
                return _FILE_INDEX[candidate]
    r = run(["dpkg", "-S", f"*/{os.path.basename(path)}"])
    if r.returncode == 0:
        return r.stdout.splitlines()[0].split(":")[0].strip()
    return None


def built_binary(svc):
    """The service binary of build/release or build/debug (or $PIMAP_BUILD_DIR), not a sanitizer build."""
    dirs = [Path(os.environ["PIMAP_BUILD_DIR"])] if os.environ.get("PIMAP_BUILD_DIR") else []
    dirs += [ROOT / "build" / "release", ROOT / "build" / "debug"]
    for d in dirs:
        binary = d / "services" / svc / f"pimap-{svc}"
        cache = d / "CMakeCache.txt"
        if cache.exists() and re.search(r"^PIMAP_SANITIZE:BOOL=ON$", cache.read_text(), re.M):
            continue
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


@pytest.mark.parametrize("svc", SERVICES)
def test_runtime_packages_exist_in_debian_12(svc):
    _, runtime = stages_of(svc)
    packages = apt_installs(runtime)
    assert packages, "the runtime stage installs its libraries"
    info, _ = _installed_packages()
    for pkg in packages:
        if pkg in info:
            continue
        r = run(["apt-cache", "show", "--no-all-versions", pkg])
        assert r.returncode == 0 and r.stdout.strip(), f"{pkg}: not a Debian 12 package (neither installed nor in apt lists)"
    assert not any(p.endswith("-dev") for p in packages), "no -dev packages at run time"


@pytest.mark.parametrize("svc", SERVICES)
def test_runtime_stage_installs_every_library_of_the_binary(svc):
    cmake_executables(svc)  # fails (not skips) while the service does not exist
    binary = built_binary(svc)
    if binary is None:
        pytest.skip(f"pimap-{svc} not built in build/release or build/debug: ldd check needs the binary")
    _, runtime = stages_of(svc)
    listed = apt_installs(runtime)
    info, provides = _installed_packages()
    missing_here = [p for p in listed if p not in info]
    assert not missing_here, f"runtime packages not installed on this machine, cannot resolve: {missing_here}"
    base = _closure([p for p, i in info.items() if i["essential"] or i["priority"] == "required"], info, provides)
    available = _closure(listed, info, provides) | base
    r = run(["ldd", binary])
    assert r.returncode == 0, r.stderr
    needed = {}
    for line in r.stdout.splitlines():
        assert "not found" not in line, f"{binary}: {line.strip()}"
        m = re.match(r"^\s*(\S+) => (/\S+)", line)
        if m:
            needed[m.group(1)] = m.group(2)
    owners = {}
    for soname, path in needed.items():
        pkg = _package_of(path)
        assert pkg, f"{soname} ({path}) belongs to no Debian package: cannot be installed in the image"
        owners[soname] = pkg
    uncovered = {s: p for s, p in owners.items() if p not in available}
    assert not uncovered, (f"pimap-{svc} needs libraries the runtime stage does not install "
                           f"(add the package to docker/{svc}.Dockerfile): {uncovered}")
    direct = set(owners.values())
    unneeded = [p for p in listed if p not in NOT_LIBRARIES and p not in direct]
    assert not unneeded, (f"docker/{svc}.Dockerfile installs library packages pimap-{svc} does not link "
                          f"(remove them): {unneeded}; links: {sorted(direct)}")


# --- the HEALTHCHECK script -------------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (http.server naming)
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


def test_healthcheck_script_against_a_real_server():
    script = DOCKER / "healthcheck"
    assert os.access(script, os.X_OK), "docker/healthcheck must be executable"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"PATH": os.environ["PATH"], "PIMAP_ADMIN_LISTEN": f"0.0.0.0:{port}"}
        assert run([script], timeout=10, env=env).returncode == 0, "healthy on 200"
        _Handler.status = 503
        r = run([script], timeout=10, env=env)
        assert r.returncode == 1 and "503" in r.stderr, "unhealthy on 503 (draining)"
        assert run([script, str(port), "/nope"], timeout=10, env=env).returncode == 1
    finally:
        server.shutdown()
        server.server_close()
        _Handler.status = 200
    # Nothing listening: unhealthy, quickly.
    assert run([script, str(port)], timeout=10, env={"PATH": os.environ["PATH"]}).returncode == 1


# --- docker/compose.yaml ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_matches_the_specification_schema():
    r = run([OPS / "install"], timeout=600)
    assert r.returncode == 0, r.stderr
    r = run(["node", OPS / "validate-compose.mjs", DOCKER / "compose.yaml"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok ")


def test_compose_runs_the_whole_cluster(compose):
    services = compose["services"]
    for svc in SERVICES:
        build = services[svc]["build"]
        assert (DOCKER / build["context"]).resolve() == ROOT, f"{svc}: build context is the repository root"
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == dockerfile(svc)
        assert f"/etc/pimap/{svc}.yaml" in " ".join(services[svc]["volumes"])
    images = " ".join(s.get("image", "") for s in services.values())
    builds = " ".join(str(s.get("build", "")) for s in services.values())
    for system in ("redis", "kafka", "dovecot", "postfix", "kannel"):
        assert system in images + builds, f"compose runs no {system}"
    for name, s in services.items():
        for dep in s.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        if "image" in s and "build" not in s and ":" in s["image"]:
            assert not s["image"].endswith(":latest"), f"{name}: pin the image"
        elif "image" in s and "build" not in s:
            assert s["image"] in {x.get("image") for x in services.values() if "build" in x}, f"{name}: untagged image"
        for secret in s.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: unknown secret {secret}"


def test_compose_files_exist(compose):
    for name, s in compose["services"].items():
        if "build" in s:
            context = (DOCKER / s["build"]["context"]).resolve()
            path = context / s["build"].get("dockerfile", "Dockerfile")
            assert path.exists(), f"{name}: {path} missing"
            rules = dockerignore_rules(context)
            for stage in parse_dockerfile(path.read_text()):
                for ins, sources, _ in copies(stage):
                    if "from" in ins.flags:
                        continue
                    for src in sources:
                        assert (context / src).exists(), f"{name}: COPY source {src} missing in {context}"
                        assert not ignored(rules, src), f"{name}: COPY source {src} excluded by .dockerignore"
                        if (context / src).is_file() and (context / src).read_text(errors="replace").startswith("#!"):
                            assert os.access(context / src, os.X_OK), f"{name}: script {src} is not executable"
        for volume in s.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith((".", "/")):
                assert (DOCKER / host).exists(), f"{name}: bind mount source {host} missing"
    for secret in compose["secrets"].values():
        assert (DOCKER / secret["file"]).is_file()


def _compose_config(svc, compose):
    mount = next(v for v in compose["services"][svc]["volumes"] if f"/etc/pimap/{svc}.yaml" in v)
    return yaml.safe_load((DOCKER / mount.split(":")[0]).read_text())


@pytest.mark.parametrize("svc", SERVICES)
def test_compose_configs_use_contract_keys(svc, compose):
    cfg = flatten(_compose_config(svc, compose))
    unknown = set(cfg) - CONTRACT_KEYS[svc]
    assert not unknown, f"docker/compose/config/{svc}.yaml: keys outside the contract: {sorted(unknown)}"
    assert cfg["admin.listen"] == "0.0.0.0:9090"
    # Files the config names are provided by the compose service (secrets or mounted volumes).
    s = compose["services"][svc]
    for key, value in cfg.items():
        if key.endswith("_file"):
            if value.startswith("/run/secrets/"):
                assert value.rsplit("/", 1)[1] in s.get("secrets", []), f"{svc}: {key} needs secret {value}"
            else:
                assert any(value.startswith(v.split(":")[1].rstrip("/") + "/") for v in s.get("volumes", [])), f"{svc}: {key}"
    image_config = flatten(yaml.safe_load((DOCKER / "config" / f"{svc}.yaml").read_text()))
    assert set(image_config) <= CONTRACT_KEYS[svc], "the image's baked-in defaults use contract keys"


@pytest.mark.parametrize("svc", SERVICES)
def test_compose_and_image_configs_accepted_by_service(svc, compose, tmp_path):
    binary = find_binary(svc)
    if binary is None:
        pytest.skip(f"pimap-{svc} is not built")
    for cfg in (_compose_config(svc, compose), yaml.safe_load((DOCKER / "config" / f"{svc}.yaml").read_text())):
        r = check_with_binary(binary, cfg, tmp_path)
        assert r.returncode == 0, f"{binary} rejects:\n{r.stderr}"
