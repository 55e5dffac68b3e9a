"""hf-audit's ClickHouse dialect beyond what the pack uses, on the real engine (chdb): wildcards with
literal `_` and `%`, quotes in values, the resources array, regular expressions, CIDR. Each rule is
converted and run on records the plugin normalized, in the shipped table."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sigma.collection import SigmaCollection

from chdb_http_endpoint import ChdbHttpEndpoint, create_table
from clickhouse_shipped import DDL_FILE, STRICT_SERVER, post_like_fluent_bit, shipped_uri
from detections_fixtures import Spec, hub_event, record_of
from hf_audit.detections.clickhouse import ClickHouseBackend
from hf_audit.detections.pipelines import clickhouse_pipeline

USER, PASSWORD = "hf_audit_writer", secrets.token_urlsafe(16)
START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)

# name -> (type, data): the events the dialect rules run on
EVENTS = {
    "secret-hf-token": ("repo.add_secret", {"repo": {"name": "acme/chat", "type": "space"}, "key": "HF_TOKEN"}),
    "secret-hfxtoken": ("repo.add_secret", {"repo": {"name": "acme/chat", "type": "space"}, "key": "HFXTOKEN"}),
    "model-evals": ("repo.create", {"repo": {"name": "acme/llm-evals", "type": "model"}}),
    "dataset-quote": ("repo.create", {"repo": {"name": "acme/it's-data", "type": "dataset"}}),
    "percent": ("repo.add_variable", {"repo": {"name": "acme/chat", "type": "space"}, "key": "RATE_100%"}),
}


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChdbHttpEndpoint, str, dict[str, str]]]:
    received = datetime.now(UTC)
    records = {name: record_of(hub_event(Spec(type_, data), START + timedelta(hours=i), 500 + i), received) for i, (name, (type_, data)) in enumerate(EVENTS.items())}
    with ChdbHttpEndpoint(tmp_path_factory.mktemp("chdb") / "data", user=USER, password=PASSWORD, server_settings=STRICT_SERVER) as endpoint:
        create_table(endpoint, DDL_FILE, "dialect")
        response = post_like_fluent_bit(endpoint, shipped_uri("dialect"), [orjson.dumps(r) for r in records.values()], (USER, PASSWORD))
        assert response.status_code == 200, response.text
        yield endpoint, "dialect", {record["eventID"]: name for name, record in records.items()}


def matches(database: tuple[ChdbHttpEndpoint, str, dict[str, str]], selection: str) -> set[str]:
    endpoint, name, names = database
    rule = (
        "title: dialect\nid: 0d8c4d43-5d0e-4f0b-9d2c-4a57f1f0b6a1\nlevel: low\n"
        "logsource: {product: huggingface, service: audit}\n"
        f"detection:\n  selection:\n{selection}\n  condition: selection\n"
    )
    (sql,) = ClickHouseBackend(clickhouse_pipeline()).convert(SigmaCollection.from_yaml(rule))
    output = endpoint.query_in(name, sql + "FORMAT JSONEachRow")
    return {names[json.loads(line)["eventID"]] for line in output.splitlines()}


def test_a_literal_underscore_in_a_wildcard_value_is_not_a_wildcard(database) -> None:
    assert matches(database, "    tags.data.key|endswith: '_TOKEN'") == {"secret-hf-token"}


def test_a_literal_percent_in_a_wildcard_value_is_not_a_wildcard(database) -> None:
    assert matches(database, "    tags.data.key|endswith: '0%'") == {"percent"}


def test_a_quote_in_a_value_is_escaped(database) -> None:
    assert matches(database, "    resources: \"dataset:acme/it's-data\"") == {"dataset-quote"}
    assert matches(database, "    tags.data.repo.name|contains: \"it's\"") == {"dataset-quote"}


def test_a_value_on_the_resources_array_matches_an_element(database) -> None:
    assert matches(database, "    resources: 'model:acme/llm-evals'") == {"model-evals"}
    assert matches(database, "    resources|startswith: 'space:'") == {"secret-hf-token", "secret-hfxtoken", "percent"}


def test_wildcards_are_case_insensitive_and_plain_values_exact(database) -> None:
    assert matches(database, "    eventName|startswith: 'REPO.ADD_'") == {"secret-hf-token", "secret-hfxtoken", "percent"}
    assert matches(database, "    eventName: 'REPO.CREATE'") == set()


def test_regular_expression_and_cidr(database) -> None:
    assert matches(database, "    tags.data.key|re: '^HF.TOKEN$'") == {"secret-hf-token", "secret-hfxtoken"}
    # the events come from 198.51.100.1 to .5, in EVENTS order
    assert matches(database, "    srcIP|cidr: '198.51.100.0/30'") == {"secret-hf-token", "secret-hfxtoken", "model-evals"}


def test_hf_audit_rules_without_the_extra_says_what_to_install() -> None:
    code = "import sys; sys.modules['sigma'] = None; from hf_audit.detections.cli import main; raise SystemExit(main(['list']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "pip install 'hf-audit[rules]'" in result.stderr
