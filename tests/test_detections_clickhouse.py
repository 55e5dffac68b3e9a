"""The shipped ClickHouse detections on the real engine (chdb): the fixtures' records go into the shipped
table the way Fluent Bit's http output sends them (twice, as a retry would: the queries read FINAL),
and every shipped .sql, run as is in that database, returns exactly its rule's events (a correlation:
exactly the groups that cross its threshold, with their counts)."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from chdb_http_endpoint import ChdbHttpEndpoint, create_table
from clickhouse_shipped import DDL_FILE, STRICT_SERVER, post_like_fluent_bit, shipped_uri
from detections_engine import bursts, clickhouse_files, expected_groups, expected_ids, pack, pack_rule, singles
from detections_fixtures import Fixture

USER = "hf_audit_writer"
PASSWORD = secrets.token_urlsafe(16)
_names = itertools.count()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbHttpEndpoint]:
    with ChdbHttpEndpoint(tmp_path_factory.mktemp("chdb") / "data", user=USER, password=PASSWORD, server_settings=STRICT_SERVER) as running:
        yield running


def _loaded(endpoint: ChdbHttpEndpoint, fixtures: tuple[Fixture, ...]) -> str:
    database = f"detections_{next(_names)}"
    create_table(endpoint, DDL_FILE, database)
    lines = [orjson.dumps(fixture.record) for fixture in fixtures]
    for chunk in (lines, lines[::-1]):  # a re-delivery: same events again, another chunk
        response = post_like_fluent_bit(endpoint, shipped_uri(database), chunk, (USER, PASSWORD))
        assert response.status_code == 200, response.text
    return database


@pytest.fixture(scope="module")
def single_db(endpoint: ChdbHttpEndpoint) -> str:
    return _loaded(endpoint, singles())


@pytest.fixture(scope="module")
def burst_db(endpoint: ChdbHttpEndpoint) -> str:
    return _loaded(endpoint, bursts())


def run(endpoint: ChdbHttpEndpoint, database: str, sql_file: Path) -> list[dict]:
    """The file's text as a user runs it (`clickhouse-client --database <db> < file.sql`)."""
    output = endpoint.query_in(database, sql_file.read_text(encoding="utf-8") + "FORMAT JSONEachRow")
    return [json.loads(line) for line in output.splitlines()]


PLAIN = [path for path in clickhouse_files() if not pack_rule(path.stem).is_correlation]
CORRELATIONS = [path for path in clickhouse_files() if pack_rule(path.stem).is_correlation]


def test_every_alerting_rule_has_a_clickhouse_file() -> None:
    assert {path.stem for path in clickhouse_files()} == {entry.name for entry in pack() if not entry.building_block}


def test_the_table_holds_each_fixture_event_once_read_final(endpoint: ChdbHttpEndpoint, single_db: str) -> None:
    stored = endpoint.query_in(single_db, "SELECT count() FROM huggingface_logs FINAL")
    assert int(stored) == len(singles())


@pytest.mark.parametrize("sql_file", PLAIN, ids=lambda path: path.stem)
def test_rule_returns_exactly_its_positive_events(endpoint: ChdbHttpEndpoint, single_db: str, sql_file: Path) -> None:
    rows = run(endpoint, single_db, sql_file)
    returned = [row["eventID"] for row in rows]
    assert len(returned) == len(set(returned)), "an event returned twice"
    expected = expected_ids(sql_file.stem)
    assert expected, "the rule has no positive fixture"
    assert set(returned) == expected


@pytest.mark.parametrize("sql_file", CORRELATIONS, ids=lambda path: path.stem)
def test_correlation_returns_exactly_the_groups_that_cross(endpoint: ChdbHttpEndpoint, burst_db: str, sql_file: Path) -> None:
    rows = run(endpoint, burst_db, sql_file)
    counts = {row["authorUser"]: int(row.get("eventCount", row.get("valueCount"))) for row in rows}
    assert counts == expected_groups(sql_file.stem)
    assert all(row["firstCrossedAt"] for row in rows)


@pytest.mark.parametrize("sql_file", CORRELATIONS, ids=lambda path: path.stem)
def test_correlation_stays_quiet_on_events_spread_out(endpoint: ChdbHttpEndpoint, single_db: str, sql_file: Path) -> None:
    assert run(endpoint, single_db, sql_file) == []


def test_first_line_names_id_level_and_title() -> None:
    for path in clickhouse_files():
        entry = pack_rule(path.stem)
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == f"-- {entry.rule.id} {entry.level} {entry.rule.title}"


def test_each_file_is_one_select_on_the_table_without_a_database() -> None:
    for path in clickhouse_files():
        statement = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
        assert statement.lstrip().startswith("SELECT")
        assert ";" not in statement
        assert "FROM huggingface_logs FINAL" in statement and ".huggingface_logs" not in statement
