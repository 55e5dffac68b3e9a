"""The shipped Fluent Bit configs run by a real Fluent Bit against the simulated Hub.

Each run uses the shipped files as a user does: the main config as it is, or with its include line
edited to name the sinks (a top-level config that includes the shipped main config and a shipped
output), every setting coming from environment variables. Skipped without a `fluent-bit` binary.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import ORG, REPO, TOKEN, poller_env, run_like_fluent_bit
from fluentbit_configs import get, resolve, size_to_bytes
from fluentbit_harness import FluentBit, fluent_bit_binary, requires_fluent_bit
from hf_audit.normalize import COLUMNS
from hf_audit.settings import DEFAULT_LINE_BYTES
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub
from records import simulated_export_events

pytestmark = requires_fluent_bit

FLB_DIR = REPO / "fluent-bit"
EXPORT_SIZE = 300  # plus the edge cases of records.py: every event type, a truncated line, odd data
WAIT_SECONDS = 120.0  # a bound on waiting, never asserted: a loaded machine only waits longer


# --- running Fluent Bit -----------------------------------------------------------------------------


def start(config: Path, env: dict[str, str], workdir: Path, name: str) -> FluentBit:
    """Fluent Bit with its stdout (the stdout output's records) apart from its log: <name>.stdout, <name>.log."""
    return FluentBit(config, env, workdir / f"{name}.log", stdout=workdir / f"{name}.stdout").start()


def stdout_records(run: FluentBit) -> list[dict]:
    assert run.stdout is not None
    return json_lines(run.stdout)


def json_lines(path: Path) -> list[dict]:
    """The complete lines of a JSON-lines file that may still be written to."""
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


class Deadline:
    """One bounded wait shared by the steps of a run, so a broken pipeline costs WAIT_SECONDS once."""

    def __init__(self, seconds: float = WAIT_SECONDS) -> None:
        self.at = time.monotonic() + seconds

    def wait_for(self, condition: Callable[[], bool], run: FluentBit, what: str) -> bool:
        """Poll until condition holds (True) or time is up (False); fail if Fluent Bit exits."""
        return run.wait_for(condition, what, timeout=max(0.0, self.at - time.monotonic()), required=False, poll=0.2)


def wait_for(condition: Callable[[], bool], what: str, run: FluentBit) -> None:
    run.wait_for(condition, what, timeout=WAIT_SECONDS, poll=0.2)


def ids_of(records: list[dict]) -> set[str]:
    return {record["eventID"] for record in records}


def fluent_bit_env(hub_url: str, tmp: Path, **overrides: str) -> dict[str, str]:
    """The environment a user sets for the shipped configs, pointed at the simulated Hub and tmp."""
    env = poller_env(hub_url, tmp / "state", tmp, HF_AUDIT_INTERVAL_SEC="1")
    env.update(
        HF_AUDIT_FLB_STORAGE_PATH=str(tmp / "flb-storage"),
        HF_AUDIT_FILE_PATH=str(tmp / "files"),
        HF_AUDIT_FLB_LOG_LEVEL="info",
    )
    env.update(overrides)
    return env


def event_time_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# The record time Fluent Bit holds is not in the shipped outputs' lines (it equals eventTime, which
# is); this extra file output, used only by the tests, prints it next to the event id.
PROBE_OUTPUT = """\
    - name: file
      match: hf_audit.*
      path: {path}
      file: record-times
      mkdir: true
      format: template
      template: '{{time}} {{eventID}}'
"""


def probe_times(path: Path) -> dict[str, float]:
    lines = (path / "record-times").read_text().splitlines() if (path / "record-times").exists() else []
    return {event_id: float(seconds) for seconds, event_id in (line.split() for line in lines if line.strip())}


# --- the YAML configs: main config + file output, stopped and restarted --------------------------------


@dataclass
class PipelineRuns:
    expected: list[str]
    added_while_running: list[str]
    added_after_restart: list[str]
    file_records: list[dict]
    stdout_records: list[list[dict]]  # per run
    record_times: dict[str, float]
    returncodes: list[int | None]
    stderr: str
    direct_records: dict[str, dict] = field(default_factory=dict)


@pytest.fixture(scope="module")
def yaml_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineRuns]:
    tmp = tmp_path_factory.mktemp("flb-yaml")
    events = simulated_export_events(EXPORT_SIZE)
    config = tmp / "fluent-bit.yaml"
    config.write_text(
        "includes:\n"
        f"  - {FLB_DIR / 'fluent-bit.yaml'}\n"
        f"  - {FLB_DIR / 'outputs' / 'file.yaml'}\n"
        "pipeline:\n  outputs:\n" + PROBE_OUTPUT.format(path=tmp / "probe")
    )
    output_file = tmp / "files" / f"hf_audit.{ORG}"
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        env = fluent_bit_env(hub.url, tmp)
        expected = [event["_id"] for event in events]

        # Waits are soft here: when something never arrives, the tests below say what is missing.
        deadline = Deadline()
        first = start(config, env, tmp, "first")
        try:
            deadline.wait_for(lambda: ids_of(json_lines(output_file)) >= set(expected), first, "the export in the file")
            added = [event["_id"] for event in hub.generate_newer(5)]
            everything = set(expected + added)
            deadline.wait_for(lambda: ids_of(json_lines(output_file)) >= everything, first, "the newer events in the file")
            deadline.wait_for(lambda: ids_of(stdout_records(first)) >= everything, first, "every event on stdout")
            deadline.wait_for(lambda: set(probe_times(tmp / "probe")) >= everything, first, "every record time")
        finally:
            first.stop()

        second = start(config, env, tmp, "second")
        try:
            after_restart = [event["_id"] for event in hub.generate_newer(5)]
            deadline.wait_for(lambda: ids_of(json_lines(output_file)) >= set(after_restart), second, "the events after the restart in the file")
            deadline.wait_for(lambda: ids_of(stdout_records(second)) >= set(after_restart), second, "the events after the restart on stdout")
            deadline.wait_for(lambda: set(probe_times(tmp / "probe")) >= set(after_restart), second, "their record times")
            # Two more polls that find nothing new, so a duplicate would have had its chance to show.
            polls = second.log_text().count("poll finished")
            deadline.wait_for(lambda: second.log_text().count("poll finished") > polls + 1, second, "two more polls")
        finally:
            second.stop()

        direct = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, tmp / "direct-state", tmp))
    yield PipelineRuns(
        expected=expected + added + after_restart,
        added_while_running=added,
        added_after_restart=after_restart,
        file_records=json_lines(output_file),
        stdout_records=[stdout_records(first), stdout_records(second)],
        record_times=probe_times(tmp / "probe"),
        returncodes=[first.returncode, second.returncode],
        stderr=first.log_text() + second.log_text(),
        direct_records={record["eventID"]: record for record in direct.records},
    )


def test_file_output_delivers_every_event_exactly_once(yaml_runs: PipelineRuns) -> None:
    counts = Counter(record["eventID"] for record in yaml_runs.file_records)
    assert set(counts) == set(yaml_runs.expected)
    assert [event_id for event_id, n in counts.items() if n > 1] == []


def test_stdout_output_delivers_every_event_exactly_once(yaml_runs: PipelineRuns) -> None:
    counts = Counter(record["eventID"] for run in yaml_runs.stdout_records for record in run)
    assert set(counts) == set(yaml_runs.expected)
    assert [event_id for event_id, n in counts.items() if n > 1] == []


def test_a_restart_neither_resends_nor_loses_events(yaml_runs: PipelineRuns) -> None:
    first, second = (ids_of(run) for run in yaml_runs.stdout_records)
    assert second == set(yaml_runs.added_after_restart)
    assert first.isdisjoint(second)


def test_records_arrive_with_exactly_the_51_columns(yaml_runs: PipelineRuns) -> None:
    outputs = {"file": yaml_runs.file_records, "stdout": [r for run in yaml_runs.stdout_records for r in run]}
    for name, records in outputs.items():
        assert {tuple(sorted(record)) for record in records} == {tuple(sorted(COLUMNS))}, name
        assert all(None not in record.values() for record in records), name


def test_fluent_bit_passes_every_value_through_unchanged(yaml_runs: PipelineRuns) -> None:
    # Against the lines hf-audit-poll prints itself for the same export (receivedAt is the poll's time).
    delivered = {record["eventID"]: record for record in yaml_runs.file_records}
    assert yaml_runs.direct_records, "the direct poll printed nothing"
    for event_id, direct in yaml_runs.direct_records.items():
        assert event_id in delivered, f"{event_id} was not delivered"
        assert {**delivered[event_id], "receivedAt": ""} == {**direct, "receivedAt": ""}


def test_the_truncated_line_of_an_oversize_event_arrives(yaml_runs: PipelineRuns) -> None:
    truncated = [record for record in yaml_runs.file_records if record["tags"].get("truncated") == "true"]
    assert truncated, "the export's oversize event did not arrive"
    longest = max(len(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()) for record in truncated)
    assert longest > 32_000  # a line far over the exec input's default 4096-byte buffer


def test_record_time_is_the_event_time(yaml_runs: PipelineRuns) -> None:
    event_times = {record["eventID"]: record["eventTime"] for record in yaml_runs.file_records}
    assert set(yaml_runs.record_times) == set(event_times)
    wrong = {i: (t, yaml_runs.record_times[i]) for i, t in event_times.items() if abs(event_time_seconds(t) - yaml_runs.record_times[i]) > 0.0005}
    assert wrong == {}


def test_fluent_bit_exits_cleanly_on_sigterm(yaml_runs: PipelineRuns) -> None:
    assert yaml_runs.returncodes == [0, 0]


def test_no_record_fails_to_parse(yaml_runs: PipelineRuns) -> None:
    assert "parser returned an error" not in yaml_runs.stderr


def test_the_token_never_reaches_fluent_bits_output(yaml_runs: PipelineRuns) -> None:
    assert TOKEN not in yaml_runs.stderr
    assert TOKEN not in json.dumps(yaml_runs.file_records)


# --- the classic configs --------------------------------------------------------------------------


def classic_config_with_sinks(tmp: Path, sinks: list[str]) -> Path:
    """The shipped fluent-bit.conf with its include line edited to name these sinks, as a user does.

    The edited copy lives in a temporary directory, so it names the shipped files by absolute path.
    """
    lines = []
    for line in (FLB_DIR / "fluent-bit.conf").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("@INCLUDE outputs/stdout.conf"):
            lines += [f"@INCLUDE {FLB_DIR / 'outputs' / sink}.conf" for sink in sinks]
        elif stripped.lower().startswith("parsers_file"):
            lines.append(f"    Parsers_File {FLB_DIR / 'parsers.conf'}")
        else:
            lines.append(line)
    config = tmp / "fluent-bit.conf"
    config.write_text("\n".join(lines) + "\n")
    return config


def test_classic_config_delivers_every_event_once_to_stdout_and_file(tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    events = generate_events(150, seed=11, span=timedelta(days=3))
    config = classic_config_with_sinks(tmp_path, ["stdout", "file"])
    output_file = tmp_path / "files" / f"hf_audit.{ORG}"
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        run = fluent_bit(config, fluent_bit_env(hub.url, tmp_path), name="classic", stdout=True)
        try:
            expected = {event["_id"] for event in events}
            wait_for(lambda: ids_of(json_lines(output_file)) >= expected, "the export in the file", run)
            expected |= {event["_id"] for event in hub.generate_newer(3)}
            wait_for(lambda: ids_of(json_lines(output_file)) >= expected and ids_of(stdout_records(run)) >= expected, "new events", run)
        finally:
            run.stop()
    assert run.returncode == 0
    for records in (json_lines(output_file), stdout_records(run)):
        assert sorted(record["eventID"] for record in records) == sorted(expected)


def test_shipped_classic_main_config_runs_as_it_is(tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    events = generate_events(20, seed=12)
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        run = fluent_bit(FLB_DIR / "fluent-bit.conf", fluent_bit_env(hub.url, tmp_path), name="as-is", stdout=True)
        try:
            wait_for(lambda: ids_of(stdout_records(run)) >= {e["_id"] for e in events}, "the export on stdout", run)
        finally:
            run.stop()
    assert run.returncode == 0
    assert len(stdout_records(run)) == len(events)


# --- several organizations ---------------------------------------------------------------------------


def test_multi_org_example_delivers_each_organization_under_its_own_tag(tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    # One simulated Hub serves one organization: a stand-in hf-audit-poll first on PATH sends each
    # --org to its own Hub, then runs the real one with the example's command line unchanged.
    orgs = {"acme": generate_events(40, seed=21, org="acme"), "globex": generate_events(30, seed=22, org="globex")}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "hf-audit-poll"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case "$*" in *"--org acme"*) HF_ENDPOINT="$HUB_ACME";; *"--org globex"*) HF_ENDPOINT="$HUB_GLOBEX";; esac\n'
        f'export HF_ENDPOINT\nexec {Path(sys.executable).parent / "hf-audit-poll"} "$@"\n'
    )
    wrapper.chmod(0o755)
    config = tmp_path / "multi.yaml"
    config.write_text(f"includes:\n  - {FLB_DIR / 'examples' / 'multi-org.yaml'}\n  - {FLB_DIR / 'outputs' / 'file.yaml'}\n")
    with SimulatedHub(org="acme", token=TOKEN, events=orgs["acme"]) as acme, SimulatedHub(org="globex", token=TOKEN, events=orgs["globex"]) as globex:
        env = fluent_bit_env(acme.url, tmp_path, HF_AUDIT_ORG_1="acme", HF_AUDIT_ORG_2="globex", HUB_ACME=acme.url, HUB_GLOBEX=globex.url)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        env.pop("HF_ORG")
        run = fluent_bit(config, env, name="multi")
        files = {org: tmp_path / "files" / f"hf_audit.{org}" for org in orgs}
        try:
            wait_for(lambda: all(ids_of(json_lines(files[o])) >= {e["_id"] for e in orgs[o]} for o in orgs), "both organizations", run)
        finally:
            run.stop()
    assert run.returncode == 0
    for org, org_events in orgs.items():
        records = json_lines(files[org])
        assert sorted(r["eventID"] for r in records) == sorted(e["_id"] for e in org_events)
        assert {r["sourceID"] for r in records} == {f"huggingface-{org}"}
    assert {"acme.json", "globex.json"} <= {p.name for p in (tmp_path / "state").iterdir()}  # one checkpoint each


# --- why Buf_Size is 65536 ----------------------------------------------------------------------------


LINE_WRITER = """\
import json, sys
size = int(sys.argv[1])  # bytes, newline included
record = {"eventTime": "2026-11-25T17:03:34.123Z", "eventID": sys.argv[2], "pad": ""}
record["pad"] = "x" * (size - 1 - len(json.dumps(record, separators=(",", ":"))))
sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\\n")
"""


@pytest.fixture(scope="module")
def long_line_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One Fluent Bit, three exec inputs printing one line each through the shipped parser.

    default: the plugin's longest line (DEFAULT_LINE_BYTES, newline included) with the exec input's
    default Buf_Size; shipped: the same line with the shipped Buf_Size; over: a line one byte longer
    than the shipped Buf_Size, with it. (fgets reads at most Buf_Size - 1 bytes at a time: a line of
    exactly Buf_Size bytes still arrives, its newline read alone and logged as a parser error.)
    """
    tmp = tmp_path_factory.mktemp("flb-bufsize")
    writer = tmp / "write_line.py"
    writer.write_text(LINE_WRITER)
    (shipped_input,) = resolve(FLB_DIR / "fluent-bit.yaml").inputs
    shipped = size_to_bytes(get(shipped_input, "buf_size") or "4096")
    cases = {"default": (DEFAULT_LINE_BYTES, 4096), "shipped": (DEFAULT_LINE_BYTES, shipped), "over": (shipped + 1, shipped)}
    inputs = "".join(
        f"    - name: exec\n      tag: {name}\n      command: {sys.executable} {writer} {line} {name}\n"
        f"      buf_size: {buf}\n      parser: hf_audit_json\n      oneshot: true\n"
        for name, (line, buf) in cases.items()
    )
    config = tmp / "long-lines.yaml"
    config.write_text(
        f"service:\n  flush: 1\n  grace: 1\nincludes:\n  - {FLB_DIR / 'parsers.yaml'}\n"
        f"pipeline:\n  inputs:\n{inputs}  outputs:\n"
        f"    - name: file\n      match: '*'\n      path: {tmp / 'out'}\n      mkdir: true\n      format: template\n      template: '{{time}} {{eventID}} {{pad}}'\n"
    )
    run = start(config, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, tmp, "long-lines")
    try:
        # exec.0 and exec.2 fail on every fragment of their line; exec.1's record reaches the file.
        wait_for(
            lambda: (tmp / "out" / "shipped").exists() and all(f"exec.{i}] parser returned an error" in run.log_text() for i in (0, 2)),
            "the three lines to be read",
            run,
        )
    finally:
        run.stop()
    yield tmp / "out", run.log_text()


def test_the_exec_inputs_default_buffer_loses_the_plugins_longest_line(long_line_run: tuple[Path, str]) -> None:
    out, stderr = long_line_run
    assert not (out / "default").exists()
    assert "[input:exec:exec.0] parser returned an error" in stderr


def test_the_shipped_buffer_passes_the_plugins_longest_line_intact(long_line_run: tuple[Path, str]) -> None:
    out, stderr = long_line_run
    assert "[input:exec:exec.1] parser returned an error" not in stderr
    (line,) = (out / "shipped").read_text().splitlines()
    seconds, event_id, pad = line.split(" ")
    line_bytes = len(json.dumps({"eventTime": "2026-11-25T17:03:34.123Z", "eventID": event_id, "pad": pad}, separators=(",", ":"))) + 1
    assert (event_id, line_bytes) == ("shipped", DEFAULT_LINE_BYTES)
    assert float(seconds) == pytest.approx(event_time_seconds("2026-11-25T17:03:34.123Z"), abs=0.0005)


def test_a_line_longer_than_the_buffer_is_lost(long_line_run: tuple[Path, str]) -> None:
    # The plugin never prints one (its bound is below the shipped Buf_Size); this is what would happen.
    out, stderr = long_line_run
    assert not (out / "over").exists()
    assert "[input:exec:exec.2] parser returned an error" in stderr


# --- every shipped config passes Fluent Bit's own check ------------------------------------------------


def dry_run_targets() -> list[Path]:
    targets = [FLB_DIR / "fluent-bit.yaml", FLB_DIR / "fluent-bit.conf", FLB_DIR / "examples" / "multi-org.yaml", FLB_DIR / "examples" / "multi-org.conf"]
    return [t for t in targets if t.exists()] + sorted((FLB_DIR / "outputs").glob("*.yaml")) + sorted((FLB_DIR / "outputs").glob("*.conf"))


@functools.cache
def available_plugins() -> frozenset[str]:
    """The plugins this fluent-bit binary was built with, from its --help (a build may leave some out)."""
    text = subprocess.run([fluent_bit_binary(), "--help"], capture_output=True, text=True, timeout=30).stdout
    listing = text[text.find("Inputs") :]
    return frozenset(m.group(1) for m in re.finditer(r"^  (\w+) ", listing, re.MULTILINE))


def plugins_used(config: Path) -> set[str]:
    resolved = resolve(config)
    names = {get(s, "name") or "" for kind in ("inputs", "filters", "outputs") for s in resolved.sections[kind]}
    for output in resolved.outputs:
        processors = json.loads(get(output, "processors") or "{}")
        names |= {str(p.get("name")) for stage in processors.values() for p in stage}
    return names


@pytest.mark.parametrize("path", dry_run_targets(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_fluent_bit_accepts_the_shipped_config(path: Path, tmp_path: Path) -> None:
    """`fluent-bit --dry-run` checks every plugin and property name; an output is checked with the main config."""
    if path.parent.name == "outputs" and path.stem != "stdout":  # the main config includes stdout already
        if path.suffix == ".yaml":
            config = tmp_path / "check.yaml"
            config.write_text(f"includes:\n  - {FLB_DIR / 'fluent-bit.yaml'}\n  - {path}\n")
        else:
            config = classic_config_with_sinks(tmp_path, [path.stem])
    elif path.parent.name == "outputs":
        config = FLB_DIR / f"fluent-bit{path.suffix}"
    else:
        config = path
    missing = plugins_used(config) - available_plugins()
    if missing:
        pytest.skip(f"this fluent-bit binary was built without {sorted(missing)} (Fluent Bit's packages have them)")
    env = {**fluent_bit_env("http://127.0.0.1:9", tmp_path), "HF_AUDIT_ORG_1": "acme", "HF_AUDIT_ORG_2": "globex"}
    # The Loki script path is relative to the main config's directory, and the check config lives
    # in tmp_path: name the shipped script absolutely, as the README tells users to in that case.
    env["LOKI_RESTAMP_SCRIPT"] = str(FLB_DIR / "loki" / "restamp_old.lua")
    checked = subprocess.run([fluent_bit_binary(), "--dry-run", "-c", str(config)], env=env, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "configuration test is successful" in checked.stdout + checked.stderr, checked.stderr[-3000:]
