"""The docker compose demo stack (fluent-bit/docker/).

Static checks run everywhere: the compose file, the Dockerfile and the files they use. The live
stack runs where a Docker engine and Compose v2 are present (pytest-docker starts it once for this
module and removes it, volumes included, at the end); elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import requests
import yaml

from fluentbit_harness import FluentBit
from hf_audit.settings import validate_endpoint

REPO = Path(__file__).resolve().parents[1]
DOCKER_DIR = REPO / "fluent-bit" / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
IMAGE_CONFIG_DIR = PurePosixPath("/fluent-bit/etc")  # where the Dockerfile copies fluent-bit/

STACK_SERVICES = {
    "simhub", "fluent-bit", "elasticsearch", "es-setup", "kibana", "kibana-setup", "loki", "grafana", "clickhouse",
}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_KEY", re.IGNORECASE)
# ${NAME}, ${NAME:-default}, ${NAME-default}: compose interpolation, resolved with an empty environment.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")
FLB_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# --- reading the files --------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def resolved(value: object) -> str:
    """A compose value as `docker compose` sees it with none of the variables set."""
    text = str(value)
    return INTERPOLATION.sub(lambda m: m["default"] or "", text).replace("$$", "$")


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_options(name: str) -> dict[str, str]:
    """`--key=value` items of a service's command, keys without the dashes."""
    options = {}
    for item in service(name).get("command", []):
        if item.startswith("--") and "=" in item:
            key, value = item[2:].split("=", 1)
            options[key] = value
    return options


def bind_mounts() -> Iterator[tuple[str, str]]:
    """(service, host path) of every bind mount, in the short `source:target[:mode]` syntax."""
    for name, spec in compose()["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                yield name, source


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def dockerfile_runs() -> str:
    return "\n".join(args for instruction, args in dockerfile_instructions() if instruction == "RUN")


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    return instructions[last_from:]


def image_cmd() -> list[str]:
    cmds = [json.loads(args) for instruction, args in final_stage() if instruction == "CMD"]
    assert cmds, "the image has no CMD"
    return cmds[-1]


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative to the repository root) out of the build context."""
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(candidate, glob) for candidate in candidates):
            ignored = not negated
    return ignored


def repo_path(image_path: str) -> Path:
    """The repository file the Dockerfile copied to `image_path` (under /fluent-bit/etc)."""
    return REPO / "fluent-bit" / PurePosixPath(image_path).relative_to(IMAGE_CONFIG_DIR)


def demo_config() -> Path:
    """The config the stack's fluent-bit service starts (its command's -c), as a repository file."""
    command = service("fluent-bit").get("command") or image_cmd()
    return repo_path(command[command.index("-c") + 1])


def config_files(first: Path) -> list[Path]:
    """A Fluent Bit YAML config and every file it includes, transitively."""
    seen: list[Path] = []
    queue = [first]
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        queue.extend((path.parent / include).resolve() for include in document.get("includes", []))
    return seen


def strings_in(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)
    elif node is not None:
        yield str(node)


# --- static: the compose file -------------------------------------------------------------------------


def test_compose_file_declares_the_whole_stack() -> None:
    assert STACK_SERVICES <= set(compose()["services"])


def test_every_service_runs_a_pinned_image_or_a_local_build() -> None:
    for name, spec in compose()["services"].items():
        if "build" in spec:
            context = (DOCKER_DIR / spec["build"]["context"]).resolve()
            assert (context / spec["build"]["dockerfile"]).is_file(), name
            continue
        image = spec["image"]
        assert "${" not in image, f"{name}: the image must not depend on the environment"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"


def test_every_bind_mounted_file_exists_in_the_repository() -> None:
    missing = [(name, source) for name, source in bind_mounts() if not (DOCKER_DIR / source).exists()]
    assert not missing


def test_every_named_volume_is_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, spec in compose()["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} is not declared"


def test_published_ports_listen_on_loopback_only() -> None:
    for name, spec in compose()["services"].items():
        for port in spec.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} would listen on every interface"


def test_secrets_are_environment_variables_with_marked_demo_defaults() -> None:
    """A password or token is either empty, or `${VAR}`, or `${VAR:-...demo...}`: never a literal."""
    values: list[tuple[str, str]] = []
    for name in compose()["services"]:
        values += [(f"{name}.{key}", value) for key, value in environment(name).items() if SECRET_NAME.search(key)]
        values += [(f"{name} --{key}", value) for key, value in command_options(name).items() if SECRET_NAME.search(key)]
    assert values, "expected the demo's token and passwords to be checked"
    for where, value in values:
        if value == "":
            continue
        match = INTERPOLATION.fullmatch(value)
        assert match, f"{where}: literal secret {value!r}; use ${{VAR}} or ${{VAR:-..._demo_...}}"
        default = match["default"]
        assert default is None or "demo" in default, f"{where}: default {default!r} is not marked as a demo value"


def test_every_service_waited_on_as_healthy_has_a_healthcheck() -> None:
    services = compose()["services"]
    for name, spec in services.items():
        depends = spec.get("depends_on", {})
        for dependency, condition in (depends.items() if isinstance(depends, dict) else []):
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}, which has no healthcheck"


def test_fluent_bit_starts_after_the_hub_and_every_sink_are_ready() -> None:
    depends = service("fluent-bit")["depends_on"]
    assert depends["simhub"]["condition"] == "service_healthy"
    assert depends["es-setup"]["condition"] == "service_completed_successfully"
    assert depends["loki"]["condition"] == "service_healthy"
    assert depends["clickhouse"]["condition"] == "service_healthy"


def test_fluent_bit_shares_the_hub_network_namespace() -> None:
    assert service("fluent-bit")["network_mode"] == "service:simhub"


def test_the_plugin_accepts_the_demo_endpoint_and_it_is_the_hub_address() -> None:
    endpoint = environment("fluent-bit")["HF_ENDPOINT"]
    hub = command_options("simhub")
    assert validate_endpoint(endpoint) == f"http://{hub['host']}:{hub['port']}"


def test_the_poller_and_the_hub_agree_on_org_and_token() -> None:
    env = environment("fluent-bit")
    hub = command_options("simhub")
    assert env["HF_ORG"] == hub["org"]
    assert resolved(env["HF_TOKEN"]) == resolved(hub["token"])


def test_the_demo_never_reads_the_users_real_hf_token() -> None:
    names = {m["name"] for text in strings_in(compose()) for m in INTERPOLATION.finditer(text)}
    assert "HF_TOKEN" not in names


def test_es_setup_installs_the_template_of_the_indices_fluent_bit_writes() -> None:
    setup, writer = environment("es-setup"), environment("fluent-bit")
    for name in ("HF_AUDIT_ES_HOST", "HF_AUDIT_ES_PORT", "HF_AUDIT_ES_INDEX_PREFIX"):
        assert setup[name] == writer[name], name
    script = service("es-setup")["entrypoint"][-1]
    mounts = dict(volume.split(":")[:2] for volume in service("es-setup")["volumes"])
    (source,) = [source for source, target in mounts.items() if script.startswith(target + "/")]
    assert (DOCKER_DIR / source / PurePosixPath(script).name).is_file()


def test_kibana_data_view_matches_the_indices_fluent_bit_writes() -> None:
    saved_objects = REPO / "fluent-bit" / "kibana" / "hf-audit.ndjson"
    objects = [json.loads(line) for line in saved_objects.read_text(encoding="utf-8").splitlines() if line.strip()]
    patterns = {obj["attributes"]["title"] for obj in objects if obj.get("type") == "index-pattern"}
    assert patterns == {f"{environment('fluent-bit')['HF_AUDIT_ES_INDEX_PREFIX']}-*"}


def test_clickhouse_gets_the_database_fluent_bit_writes_to() -> None:
    assert resolved(environment("clickhouse")["CLICKHOUSE_DB"]) == resolved(environment("fluent-bit")["CLICKHOUSE_DATABASE"])
    assert resolved(environment("clickhouse")["CLICKHOUSE_USER"]) == resolved(environment("fluent-bit")["CLICKHOUSE_USER"])


def test_clickhouse_init_script_runs_the_shipped_ddl() -> None:
    mounts = dict(volume.split(":")[:2] for volume in service("clickhouse")["volumes"] if volume.startswith("."))
    script = DOCKER_DIR / next(source for source, target in mounts.items() if target.startswith("/docker-entrypoint-initdb.d/"))
    ddl_in_container = next(target for source, target in mounts.items() if source.endswith("huggingface_logs.sql"))
    assert ddl_in_container in script.read_text(encoding="utf-8")
    assert "CREATE TABLE IF NOT EXISTS huggingface_logs" in (REPO / "fluent-bit/clickhouse/huggingface_logs.sql").read_text(encoding="utf-8")


def test_grafana_datasource_points_at_the_loki_service() -> None:
    provisioning = DOCKER_DIR / "grafana" / "provisioning" / "datasources" / "loki.yaml"
    (datasource,) = yaml.safe_load(provisioning.read_text(encoding="utf-8"))["datasources"]
    loki_port = service("loki")["ports"][0].rsplit(":", 1)[1]
    assert datasource["type"] == "loki"
    assert datasource["url"] == f"http://loki:{loki_port}"


def test_the_demo_runs_the_shipped_config_and_the_three_sink_outputs() -> None:
    files = {path.relative_to(REPO).as_posix() for path in config_files(demo_config())}
    assert {
        "fluent-bit/fluent-bit.yaml", "fluent-bit/parsers.yaml",
        "fluent-bit/outputs/elasticsearch.yaml", "fluent-bit/outputs/loki.yaml", "fluent-bit/outputs/clickhouse.yaml",
    } <= files


def test_fluent_bit_environment_covers_every_variable_its_configs_use() -> None:
    """Every ${VAR} without a default in the demo's configs is set by the service or the image."""
    defined = set(environment("fluent-bit"))
    defined |= {args.split("=", 1)[0] for instruction, args in final_stage() if instruction == "ENV" for args in args.split()}
    used: set[str] = set()
    for path in config_files(demo_config()):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        defined |= set(document.get("env") or {})
        used |= {name for text in strings_in(document) for name in FLB_VARIABLE.findall(text)}
    assert used, "expected the shipped configs to read environment variables"
    assert sorted(used - defined) == []


def test_real_fluent_bit_starts_on_the_demo_config(tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    """The demo's includes, paths and variables as the container sees them, on a real Fluent Bit."""
    env = {key: resolved(value) for key, value in environment("fluent-bit").items()}
    env = {key: str(repo_path(value)) if value.startswith(f"{IMAGE_CONFIG_DIR}/") else value for key, value in env.items()}
    env.update(
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        HF_AUDIT_STATE_DIR=str(tmp_path / "state"),
        HF_AUDIT_FLB_STORAGE_PATH=str(tmp_path / "flb-storage"),
        HF_AUDIT_INTERVAL_SEC="3600",  # no poll during the test
    )
    run = fluent_bit(demo_config(), env)
    started = run.wait_for(lambda: "[sp] stream processor started" in run.log_text(), "its engine to start", timeout=60, required=False)
    run.stop(signal.SIGKILL)
    assert started, run.log_text()


# --- static: the Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_never_builds_fluent_bit_from_source() -> None:
    runs = dockerfile_runs()
    for tool in (r"\bcmake\b", r"\bmake\b", r"\bninja\b", r"\bgcc\b", r"\bcc\b", r"\bcpack\b", r"\bgit\s+clone\b"):
        assert not re.search(tool, runs), f"the Dockerfile runs {tool}"
    assert "fluent-bit.git" not in DOCKERFILE.read_text(encoding="utf-8")
    assert not re.search(r"fluent-bit[^\s]*\.tar\.gz|archive/.*\.(tar\.gz|zip)", runs)
    assert not [args for instruction, args in dockerfile_instructions() if instruction == "ADD"]


def test_dockerfile_installs_fluent_bit_from_the_signed_vendor_repository() -> None:
    runs = dockerfile_runs()
    assert re.search(r"apt-get install [^&]*\"?fluent-bit=\$\{FLUENT_BIT_VERSION\}", runs)
    assert "deb [signed-by=/usr/share/keyrings/fluentbit-keyring.gpg] https://packages.fluentbit.io/debian/bookworm" in runs
    assert "grep -qx \"${FLUENT_BIT_KEY_FINGERPRINT}\"" in runs, "the repository key's fingerprint is not checked"


def test_image_build_fails_when_the_package_lacks_the_exec_input() -> None:
    assert re.search(r"fluent-bit --help \| grep -Eq '\^\[\[:space:\]\]\+exec\[\[:space:\]\]'", dockerfile_runs())


def test_image_runs_the_packaged_binary_on_the_shipped_yaml_config() -> None:
    binary, flag, config = image_cmd()
    assert (binary, flag) == ("/opt/fluent-bit/bin/fluent-bit", "-c")
    assert repo_path(config).is_file()


def test_image_runs_as_a_non_root_user() -> None:
    users = [args.strip() for instruction, args in final_stage() if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_image_puts_the_poller_on_the_path() -> None:
    env_args = " ".join(args for instruction, args in final_stage() if instruction == "ENV")
    assert 'PATH="/opt/hf-audit/bin:' in env_args
    assert "python -m venv /opt/hf-audit" in dockerfile_runs()


def dockerfile_args() -> dict[str, str]:
    """The default of each ARG (`ARG NAME=value`)."""
    pairs = (args.split("=", 1) for instruction, args in dockerfile_instructions() if instruction == "ARG" and "=" in args)
    return {name.strip(): value.strip() for name, value in pairs}


def stage_base(stage: str) -> str:
    """The image a named stage (`FROM image AS stage`) starts from, its ARGs resolved."""
    for instruction, args in dockerfile_instructions():
        words = args.split()
        if instruction == "FROM" and len(words) == 3 and words[1].upper() == "AS" and words[2] == stage:
            return re.sub(r"\$\{(\w+)\}", lambda m: dockerfile_args()[m[1]], words[0])
    raise AssertionError(f"the Dockerfile has no stage {stage!r}")


# The Python 3 of each Debian release an image tag may name: Debian's python3 builds the wheel.
DEBIAN_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}


def test_image_build_fails_without_the_compiled_hot_path() -> None:
    final_runs = " ".join(args for instruction, args in final_stage() if instruction == "RUN")
    assert '/opt/hf-audit/bin/python -c "import hf_audit._native"' in final_runs


def test_wheels_are_built_with_rust_on_the_runtime_images_debian_release_and_python() -> None:
    builder, runtime = stage_base("wheels"), dockerfile_args()["PYTHON_IMAGE"]
    assert builder.startswith("rust:"), builder
    release = runtime.rsplit("-", 1)[1]
    assert builder.rsplit("-", 1)[1] == release, f"{builder} and {runtime}: two Debian releases, two C libraries"
    assert runtime.startswith(f"python:{DEBIAN_PYTHON[release]}-"), f"{runtime}: not the Python 3 of Debian {release}"


def test_wheels_stage_rust_is_as_new_as_the_crate_needs() -> None:
    crate = tomllib.loads((REPO / "plugin" / "native" / "Cargo.toml").read_text(encoding="utf-8"))
    needed = tuple(int(part) for part in crate["package"]["rust-version"].split("."))
    tag = stage_base("wheels").split(":", 1)[1]
    version = re.match(r"(\d+)\.(\d+)", tag)
    assert version, f"rust:{tag} names no version: the build would not be repeatable"
    assert (int(version[1]), int(version[2])) >= needed[:2], f"rust:{tag} is older than the crate's rust-version"


def test_build_context_keeps_what_the_image_needs() -> None:
    for path in ("pyproject.toml", "plugin/poll.py", "fluent-bit/outputs", "fluent-bit/docker/Dockerfile"):
        assert not dockerignored(path), path


def test_build_context_leaves_out_local_state() -> None:
    for path in (".git", ".venv/bin/python", "tests/opensearch/target/classes", "plugin/__pycache__/cli.pyc"):
        assert dockerignored(path), path


# --- live: the stack in Docker ------------------------------------------------------------------------


def docker_engine_problem() -> str | None:
    """Why the stack cannot start here, or None when a Docker engine and Compose v2 answer."""
    docker = shutil.which("docker")
    if docker is None:
        return "no Docker engine: the docker client is not on PATH"
    try:
        info = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "no Docker engine: `docker info` did not answer within 30 s"
    if info.returncode != 0:
        detail = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no Docker engine running (`docker info`: {detail})"
    version = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if version.returncode != 0:
        return "Docker engine found but not the Compose v2 plugin (`docker compose`)"
    return None


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    """pytest-docker's compose file; skips before pytest-docker runs any docker command."""
    problem = docker_engine_problem()
    if problem is not None:
        pytest.skip(problem)
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    # Not `--wait`: the two one-shot setup services exit when done. `up -d` still waits for every
    # depends_on condition, so it returns once Fluent Bit has started after its sinks.
    return ["up --build --detach"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down --volumes --remove-orphans"]


def settled(read: Callable[[], int], want: int, *, within: float = 300.0, pause: float = 5.0) -> int:
    """Poll `read` until it returns `want` or `within` seconds pass; return the last reading.

    Unreachable endpoints and errors read as -1 while the stack is still settling.
    """
    deadline = time.monotonic() + within
    last = -1
    while True:
        try:
            last = read()
        except (requests.RequestException, KeyError, ValueError):
            last = -1
        if last == want or time.monotonic() >= deadline:
            return last
        time.sleep(pause)


@pytest.fixture(scope="module")
def simulated_event_count() -> int:
    return int(command_options("simhub")["events"])


@pytest.fixture(scope="module")
def stack(docker_ip: str, docker_services: Any) -> dict[str, str]:
    """Base URLs of the sinks as published on the Docker host."""
    def url(name: str, port: int) -> str:
        return f"http://{docker_ip}:{docker_services.port_for(name, port)}"

    return {
        "elasticsearch": url("elasticsearch", 9200),
        "kibana": url("kibana", 5601),
        "loki": url("loki", 3100),
        "clickhouse": url("clickhouse", 8123),
    }


def test_elasticsearch_holds_every_simulated_event_once(stack: dict[str, str], simulated_event_count: int) -> None:
    def count() -> int:
        indices = f"{environment('fluent-bit')['HF_AUDIT_ES_INDEX_PREFIX']}-*"
        response = requests.get(f"{stack['elasticsearch']}/{indices}/_count", timeout=10)
        response.raise_for_status()
        return int(response.json()["count"])

    assert settled(count, simulated_event_count) == simulated_event_count


def test_clickhouse_holds_every_simulated_event_once_after_final(stack: dict[str, str], simulated_event_count: int) -> None:
    env = environment("clickhouse")
    database = resolved(env["CLICKHOUSE_DB"])

    def count() -> int:
        response = requests.post(
            stack["clickhouse"],
            params={"query": f"SELECT count() FROM {database}.huggingface_logs FINAL"},
            headers={"X-ClickHouse-User": resolved(env["CLICKHOUSE_USER"]), "X-ClickHouse-Key": resolved(env["CLICKHOUSE_PASSWORD"])},
            timeout=10,
        )
        response.raise_for_status()
        return int(response.text.strip())

    assert settled(count, simulated_event_count) == simulated_event_count


def test_loki_returns_every_event_line(stack: dict[str, str], simulated_event_count: int) -> None:
    # The shipped output labels every stream job="hf-audit" and re-stamps events older than its
    # window with the send time, so the whole 30-day backfill sits in the last day of Loki's index.
    day_ns = 24 * 3600 * 10**9

    def lines() -> int:
        end = time.time_ns()
        response = requests.get(
            f"{stack['loki']}/loki/api/v1/query_range",
            params={"query": '{job="hf-audit"}', "start": end - day_ns, "end": end, "limit": 5000, "direction": "forward"},
            timeout=30,
        )
        response.raise_for_status()
        return sum(len(stream["values"]) for stream in response.json()["data"]["result"])

    assert settled(lines, simulated_event_count) == simulated_event_count


def test_kibana_has_the_shipped_dashboards(stack: dict[str, str]) -> None:
    def dashboards() -> int:
        response = requests.get(f"{stack['kibana']}/api/saved_objects/_find", params={"type": "dashboard"}, timeout=10)
        response.raise_for_status()
        return int(response.json()["total"])

    shipped = sum(
        1 for line in (REPO / "fluent-bit/kibana/hf-audit.ndjson").read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line).get("type") == "dashboard"
    )
    assert settled(dashboards, shipped) == shipped
