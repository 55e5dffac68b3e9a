"""The shipped ClickHouse table and http-output query, on the real ClickHouse engine (chdb).

Every insert goes the way Fluent Bit's http output sends it: the shipped uri (URL-decoded by the
server), a gzip json_lines body, basic auth. A rejected insert would be a lost chunk in production
(the output does not retry a 4xx), so each test that inserts plugin output asserts a 200. The
server's own defaults are strict (STRICT_SERVER): what makes the records fit is the shipped query.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chdb_http_endpoint import ChdbHttpEndpoint, create_table
from clickhouse_shipped import (
    DDL_FILE,
    STRICT_SERVER,
    TABLE,
    count,
    mismatched_columns,
    post_like_fluent_bit,
    shipped_query,
    shipped_uri,
    stored_rows,
)
from conftest import spec_column_types
from hf_audit.events import parse_event
from hf_audit.line import to_line
from hf_audit.normalize import COLUMNS, RecordContext, normalize
from records import simulated_export_lines
from strategies import hub_events

USER = "hf_audit_writer"
PASSWORD = secrets.token_urlsafe(16)
AUTH = (USER, PASSWORD)
_database_numbers = itertools.count()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbHttpEndpoint]:
    with ChdbHttpEndpoint(tmp_path_factory.mktemp("chdb") / "data", user=USER, password=PASSWORD, server_settings=STRICT_SERVER) as running:
        yield running


@pytest.fixture
def database(endpoint: ChdbHttpEndpoint) -> str:
    """A fresh database holding the table, created from the shipped DDL file."""
    name = f"hf_audit_{next(_database_numbers)}"
    create_table(endpoint, DDL_FILE, name)
    return name


@pytest.fixture(scope="module")
def export_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A full simulated export (every event type, edge cases) exactly as hf-audit-poll printed it."""
    return simulated_export_lines(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def export_records(export_lines: list[bytes]) -> list[dict]:
    return [orjson.loads(line) for line in export_lines]


def insert(endpoint: ChdbHttpEndpoint, database: str, lines: list[bytes]) -> None:
    response = post_like_fluent_bit(endpoint, shipped_uri(database), lines, AUTH)
    assert response.status_code == 200, response.text


def test_table_has_the_51_record_columns_in_order(endpoint: ChdbHttpEndpoint, database: str) -> None:
    names = endpoint.query(f"SELECT name FROM system.columns WHERE database = '{database}' AND table = '{TABLE}' ORDER BY position")
    assert names.decode().split() == list(COLUMNS)


def test_column_types_are_the_spec_types(endpoint: ChdbHttpEndpoint, database: str) -> None:
    rows = spec_column_types()
    sql = f"SELECT name, type FROM system.columns WHERE database = '{database}' AND table = '{TABLE}' ORDER BY position"
    stored = [line.split("\t", 1) for line in endpoint.query(sql, "TabSeparatedRaw").decode().splitlines()]

    def spec_type(clickhouse_type: str) -> str:
        # LowCardinality and the time zone change storage and display, not the values.
        return clickhouse_type.replace("LowCardinality(String)", "String").replace("DateTime('UTC')", "DateTime")

    assert [(name, spec_type(kind)) for name, kind in stored] == [(name, kind) for name, kind in rows]


def test_table_folds_events_by_id_partitions_by_month_and_expires_by_source_ttl(endpoint: ChdbHttpEndpoint, database: str) -> None:
    ddl = endpoint.query(f"SHOW CREATE TABLE {database}.{TABLE}", "TabSeparatedRaw").decode()
    assert "ENGINE = ReplacingMergeTree(receivedAt)" in ddl
    assert "PARTITION BY toYYYYMM(eventTime)" in ddl
    assert "ORDER BY (sourceID, eventTime, id)" in ddl
    assert "TTL toDateTime(" in ddl and "sourceTTL" in ddl.split("TTL", 1)[1]


def test_full_export_is_accepted_whole(endpoint: ChdbHttpEndpoint, database: str, export_lines: list[bytes]) -> None:
    response = post_like_fluent_bit(endpoint, shipped_uri(database), export_lines, AUTH)

    assert response.status_code == 200, response.text
    assert json.loads(response.headers["X-ClickHouse-Summary"])["written_rows"] == str(len(export_lines))
    assert count(endpoint, database) == len(export_lines) > 2000


def test_export_covers_every_event_type_and_the_edge_cases(export_records: list[dict]) -> None:
    # What the other tests insert: the shape sinks trip on must really be in it.
    assert len({record["eventName"] for record in export_records}) >= 117  # 116 known types + unknown
    assert any(record["tags"].get("truncated") == "true" for record in export_records)
    assert any(record["srcIP"] == "" for record in export_records)
    assert any(":" in record["srcIP"] for record in export_records)
    assert max(len(line) for line in map(orjson.dumps, export_records)) > 60_000


def test_every_column_of_every_row_round_trips(
    endpoint: ChdbHttpEndpoint, database: str, export_records: list[dict], export_lines: list[bytes]
) -> None:
    insert(endpoint, database, export_lines)

    rows = {row["id"]: row for row in stored_rows(endpoint, database)}
    assert rows.keys() == {record["id"] for record in export_records}
    differences = {record["id"]: mismatched_columns(rows[record["id"]], record) for record in export_records}
    assert {key: str(value)[:300] for key, value in differences.items() if value} == {}


def test_times_are_stored_as_utc_seconds_of_the_record_time(endpoint: ChdbHttpEndpoint, database: str, export_records: list[dict]) -> None:
    record = dict(export_records[0], eventTime="2026-11-25T17:03:34.999Z", receivedAt="2026-11-25T18:00:00.001Z")
    insert(endpoint, database, [orjson.dumps(record)])

    (row,) = stored_rows(endpoint, database)
    assert (row["eventTime"], row["receivedAt"]) == ("2026-11-25 17:03:34", "2026-11-25 18:00:00")
    epoch = endpoint.query(f"SELECT toUnixTimestamp(eventTime) FROM {database}.{TABLE}")
    assert int(epoch) == int(datetime(2026, 11, 25, 17, 3, 34, tzinfo=UTC).timestamp())


def test_a_redelivered_chunk_leaves_one_row_per_event(endpoint: ChdbHttpEndpoint, database: str, export_lines: list[bytes]) -> None:
    insert(endpoint, database, export_lines)
    insert(endpoint, database, export_lines)  # a Fluent Bit retry after a lost answer

    assert count(endpoint, database) == count(endpoint, database, "uniqExact(id)") == len(export_lines)


def test_an_identical_retry_is_dropped_on_arrival(endpoint: ChdbHttpEndpoint, database: str, export_lines: list[bytes]) -> None:
    insert(endpoint, database, export_lines)
    insert(endpoint, database, export_lines)

    assert count(endpoint, database, final=False) == len(export_lines)  # no duplicate even before a merge


def test_re_polled_events_fold_into_the_latest_copy(endpoint: ChdbHttpEndpoint, database: str, export_records: list[dict]) -> None:
    first = export_records[:500]
    again = [dict(record, receivedAt="2026-12-31T00:00:00.000Z") for record in first]  # a re-poll after lost state
    insert(endpoint, database, [orjson.dumps(record) for record in first])
    insert(endpoint, database, [orjson.dumps(record) for record in again])

    assert count(endpoint, database, final=False) == 1000  # both copies until parts merge
    assert count(endpoint, database) == 500
    assert {row["receivedAt"] for row in stored_rows(endpoint, database)} == {"2026-12-31 00:00:00"}
    endpoint.query(f"OPTIMIZE TABLE {database}.{TABLE} FINAL")
    assert count(endpoint, database, final=False) == 500


def test_a_record_missing_columns_is_stored_with_defaults(endpoint: ChdbHttpEndpoint, database: str, export_records: list[dict]) -> None:
    record = export_records[0]
    partial = {column: record[column] for column in ("id", "eventTime", "receivedAt", "sourceID", "eventName", "sourceTTL")}
    insert(endpoint, database, [orjson.dumps(partial)])

    (row,) = stored_rows(endpoint, database)
    assert mismatched_columns(row, partial) == {}
    assert (row["message"], row["tags"], row["resources"], row["readOnly"]) == ("", {}, [], False)


def test_unknown_fields_are_skipped(endpoint: ChdbHttpEndpoint, database: str, export_records: list[dict]) -> None:
    record = export_records[0]
    extended = dict(record, date=1764090214.123, hostname="collector-1", future={"nested": [1, {"a": None}]})
    insert(endpoint, database, [orjson.dumps(extended)])

    (row,) = stored_rows(endpoint, database)
    assert mismatched_columns(row, record) == {}


def test_nulls_become_column_defaults(endpoint: ChdbHttpEndpoint, database: str, export_records: list[dict]) -> None:
    record = dict(export_records[0], message=None, srcASNumber=None, tags=None)
    insert(endpoint, database, [orjson.dumps(record)])

    (row,) = stored_rows(endpoint, database)
    assert (row["message"], row["srcASNumber"], row["tags"]) == ("", 0, {})


def test_rows_expire_source_ttl_days_after_the_event_and_zero_keeps_them(
    endpoint: ChdbHttpEndpoint, database: str, export_records: list[dict]
) -> None:
    old = (datetime.now(UTC) - timedelta(days=400)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    base = export_records[0]
    cases = {
        "expired": dict(base, id="expired", eventTime=old, sourceTTL=30),
        "kept-forever": dict(base, id="kept-forever", eventTime=old, sourceTTL=0),
        "kept-longest": dict(base, id="kept-longest", eventTime=old, sourceTTL=2**32 - 1),
        "kept-recent": dict(base, id="kept-recent", sourceTTL=30),
    }
    insert(endpoint, database, [orjson.dumps(record) for record in cases.values()])

    endpoint.query(f"OPTIMIZE TABLE {database}.{TABLE} FINAL")  # TTL deletes rows when parts merge
    assert {row["id"] for row in stored_rows(endpoint, database)} == {"kept-forever", "kept-longest", "kept-recent"}


def test_inserting_the_decoded_query_directly_gives_the_same_rows(
    endpoint: ChdbHttpEndpoint, database: str, export_lines: list[bytes], tmp_path: Path
) -> None:
    # The same statement without HTTP: the shipped query, not the endpoint, is what makes it work.
    data = tmp_path / "chunk.ndjson"
    data.write_bytes(b"".join(export_lines))
    query, url_settings = shipped_query(database)
    setting_sql = ", ".join(f"{name} = '{value}'" for name, value in url_settings.items())
    endpoint.query(query.replace(" FORMAT ", f" FROM INFILE '{data}' SETTINGS {setting_sql} FORMAT ", 1))

    assert count(endpoint, database) == len(export_lines)


# sourceTTL 0 (keep forever): generated events go back to 2000, and expired rows may be merged
# away as soon as they are inserted.
_CTX = RecordContext(
    org="acme", workspace_id="default", source_id="huggingface-acme", source_ttl_days=0,
    received_at=datetime(2026, 11, 25, 17, 0, tzinfo=UTC),
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=st.lists(hub_events, min_size=1, max_size=30, unique_by=lambda event: event["_id"]))
def test_any_record_the_plugin_can_print_is_accepted_and_round_trips(endpoint: ChdbHttpEndpoint, events: list[dict]) -> None:
    database = f"hf_audit_{next(_database_numbers)}"  # a fresh table: TRUNCATE keeps the insert-dedup log
    create_table(endpoint, DDL_FILE, database)
    records = [normalize(parse_event(event), event, _CTX) for event in events]
    lines = [to_line(record, 65535) for record in records]
    insert(endpoint, database, lines)

    rows = {row["id"]: row for row in stored_rows(endpoint, database)}
    for line in lines:
        printed = orjson.loads(line)
        assert mismatched_columns(rows[printed["id"]], printed) == {}


def test_wrong_password_is_refused_with_a_status_fluent_bit_does_not_retry(
    endpoint: ChdbHttpEndpoint, database: str, export_lines: list[bytes]
) -> None:
    response = post_like_fluent_bit(endpoint, shipped_uri(database), export_lines[:1], (USER, "wrong"))

    assert response.status_code == 403
    assert "AUTHENTICATION_FAILED" in response.text
    assert count(endpoint, database) == 0


def test_a_missing_table_is_refused_with_a_status_fluent_bit_does_not_retry(endpoint: ChdbHttpEndpoint, export_lines: list[bytes]) -> None:
    response = post_like_fluent_bit(endpoint, shipped_uri("no_such_database"), export_lines[:1], AUTH)

    assert response.status_code == 404
    assert "UNKNOWN_DATABASE" in response.text


def test_rows_the_table_cannot_take_are_refused_whole_with_clickhouses_reason(
    endpoint: ChdbHttpEndpoint, database: str, export_records: list[dict]
) -> None:
    good, bad = export_records[0], dict(export_records[1], sourceTTL="a year")
    response = post_like_fluent_bit(endpoint, shipped_uri(database), [orjson.dumps(good), orjson.dumps(bad)], AUTH)

    assert response.status_code == 400
    assert response.headers["X-ClickHouse-Exception-Code"] and "sourceTTL" in response.text
    assert count(endpoint, database) == 0
