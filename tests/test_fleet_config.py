"""The fleet config: hf-audit-fleet's output is the shipped exec input once per organization, the
shipped example is its output, and the settings that keep a fleet from dropping records are there.
No Fluent Bit needed, except for its own check of the generated configs (skipped without it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from fluentbit_configs import get, resolve
from hf_audit import doctor, fleet
from hf_audit.fleet import FleetError, Organization, parse_organizations, render
from hf_audit.output import READER_BUFFER_LINES

FLB_DIR = REPO / "fluent-bit"
EXAMPLES = FLB_DIR / "examples"
EXPORT_LIMIT = 100_000  # events an export holds at most (the Hub's OpenAPI description)


def shipped_input() -> dict[str, str]:
    (the_input,) = resolve(FLB_DIR / "fluent-bit.yaml").inputs
    return {key: str(value) for key, value in the_input.items()}


def generated_inputs(tmp_path: Path, orgs: list[Organization], fmt: fleet.Format) -> list[dict[str, str]]:
    path = tmp_path / f"inputs.{fmt}"
    path.write_text(render(orgs, fmt, inputs_only=True))
    return [{key: str(value) for key, value in section.items()} for section in resolve(path).inputs]


@pytest.mark.parametrize("fmt", ["yaml", "conf"])
def test_each_generated_input_is_the_shipped_input_with_its_org(tmp_path: Path, fmt: fleet.Format) -> None:
    orgs = [Organization("acme"), Organization("globex-research.eu")]
    for org, generated in zip(orgs, generated_inputs(tmp_path, orgs, fmt), strict=True):
        expected = {key: value.replace("${HF_ORG}", org.name) for key, value in shipped_input().items()}
        expected["command"] = f"{expected['command']} --org {org.name}"
        assert generated == expected


def test_the_shipped_classic_input_is_the_same_input() -> None:
    (classic,) = resolve(FLB_DIR / "fluent-bit.conf").inputs
    assert {key: value.lower() for key, value in classic.items()} == {key: value.lower() for key, value in shipped_input().items()}


def test_an_organization_with_its_own_token_file_clears_the_shared_token(tmp_path: Path) -> None:
    (generated,) = generated_inputs(tmp_path, [Organization("acme", "/etc/hf audit/acme's token")], "yaml")
    assert generated["command"] == "HF_TOKEN= exec hf-audit-poll --org acme --token-path '/etc/hf audit/acme'\"'\"'s token'"


def test_the_token_path_reaches_the_poller_as_written(tmp_path: Path) -> None:
    # The command runs through /bin/sh -c, as Fluent Bit runs it: the quoted path arrives whole.
    command = Organization("acme", "/etc/hf audit/acme's token").command.replace("exec hf-audit-poll", "exec printf '%s\\n'")
    shown = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, env={"HF_TOKEN": "shared"}, check=True)
    assert shown.stdout.splitlines() == ["--org", "acme", "--token-path", "/etc/hf audit/acme's token"]


def test_the_ring_buffer_holds_more_than_one_poll_can_print() -> None:
    assert int(shipped_input()["thread.ring_buffer.capacity"]) > EXPORT_LIMIT
    assert shipped_input()["threaded"] == "true"


def test_a_poll_whose_reader_goes_away_treats_a_whole_ring_of_lines_as_undelivered() -> None:
    # Records in the ring are read but not yet stored: a Fluent Bit crash loses them, so the
    # poller's margin must cover the whole ring (issue 9: a 2,048-line margin lost 1,193 events).
    assert int(shipped_input()["thread.ring_buffer.capacity"]) <= READER_BUFFER_LINES


def test_the_shipped_input_never_pauses() -> None:
    # The engine skips a paused input's ring buffer while the poll goes on printing into it.
    the_input = shipped_input()
    assert "mem_buf_limit" not in the_input and "storage.pause_on_chunks_overlimit" not in the_input
    assert "rate_gate" not in the_input


def test_the_list_reads_comments_token_files_and_a_token_directory() -> None:
    text = "# fleet\nacme\n\nglobex   /run/secrets/globex  # own token\n"
    assert parse_organizations(text, "/etc/tokens/") == [
        Organization("acme", "/etc/tokens/acme"),
        Organization("globex", "/run/secrets/globex"),
    ]
    assert parse_organizations("acme\n") == [Organization("acme", None)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("acme\nbad/org\n", "line 2"),
        ("acme\nacme\n", "listed twice"),
        ("# nothing\n", "names no organization"),
        ("acme relative/token\n", "absolute path"),
        ("acme /tokens/${HOME}\n", "absolute path"),
    ],
)
def test_a_bad_list_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(FleetError, match=message):
        parse_organizations(text)


def test_the_command_writes_the_config_and_refuses_a_bad_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "orgs.txt").write_text("acme\nglobex\n")
    assert fleet.main([str(tmp_path / "orgs.txt"), "-o", str(tmp_path / "out.yaml")]) == 0
    assert len(resolve_inputs(tmp_path / "out.yaml")) == 2
    (tmp_path / "bad.txt").write_text("acme\n../etc\n")
    assert fleet.main([str(tmp_path / "bad.txt")]) == 2
    assert "line 2" in capsys.readouterr().err


def resolve_inputs(path: Path) -> list[dict[str, str]]:
    # The whole config includes the shipped parsers and outputs relative to --config-dir.
    text = path.read_text().replace("  - parsers.yaml", f"  - {FLB_DIR / 'parsers.yaml'}").replace(
        "  - outputs/stdout.yaml", f"  - {FLB_DIR / 'outputs' / 'stdout.yaml'}"
    )
    path.write_text(text)
    return resolve(path).inputs


@pytest.mark.parametrize(("name", "fmt"), [("fleet.yaml", "yaml"), ("fleet.conf", "conf")])
def test_the_shipped_fleet_example_is_the_generators_output(name: str, fmt: fleet.Format) -> None:
    orgs = parse_organizations((EXAMPLES / "fleet-orgs.txt").read_text(), "/etc/hf-audit/tokens")
    assert (EXAMPLES / name).read_text() == render(orgs, fmt, config_dir="..")
    assert len(orgs) == 32


def test_the_fleet_example_twins_configure_the_same_pipeline() -> None:
    yaml_config, classic = resolve(EXAMPLES / "fleet.yaml"), resolve(EXAMPLES / "fleet.conf")
    assert yaml_config.comparable() == classic.comparable()


def test_every_fleet_input_is_named_for_its_organization() -> None:
    for the_input in resolve(EXAMPLES / "fleet.yaml").inputs:
        org = (get(the_input, "tag") or "").removeprefix("hf_audit.")
        assert get(the_input, "alias") == f"hf_audit.{org}"
        assert f"--org {org} " in (get(the_input, "command") or "") + " "


@pytest.mark.parametrize("name", ["monitoring.yaml", "monitoring.conf"])
def test_monitoring_serves_fluent_bits_own_counters_beside_the_pollers(name: str) -> None:
    config = resolve(FLB_DIR / name)
    tags = {get(section, "name"): get(section, "tag") for section in config.inputs}
    (exporter,) = config.outputs
    assert tags["fluentbit_metrics"] == tags["prometheus_textfile"] == get(exporter, "match")


def test_multi_org_example_inputs_are_the_shipped_input() -> None:
    for the_input in resolve(EXAMPLES / "multi-org.yaml").inputs:
        shipped = shipped_input()
        assert {k: v for k, v in the_input.items() if k not in ("alias", "tag", "command")} == {
            k: v for k, v in shipped.items() if k not in ("alias", "tag", "command")
        }


@pytest.mark.skipif(shutil.which("fluent-bit") is None, reason="fluent-bit binary not on PATH (no package registry ships Fluent Bit)")
@pytest.mark.parametrize("name", ["fleet.yaml", "fleet.conf"])
def test_fluent_bit_accepts_the_fleet_example(name: str) -> None:
    check = subprocess.run(["fluent-bit", "--dry-run", "-c", str(EXAMPLES / name)], capture_output=True, text=True, timeout=60, cwd=EXAMPLES)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert "configuration test is successful" in check.stdout + check.stderr


# --- `hf-audit-poll doctor --fluent-bit-config` looks at the ring buffer too ------------------------------

OLD_INPUT = "pipeline:\n  inputs:\n    - name: exec\n      command: hf-audit-poll --org acme\n      threaded: true\n"


@pytest.mark.parametrize("path", [FLB_DIR / "fluent-bit.yaml", FLB_DIR / "fluent-bit.conf", EXAMPLES / "fleet.yaml", EXAMPLES / "fleet.conf"])
def test_check_passes_the_shipped_ring_buffer(path: Path) -> None:
    assert doctor.ring_buffer_check(path).passed


@pytest.mark.parametrize(
    "text",
    [OLD_INPUT, OLD_INPUT + "      thread.ring_buffer.capacity: 1024\n", OLD_INPUT + "      thread.ring_buffer.capacity: 131072\n" + OLD_INPUT.split("inputs:\n")[1]],
    ids=["default", "too small", "one of two inputs"],
)
def test_check_fails_a_ring_buffer_smaller_than_a_poll(tmp_path: Path, text: str) -> None:
    (tmp_path / "fb.yaml").write_text(text)
    verdict = doctor.ring_buffer_check(tmp_path / "fb.yaml")
    assert not verdict.passed and "thread.ring_buffer.capacity 131072" in verdict.detail


@pytest.mark.parametrize("setting", ["storage.pause_on_chunks_overlimit: on", "mem_buf_limit: 50M", "rate_gate: true"])
def test_check_fails_an_input_that_can_pause(tmp_path: Path, setting: str) -> None:
    (tmp_path / "fb.yaml").write_text(OLD_INPUT + f"      thread.ring_buffer.capacity: 131072\n      {setting}\n")
    verdict = doctor.ring_buffer_check(tmp_path / "fb.yaml")
    assert not verdict.passed and "paused" in verdict.detail


def test_check_passes_an_input_without_a_thread(tmp_path: Path) -> None:
    (tmp_path / "fb.conf").write_text("[INPUT]\n    Name exec\n    Command hf-audit-poll\n    Buf_Size 65536\n")
    assert doctor.ring_buffer_check(tmp_path / "fb.conf").passed
