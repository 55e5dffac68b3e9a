"""The shipped Fluent Bit configs, read without running Fluent Bit.

Every Fluent Bit config under fluent-bit/ is checked, the sink outputs included, whoever wrote them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from conftest import REPO
from fluentbit_configs import (
    FluentBitConfig,
    Section,
    env_references,
    expand,
    fluent_bit_configs,
    get,
    is_yaml,
    load,
    resolve,
    size_to_bytes,
    twin_of,
)
from hf_audit.settings import DEFAULT_LINE_BYTES

FLB_DIR = REPO / "fluent-bit"
# Where every config must exist in both formats; elsewhere (e.g. the demo stack's) YAML alone is fine.
TWINNED_DIRS = (FLB_DIR, FLB_DIR / "outputs", FLB_DIR / "examples")
ALL_CONFIGS = fluent_bit_configs(FLB_DIR)
TWINNED = [p for p in ALL_CONFIGS if p.parent in TWINNED_DIRS]
YAML_TWINNED = [p for p in TWINNED if is_yaml(p)]
OUTPUT_FILES = sorted(p for p in ALL_CONFIGS if p.parent == FLB_DIR / "outputs")
# Keys whose value is a credential: it must come from the environment, whole.
SECRET_KEY = re.compile(r"passw|secret|token|api_?key|cloud_auth|credential", re.IGNORECASE)
HUB_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{16,}")
URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def plugin_inputs(config: FluentBitConfig) -> list[Section]:
    return [s for s in config.inputs if get(s, "name") == "exec" and "hf-audit-poll" in (get(s, "command") or "")]


def runs_the_plugin(path: Path) -> bool:
    try:
        return bool(plugin_inputs(resolve(path)))
    except (OSError, ValueError):
        return path.parent != FLB_DIR / "outputs"  # a broken include: let the tests below report it


def fluent_bit_matches(pattern: str, tag: str) -> bool:
    """Fluent Bit's Match: `*` stands for any run of characters, dots included; the rest is literal."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, tag) is not None


def derived_tags(config: FluentBitConfig, tag: str) -> set[str]:
    """The tag, plus those that rewrite_tag filters of the config give copies of its records."""
    tags = {tag}
    for section in config.filters:
        if get(section, "name") != "rewrite_tag" or not accepts(section, tag):
            continue
        rules = section.get("rule", [])
        for rule in rules if isinstance(rules, list) else [rules]:
            tags.add(rule.split()[2].replace("$TAG", tag))
    return tags


def accepts(section: Section, tag: str) -> bool:
    """Whether a filter or output with this Match (or Match_Regex) takes records tagged so."""
    if get(section, "match_regex") is not None:
        return re.search(get(section, "match_regex") or "", tag) is not None
    return fluent_bit_matches(get(section, "match") or "", tag)


def all_outputs() -> list[tuple[str, Section, FluentBitConfig]]:
    return [(f"{rel(p)}#{i}", output, load(p)) for p in ALL_CONFIGS for i, output in enumerate(load(p).outputs)]


# The metrics pipeline (monitoring.yaml) routes its own tag; every other output carries records.
METRICS_TAG = "hf_audit_metrics"
OUTPUTS = [o for o in all_outputs() if get(o[1], "match") != METRICS_TAG]
METRICS_OUTPUTS = [o for o in all_outputs() if get(o[1], "match") == METRICS_TAG]
# Configs with an input that runs the plugin: the main config, the examples, the demo stack's.
PIPELINES = [p for p in ALL_CONFIGS if runs_the_plugin(p)]
SAMPLE_ENV = {"HF_ORG": "acme", "HF_AUDIT_ORG_1": "acme", "HF_AUDIT_ORG_2": "globex-research.eu"}


def test_the_tree_has_the_core_configs() -> None:
    names = {rel(p) for p in ALL_CONFIGS}
    for name in ("fluent-bit.yaml", "parsers.yaml", "outputs/stdout.yaml", "outputs/file.yaml", "examples/multi-org.yaml"):
        assert f"fluent-bit/{name}" in names
        assert f"fluent-bit/{Path(name).with_suffix('.conf')}" in names


@pytest.mark.parametrize("path", TWINNED, ids=rel)
def test_every_config_exists_in_both_formats(path: Path) -> None:
    assert twin_of(path).is_file(), f"{rel(path)} has no twin {rel(twin_of(path))}"


def processor_names(output: Section) -> list[str]:
    processors = json.loads(get(output, "processors") or "{}")
    return [str(p.get("name")) for kind in processors.values() for p in kind]


@pytest.mark.parametrize("path", YAML_TWINNED, ids=rel)
def test_yaml_and_classic_twins_configure_the_same_pipeline(path: Path) -> None:
    if not twin_of(path).is_file():
        pytest.fail(f"{rel(path)} has no classic twin")
    in_yaml, in_classic = resolve(path).comparable(), resolve(twin_of(path)).comparable()
    with_processors = [o for o in resolve(path).outputs if "processors" in o]
    if not with_processors:
        assert in_yaml == in_classic
        return
    # Classic mode has no processors: the twin must run the same plugins as filters (on a re-tagged
    # copy of the records, so the outputs' Match differ), and everything else must be equal.
    classic_filters = {get(f, "name") for f in resolve(twin_of(path)).filters}
    assert {name for o in with_processors for name in processor_names(o)} <= classic_filters
    for config in (in_yaml, in_classic):
        config["filters"] = []
        config["outputs"] = [
            json.dumps({k: v for k, v in json.loads(o).items() if k not in ("match", "processors")}, sort_keys=True)
            for o in config["outputs"]
        ]
    assert in_yaml == in_classic


def test_main_config_runs_the_plugin_threaded_with_filesystem_buffering() -> None:
    (the_input,) = plugin_inputs(resolve(FLB_DIR / "fluent-bit.yaml"))
    assert get(the_input, "tag") == "hf_audit.${HF_ORG}"
    assert get(the_input, "threaded") == "true"
    assert get(the_input, "storage.type") == "filesystem"
    assert get(resolve(FLB_DIR / "fluent-bit.yaml").service, "storage.path")


@pytest.mark.parametrize("path", PIPELINES, ids=rel)
def test_every_plugin_input_uses_a_parser_that_takes_time_from_event_time(path: Path) -> None:
    config = resolve(path)
    parsers = {get(p, "name"): p for p in config.parsers}
    inputs = plugin_inputs(config)
    assert inputs, f"{rel(path)} runs no hf-audit-poll"
    for the_input in inputs:
        parser = parsers.get(get(the_input, "parser"))
        assert parser is not None, f"parser {get(the_input, 'parser')!r} is not defined"
        assert get(parser, "format") == "json"
        assert get(parser, "time_key") == "eventTime"
        assert get(parser, "time_keep") in ("true", "on", "On")


def test_parser_time_format_reads_the_plugins_event_time() -> None:
    (parser,) = resolve(FLB_DIR / "parsers.yaml").parsers
    # Fluent Bit's %L is the fraction of a second; strptime's is %f.
    python_format = (get(parser, "time_format") or "").replace("%L", "%f")
    parsed = datetime.strptime("2026-11-25T17:03:34.123Z", python_format)
    assert (parsed.second, parsed.microsecond) == (34, 123000)


@pytest.mark.parametrize("path", PIPELINES, ids=rel)
def test_buf_size_holds_the_plugins_longest_line(path: Path) -> None:
    for the_input in plugin_inputs(resolve(path)):
        # fgets reads at most Buf_Size - 1 bytes of a line, newline included.
        assert size_to_bytes(get(the_input, "buf_size") or "4096") >= DEFAULT_LINE_BYTES + 1


@pytest.mark.parametrize("path", PIPELINES, ids=rel)
def test_every_plugin_input_has_its_own_tag_under_hf_audit(path: Path) -> None:
    tags = [expand(get(s, "tag") or "", SAMPLE_ENV) for s in plugin_inputs(resolve(path))]
    assert all(tag.startswith("hf_audit.") and tag != "hf_audit." for tag in tags), tags
    assert len(set(tags)) == len(tags), f"inputs share a tag: {tags}"


def test_multi_org_example_polls_each_organization_under_its_own_tag() -> None:
    for path in (FLB_DIR / "examples" / "multi-org.yaml", FLB_DIR / "examples" / "multi-org.conf"):
        inputs = plugin_inputs(resolve(path))
        assert len(inputs) >= 2
        for the_input in inputs:
            org = expand(get(the_input, "tag") or "", SAMPLE_ENV).removeprefix("hf_audit.")
            assert expand(get(the_input, "command") or "", SAMPLE_ENV).endswith(f"--org {org}")


@pytest.mark.parametrize(("where", "output", "config"), OUTPUTS, ids=[w for w, _, _ in OUTPUTS])
def test_every_output_takes_the_plugins_tags(where: str, output: Section, config: FluentBitConfig) -> None:
    for tag in ("hf_audit.acme", "hf_audit.globex-research.eu"):
        # Directly, or through a copy that a rewrite_tag filter of the same file re-tags.
        assert any(accepts(output, t) for t in derived_tags(config, tag)), f"{where} does not match {tag}"


@pytest.mark.parametrize(("where", "output", "config"), OUTPUTS, ids=[w for w, _, _ in OUTPUTS])
def test_no_output_takes_records_of_other_pipelines(where: str, output: Section, config: FluentBitConfig) -> None:
    # Dropped into an existing Fluent Bit, our outputs must leave the user's own records alone.
    for tag in ("kube.var.log.containers.app", "syslog", "hf_auditor.x"):
        assert not any(accepts(output, t) for t in derived_tags(config, tag)), f"{where} also matches {tag}"


@pytest.mark.parametrize(("where", "output", "config"), OUTPUTS, ids=[w for w, _, _ in OUTPUTS])
def test_every_output_sets_its_retry_limit(where: str, output: Section, config: FluentBitConfig) -> None:
    assert get(output, "retry_limit"), f"{where} relies on the default Retry_Limit"


@pytest.mark.parametrize(("where", "output", "config"), OUTPUTS, ids=[w for w, _, _ in OUTPUTS])
def test_every_output_bounds_its_filesystem_buffer(where: str, output: Section, config: FluentBitConfig) -> None:
    assert get(output, "storage.total_limit_size"), f"{where} has no storage.total_limit_size"


def test_every_output_file_holds_exactly_one_output() -> None:
    assert OUTPUT_FILES
    for path in OUTPUT_FILES:
        config = load(path)
        assert len(config.outputs) == 1 and not config.inputs and not config.service, rel(path)


def _secret_problems(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    problems = [f"Hub token {m.group()[:5]}..." for m in HUB_TOKEN.finditer(text)]
    problems += ["credentials in a URL" for _ in URL_CREDENTIALS.finditer(text)]
    for section in load(path).all_sections():
        for key, value in section.items():
            values = value if isinstance(value, list) else [value]
            for one in values:
                if SECRET_KEY.search(key) and not _from_environment(one):
                    problems.append(f"{key} is written in the file")
                if key == "header" and re.match(r"\s*(authorization|x-api-key)\b", one, re.IGNORECASE) and "${" not in one:
                    problems.append(f"header {one.split()[0]} is written in the file")
    return problems


def _from_environment(value: str) -> bool:
    """The whole value is one ${VAR}, with no default or an empty one (a default would be a secret)."""
    match = re.fullmatch(r"\s*\$\{[A-Za-z_][A-Za-z0-9_]*(:-)?\}\s*", value)
    return match is not None or value.strip() == ""


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=rel)
def test_no_secret_is_written_in_a_config(path: Path) -> None:
    assert _secret_problems(path) == []


def test_the_secret_check_catches_a_written_password(tmp_path: Path) -> None:
    config = tmp_path / "leaky.conf"
    config.write_text("[OUTPUT]\n    Name http\n    Match hf_audit.*\n    HTTP_Passwd hunter2\n")
    assert _secret_problems(config) == ["http_passwd is written in the file"]


def test_every_environment_variable_is_documented_in_the_readme() -> None:
    assert (REPO / "README.md").is_file(), "README.md is missing"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    used = {name: rel(p) for p in ALL_CONFIGS for name in env_references(p.read_text(encoding="utf-8"))}
    missing = {name: where for name, where in sorted(used.items()) if not re.search(rf"\b{name}\b", readme)}
    assert not missing, f"README.md does not document: {missing}"


def test_the_metrics_exporter_serves_the_pollers_and_fluent_bits_metrics_on_loopback_by_default() -> None:
    assert {where.split("#")[0] for where, _, _ in METRICS_OUTPUTS} == {"fluent-bit/monitoring.yaml", "fluent-bit/monitoring.conf"}
    for _, output, config in METRICS_OUTPUTS:
        assert get(output, "name") == "prometheus_exporter"
        # The pollers' files, and Fluent Bit's own counters (the ring-buffer drops among them).
        assert {(get(s, "name"), get(s, "tag")) for s in config.inputs} == {("prometheus_textfile", METRICS_TAG), ("fluentbit_metrics", METRICS_TAG)}
        assert expand(get(output, "host") or "", {}) == "127.0.0.1"
        assert not any(accepts(output, tag) for tag in ("hf_audit.acme", "syslog"))
