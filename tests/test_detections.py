"""The Sigma rule pack and its conversion, without an engine: pySigma's validators, coverage of the
Hub's event types, fixtures for every rule, the committed outputs and README table in sync with the
converter, conversion with the network unreachable, and the shape of what each sink loads (Kibana
NDJSON, the Loki ruler file). The engine tests are test_detections_clickhouse.py and
test_detections_opensearch.py."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml
from sigma.correlations import SigmaCorrelationRule
from sigma.data import mitre_attack
from sigma.rule import SigmaDetection, SigmaDetectionItem

from conftest import REPO, SPEC_DIR
from detections_engine import DETECTIONS_DIR, bursts, pack, pack_rule, shipped_ndjson, singles
from detections_fixtures import CASES, CORRELATION_CASES, export_item_schema
from hf_audit.detections.cli import main as rules_main
from hf_audit.detections.fields import is_record_field
from hf_audit.detections.outputs import convert_pack, differing_files, rendered_files
from hf_audit.detections.pack import ATTACK_FILE, LOGSOURCE, load_pack, offline_attack_data
from hf_audit.detections.readme_table import rules_table, table_in
from hf_audit.detections.validation import validate_pack

ALERTS = [entry for entry in pack() if not entry.building_block]
SPEC_TYPES = [line for line in (SPEC_DIR / "event-types.txt").read_text().splitlines() if line and not line.startswith("#")]
DOCUMENTED_TYPES = {*SPEC_TYPES, "org.audit_log.export"}
SCOPES = {event_type.split(".")[0] for event_type in SPEC_TYPES}


def detection_items(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from detection_items(item)
        else:
            yield item


def rule_items(name: str) -> list[SigmaDetectionItem]:
    rule = pack_rule(name).rule
    assert not isinstance(rule, SigmaCorrelationRule)
    return [item for detection in rule.detection.detections.values() for item in detection_items(detection)]


def event_types_of(name: str) -> set[str]:
    return {str(value) for item in rule_items(name) if item.field == "eventName" for value in item.value}


PLAIN = [entry.name for entry in pack() if not entry.is_correlation]
NAMED_TYPES = {t for name in PLAIN for t in event_types_of(name)}


@pytest.fixture
def offline() -> Iterator[None]:
    """No connection can be opened (names do not resolve either) while the test runs."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable (blocked by the test)")

    patched = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex}
    originals = (socket.create_connection, socket.getaddrinfo)
    socket.socket.connect = refuse  # type: ignore[method-assign]  # patched for the test, put back below
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]  # patched for the test, put back below
    socket.create_connection = refuse  # type: ignore[assignment]  # patched for the test, put back below
    socket.getaddrinfo = refuse  # type: ignore[assignment]  # patched for the test, put back below
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = patched["connect"], patched["connect_ex"]  # type: ignore[method-assign]  # putting the originals back
        socket.create_connection, socket.getaddrinfo = originals  # type: ignore[assignment]  # putting the originals back


# --- the pack ----------------------------------------------------------------------------------------


def test_pack_has_at_least_30_alerting_rules_and_correlations() -> None:
    assert len(ALERTS) >= 30
    assert {entry.rule.type.name for entry in ALERTS if entry.is_correlation} >= {"EVENT_COUNT", "VALUE_COUNT"}


def test_every_rule_passes_pysigmas_validators(offline: None) -> None:
    with offline_attack_data():
        issues = validate_pack(load_pack())
    assert [str(issue) for issue in issues] == []


def test_no_rule_uses_d3fend_tags_the_offline_validation_leaves_out() -> None:
    assert not [entry.name for entry in pack() for tag in entry.rule.tags if tag.namespace == "d3fend"]


@pytest.mark.parametrize("entry", pack(), ids=lambda entry: entry.name)
def test_rule_has_id_level_description_and_false_positives(entry) -> None:
    rule = entry.rule
    assert isinstance(rule.id, uuid.UUID)
    assert rule.level is not None and rule.description and rule.falsepositives
    if not entry.is_correlation:
        assert (rule.logsource.product, rule.logsource.service) == (LOGSOURCE["product"], LOGSOURCE["service"])


def test_rule_ids_and_names_are_unique() -> None:
    assert len({entry.rule.id for entry in pack()}) == len({entry.name for entry in pack()}) == len(pack())


def test_attack_tags_name_records_the_pack_ships() -> None:
    with offline_attack_data():
        techniques, tactics = mitre_attack.mitre_attack_techniques, set(mitre_attack.mitre_attack_tactics.values())
    tags = {tag.name for entry in pack() for tag in entry.rule.tags if tag.namespace == "attack"}
    assert tags and all(tag.upper() in techniques or tag.replace("_", "-") in tactics for tag in tags)


@pytest.mark.parametrize("name", PLAIN)
def test_rule_selects_only_on_record_columns_and_map_keys(name: str) -> None:
    assert [item.field for item in rule_items(name) if item.field is None or not is_record_field(item.field)] == []


def test_every_event_type_a_rule_names_is_a_documented_hub_type() -> None:
    assert NAMED_TYPES - DOCUMENTED_TYPES == set()


def test_rules_cover_every_scope_of_the_hub() -> None:
    assert {event_type.split(".")[0] for event_type in NAMED_TYPES} >= SCOPES


SECURITY_TYPES = (
    "org.settings.sso.disable", "org.settings.sso", "org.settings.security.2fa.disable",
    "org.settings.network.ip_restriction.disable", "org.settings.network.auth_enforcement.disable",
    "org.settings.security.members_privacy.disable", "org.settings.security.auto_join.enable",
    "org.update_join_settings", "org.settings.security.repo_visibility", "org.token_approval.disabled",
    "org.token_approval.authorization_request.authorized", "org.add_user", "org.change_role", "org.remove_user",
    "repo.update_settings", "repo.move", "repo.delete", "repo.add_secret", "repo.add_secrets", "repo.add_variable",
    "repo.add_trusted_publisher", "repo.delete_lfs_file", "org.service_account.create",
    "org.service_account.token.create", "org.settings.inference_providers.keys.add", "spaces.add_storage",
    "spaces.remove_storage", "spaces.update_hardware", "jobs.create", "scheduled_job.create", "billing.marketplace_approve",
    "billing.update_payment_method", "oauth.token", "org.audit_log.export", "org.update_settings", "org.delete",
)  # fmt: skip


def test_rules_cover_the_security_relevant_event_types() -> None:
    assert set(SECURITY_TYPES) - NAMED_TYPES == set()


# --- fixtures ----------------------------------------------------------------------------------------


def test_every_fixture_event_is_a_schema_valid_export_item() -> None:
    validator = jsonschema.Draft202012Validator(export_item_schema())
    for fixture in singles() + bursts():
        validator.validate(fixture.event)


def test_every_plain_alerting_rule_has_positive_and_negative_fixtures() -> None:
    cases = {rule: (positives, negatives) for rule, positives, negatives in CASES}
    plain_alerts = {entry.name for entry in ALERTS if not entry.is_correlation}
    assert set(cases) == plain_alerts
    assert all(positives and negatives for positives, negatives in cases.values())


def test_every_correlation_has_bursts_that_cross_and_near_misses() -> None:
    assert set(CORRELATION_CASES) == {entry.name for entry in ALERTS if entry.is_correlation}
    for bursts_, crossing in CORRELATION_CASES.values():
        assert crossing and len(bursts_) > len(crossing)


# Granular types that weaken the organization's security; before 2026-06-16 the same change was an
# org.update_settings event.
WEAKENING_SETTINGS = (
    "org.settings.sso.disable", "org.settings.security.2fa.disable", "org.settings.network.ip_restriction.disable",
    "org.settings.network.auth_enforcement.disable", "org.settings.security.members_privacy.disable",
    "org.settings.security.auto_join.enable", "org.settings.security.repo_visibility",
)  # fmt: skip


@pytest.mark.parametrize("granular", WEAKENING_SETTINGS)
def test_security_setting_rules_catch_both_generations(granular: str) -> None:
    """The rule on the granular type also names org.update_settings, and its fixtures hold both."""
    (rule,) = [name for name in PLAIN if granular in event_types_of(name)]
    assert "org.update_settings" in event_types_of(rule)
    (positives,) = [positives for name, positives, _ in CASES if name == rule]
    assert {spec.type for spec in positives} == {granular, "org.update_settings"}


def test_rules_that_read_data_say_which_shape_they_assume() -> None:
    for name in PLAIN:
        if any(item.field and item.field.startswith("tags.data") for item in rule_items(name)):
            assert "shape" in (pack_rule(name).rule.description or ""), name


# --- the committed outputs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conversions():
    with offline_attack_data():
        return convert_pack(load_pack())


def test_committed_outputs_are_what_the_converter_produces(conversions) -> None:
    assert differing_files(rendered_files(conversions), DETECTIONS_DIR) == []


def test_check_fails_when_a_committed_file_differs(conversions, tmp_path: Path) -> None:
    out = tmp_path / "detections"
    shutil.copytree(DETECTIONS_DIR, out)
    changed = out / "clickhouse" / "org-deleted.sql"
    changed.write_text(changed.read_text() + "-- edited\n")
    (out / "clickhouse" / "old-rule.sql").write_text("SELECT 1\n")
    assert rules_main(["check", "--out", str(out)]) == 1
    assert set(differing_files(rendered_files(conversions), out)) == {"clickhouse/org-deleted.sql", "clickhouse/old-rule.sql"}


def test_conversion_works_with_the_network_unreachable(offline: None) -> None:
    with offline_attack_data():
        result = convert_pack(load_pack())
    files = rendered_files(result)
    assert differing_files(files, DETECTIONS_DIR) == []
    kibana = [json.loads(line) for line in files["elasticsearch/kibana-detection-rules.ndjson"].splitlines()]
    tactics = {threat["tactic"]["name"] for rule in kibana for threat in rule["threat"]}
    assert {"Defense Evasion", "Persistence", "Impact"} <= tactics, "ATT&CK records were looked up offline"


def test_without_the_shipped_records_the_attack_lookup_needs_the_network(offline: None, tmp_path: Path) -> None:
    """The offline check above bites: pySigma's default source is a download."""
    mitre_attack.set_cache_dir(str(tmp_path))
    mitre_attack.set_url(mitre_attack.MITRE_ATTACK_ENTERPRISE_URL)
    try:
        with pytest.raises(RuntimeError, match="Failed to load MITRE ATT&CK data"):
            mitre_attack.mitre_attack_tactics  # noqa: B018 - the lookup is the test
    finally:
        mitre_attack.set_url(str(ATTACK_FILE))  # later lookups in this process read the shipped records


def test_a_broken_rule_file_is_reported_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "burst.yml").write_text(
        "title: Burst\nid: 7d1f7d1e-9a43-4f7e-8f0c-2a1b3c4d5e6f\nname: burst\nlevel: low\n"
        "correlation: {type: event_count, rules: [missing-rule], group-by: [authorUser], timespan: 1h, condition: {gte: 3}}\n"
    )
    assert rules_main(["--rules", str(rules), "list"]) == 1
    assert "burst.yml" in capsys.readouterr().err


def test_every_rule_converts_on_every_target_or_is_listed_with_its_reason(conversions) -> None:
    for target, results in conversions.by_target.items():
        assert {c.rule.name for c in results} == {entry.name for entry in ALERTS}, target
        for c in results:
            assert (c.output is not None) != bool(c.reason), (target, c.rule.name)
    listed = {(item["target"], item["rule"]) for item in json.loads((DETECTIONS_DIR / "unsupported.json").read_text())}
    missing = {(target, c.rule.name) for target, results in conversions.by_target.items() for c in results if not c.converted}
    assert listed == missing and all(item["reason"] for item in conversions.unsupported())


def test_a_rule_on_a_field_outside_the_record_is_listed_not_converted(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad-field.yml").write_text(
        "title: Unknown field\nid: 5f0c8e52-3c2f-4f55-9d8a-0b8f2a1a7c11\nname: bad-field\nlevel: low\n"
        "description: selects on userName, which the record does not have\nfalsepositives: [none]\n"
        "logsource: {product: huggingface, service: audit}\ndetection: {selection: {userName: eve}, condition: selection}\n"
    )
    with offline_attack_data():
        result = convert_pack(load_pack(rules))
    reasons = {item["target"]: item["reason"] for item in result.unsupported()}
    assert set(reasons) == set(result.by_target) and all("not a column" in reason for reason in reasons.values())


# --- what the sinks load -----------------------------------------------------------------------------


def output_default(path: Path, variable: str) -> str:
    match = re.search(r"\$\{" + variable + r":-([^}]*)\}", path.read_text())
    assert match, f"{variable} not in {path}"
    return match.group(1)


ES_INDEX_PATTERN = output_default(REPO / "fluent-bit" / "outputs" / "elasticsearch.yaml", "HF_AUDIT_ES_INDEX_PREFIX") + "-*"


@pytest.mark.parametrize("line", (DETECTIONS_DIR / "elasticsearch" / "kibana-detection-rules.ndjson").read_text().splitlines(), ids=lambda line: line[8:44])
def test_kibana_ndjson_line_is_a_rule_with_id_query_and_our_index(line: str) -> None:
    rule = json.loads(line)
    entry = [e for e in ALERTS if str(e.rule.id) == rule["rule_id"]]
    assert entry and rule["id"] == rule["rule_id"] and rule["query"]
    if rule["language"] == "lucene":
        assert rule["type"] == "query" and rule["index"] == [ES_INDEX_PATTERN]
    else:
        assert rule["type"] == "esql" and rule["query"].startswith(f"from {ES_INDEX_PATTERN} ")


def test_kibana_ndjson_has_every_alerting_rule() -> None:
    assert {rule["rule_id"] for rule in shipped_ndjson("elasticsearch/kibana-detection-rules.ndjson")} == {str(e.rule.id) for e in ALERTS}


LOKI_OUTPUT = REPO / "fluent-bit" / "outputs" / "loki.yaml"


def loki_stream_labels() -> dict[str, str]:
    (output,) = yaml.safe_load(LOKI_OUTPUT.read_text())["pipeline"]["outputs"]
    return dict(pair.strip().split("=", 1) for pair in output["labels"].split(","))


def test_loki_ruler_file_has_what_the_ruler_requires() -> None:
    document = yaml.safe_load((DETECTIONS_DIR / "loki" / "hf-audit-rules.yaml").read_text())
    (group,) = document["groups"]
    assert group["name"] and group["rules"]
    job = loki_stream_labels()["job"]
    for rule in group["rules"]:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"]) and rule["expr"]
        assert f'{{job="{job}"}} | json |' in rule["expr"] and "logfmt" not in rule["expr"]
        assert rule["labels"]["severity"] and rule["annotations"]["summary"]
    loki_names = {rule["labels"]["sigma_rule"] for rule in group["rules"]}
    listed = {item["rule"] for item in json.loads((DETECTIONS_DIR / "unsupported.json").read_text()) if item["target"] == "loki"}
    assert loki_names | listed == {e.name for e in ALERTS} and not loki_names & listed


def test_loki_queries_read_labels_for_what_the_output_puts_in_labels() -> None:
    """tags.org, tags.scope and sourceType are stream labels, not keys of the line."""
    labels = loki_stream_labels()
    assert labels["org"] == "$tags['org']" and labels["scope"] == "$tags['scope']" and labels["source_type"] == "$sourceType"
    ruler = (DETECTIONS_DIR / "loki" / "hf-audit-rules.yaml").read_text()
    assert not re.search(r"\b(tags_org|tags_scope|sourceType)\b", ruler)


# --- README and packaging ----------------------------------------------------------------------------


def test_readme_rules_table_is_generated_from_the_pack(conversions) -> None:
    assert table_in((REPO / "README.md").read_text()) == rules_table(conversions)


def test_wheel_carries_the_rules_and_attack_records(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    shipped = {f"hf_audit/detections/rules/{entry.path.name}" for entry in pack()}
    assert shipped <= set(names) and f"hf_audit/detections/attack/{ATTACK_FILE.name}" in names
    assert any(line.startswith("hf-audit-rules") for line in zipfile.ZipFile(next(tmp_path.glob("*.whl"))).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode().splitlines())


def test_loki_pipeline_reads_stream_labels_and_json_labels() -> None:
    """tags.scope is the `scope` stream label; a tags key is the label `| json` makes of it."""
    from sigma.backends.loki import LogQLBackend
    from sigma.collection import SigmaCollection

    from hf_audit.detections.pipelines import loki_pipeline

    rule = (
        "title: labels\nid: 3c9e7a52-1b2d-4c3e-9f4a-5b6c7d8e9f01\nlevel: low\n"
        "logsource: {product: huggingface, service: audit}\n"
        "detection:\n  selection:\n    tags.scope: repo\n    tags.org: acme\n    tags.data.changes.private: 'false'\n"
        "    actor.user: eve\n  condition: selection\n"
    )
    (query,) = LogQLBackend(loki_pipeline()).convert(SigmaCollection.from_yaml(rule))
    assert query.startswith('{job="hf-audit"} | json |')
    for label in ("scope=~", "org=~", "tags_data_changes_private=~", "actor_user=~"):
        assert label in query
    assert "tags_scope" not in query and "tags_org" not in query
