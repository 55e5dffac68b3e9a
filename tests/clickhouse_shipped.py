"""The shipped ClickHouse assets as the tests use them, and what a record looks like once stored."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from chdb_http_endpoint import ChdbHttpEndpoint
from fluentbit_configs import Section, expand, get, load

REPO = Path(__file__).resolve().parents[1]
DDL_FILE = REPO / "fluent-bit" / "clickhouse" / "huggingface_logs.sql"
OUTPUT_YAML = REPO / "fluent-bit" / "outputs" / "clickhouse.yaml"
TABLE = "huggingface_logs"
TIME_COLUMNS = ("eventTime", "receivedAt")
# Server defaults that accept none of the plugin's records unless the query's own settings say how:
# older servers' date parsing, and a profile that refuses unknown keys and nulls. The shipped
# output must work against it, not only against a lenient ClickHouse 26.
STRICT_SERVER = {
    "date_time_input_format": "basic",
    "input_format_skip_unknown_fields": "0",
    "input_format_defaults_for_omitted_fields": "0",
    "input_format_null_as_default": "0",
}


def shipped_output() -> Section:
    (output,) = load(OUTPUT_YAML).outputs
    return output


def shipped_uri(database: str) -> str:
    """The output's uri as Fluent Bit sends it, for a given CLICKHOUSE_DATABASE."""
    return expand(get(shipped_output(), "uri") or "", {"CLICKHOUSE_DATABASE": database})


def shipped_query(database: str) -> tuple[str, dict[str, str]]:
    """The decoded INSERT statement of the shipped uri and the settings sent beside it."""
    params = dict(parse_qsl(urlsplit(shipped_uri(database)).query, keep_blank_values=True))
    return params.pop("query"), params


def post_like_fluent_bit(endpoint: ChdbHttpEndpoint, uri: str, lines: Iterable[bytes], auth: tuple[str, str]) -> requests.Response:
    """One flush of the http output: json_lines body, gzip (`compress gzip`), basic auth."""
    body = b"".join(line.rstrip(b"\n") + b"\n" for line in lines)
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip", "User-Agent": "Fluent-Bit"}
    return requests.post(endpoint.url + uri, data=gzip.compress(body), headers=headers, auth=auth, timeout=60)


def stored_rows(endpoint: ChdbHttpEndpoint, database: str, *, final: bool = True) -> list[dict[str, Any]]:
    """Every row of the table as ClickHouse returns it in JSONEachRow."""
    sql = f"SELECT * FROM {database}.{TABLE} {'FINAL' if final else ''} ORDER BY id"
    output = endpoint.query(sql, "JSONEachRow")
    return [json.loads(line) for line in output.splitlines()]


def count(endpoint: ChdbHttpEndpoint, database: str, expression: str = "count()", *, final: bool = True) -> int:
    sql = f"SELECT {expression} FROM {database}.{TABLE} {'FINAL' if final else ''}"
    return int(endpoint.query(sql).strip())


def as_stored(record: Mapping[str, Any]) -> dict[str, Any]:
    """The row ClickHouse should return for a record: times in whole seconds, the rest unchanged."""
    row = dict(record)
    for column in TIME_COLUMNS:
        moment = datetime.fromisoformat(str(record[column]).replace("Z", "+00:00"))
        row[column] = moment.strftime("%Y-%m-%d %H:%M:%S")
    return row


def mismatched_columns(row: Mapping[str, Any], record: Mapping[str, Any], *, ignore: Iterable[str] = ()) -> dict[str, tuple[Any, Any]]:
    """Columns whose stored value differs from the record's: {column: (stored, expected)}."""
    expected = as_stored(record)
    skipped = set(ignore)
    return {
        column: (row.get(column), value)
        for column, value in expected.items()
        if column not in skipped and row.get(column) != value
    }
