"""End to end: the shipped pipeline in a real Fluent Bit, from the simulated Hub into ClickHouse (chdb).

Fluent Bit runs the shipped service, parser and exec input (from fluent-bit.yaml) with the shipped
ClickHouse output as the only output; its http output posts to a loopback ClickHouse-HTTP endpoint
backed by the real engine. One run serves the tests below: a full export, then newer events picked
up by a later poll, then more polls that find nothing new.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import yaml

from chdb_http_endpoint import ChdbHttpEndpoint, create_table
from clickhouse_shipped import DDL_FILE, OUTPUT_YAML, STRICT_SERVER, count, mismatched_columns, stored_rows
from conftest import ORG, REPO, TOKEN, poller_env, run_like_fluent_bit
from fluentbit_harness import FluentBit, fluent_bit_binary
from hf_audit.normalize import COLUMNS, record_id
from hf_audit.simhub.server import SimulatedHub
from records import simulated_export_events

MAIN_CONFIG = REPO / "fluent-bit" / "fluent-bit.yaml"
DATABASE = "hf_audit_e2e"
NEWER_EVENTS = 25


def pipeline_config(directory: Path) -> Path:
    """The shipped main config with the ClickHouse output as its only output."""
    main = yaml.safe_load(MAIN_CONFIG.read_text())
    kept = [REPO / "fluent-bit" / name for name in main.get("includes", []) if not str(name).startswith("outputs/")]
    main["includes"] = [str(path) for path in kept] + [str(OUTPUT_YAML)]
    main.get("pipeline", {}).pop("outputs", None)
    path = directory / "fluent-bit.yaml"
    path.write_text(yaml.safe_dump(main, sort_keys=False))
    return path


@dataclass
class Delivery:
    endpoint: ChdbHttpEndpoint
    hub_events: list[dict]
    printed: list[dict]  # what hf-audit-poll prints for the same events, run on its own
    log: str


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivery]:
    fluent_bit_binary()
    work = tmp_path_factory.mktemp("fluentbit-clickhouse")
    user, password = "hf_audit_writer", secrets.token_urlsafe(16)
    with (
        ChdbHttpEndpoint(work / "chdb", user=user, password=password, keep_bodies=True, server_settings=STRICT_SERVER) as endpoint,
        SimulatedHub(org=ORG, token=TOKEN, events=simulated_export_events()) as hub,
    ):
        create_table(endpoint, DDL_FILE, DATABASE)
        env = poller_env(hub.url, work / "state", work) | {
            "HF_AUDIT_INTERVAL_SEC": "1",
            "HF_AUDIT_FLB_STORAGE_PATH": str(work / "flb-storage"),
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_PORT": str(endpoint.port),
            "CLICKHOUSE_TLS": "off",
            "CLICKHOUSE_DATABASE": DATABASE,
            "CLICKHOUSE_USER": user,
            "CLICKHOUSE_PASSWORD": password,
        }
        with FluentBit(pipeline_config(work), env, work / "fluent-bit.log") as fluent_bit:

            def all_stored() -> bool:
                return count(endpoint, DATABASE) == len(hub.events)

            fluent_bit.wait_for(all_stored, "the full export")
            hub.generate_newer(NEWER_EVENTS)
            fluent_bit.wait_for(all_stored, "the newer events")
            polls = len(hub.requests_seen)
            fluent_bit.wait_for(lambda: len(hub.requests_seen) >= polls + 2, "two more polls")
        fresh = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, work / "fresh-state", work))
        assert fresh.returncode == 0, fresh.stderr
        yield Delivery(endpoint, hub.events, fresh.records, fluent_bit.log_text())


def test_every_event_arrives_exactly_once(delivery: Delivery) -> None:
    expected = {record_id(ORG, event["_id"]) for event in delivery.hub_events}
    rows = stored_rows(delivery.endpoint, DATABASE, final=False)  # no FINAL: not even a duplicate waiting for a merge

    assert len(rows) == len(expected) == 2006 + NEWER_EVENTS
    assert {row["id"] for row in rows} == expected


def test_every_column_arrives_as_the_plugin_printed_it(delivery: Delivery) -> None:
    rows = {row["id"]: row for row in stored_rows(delivery.endpoint, DATABASE)}
    # receivedAt is the time of the poll, which differs between Fluent Bit's run and this one.
    differences = {record["id"]: mismatched_columns(rows[record["id"]], record, ignore=["receivedAt"]) for record in delivery.printed}
    assert {key: str(value)[:300] for key, value in differences.items() if value} == {}


def test_no_insert_was_refused(delivery: Delivery) -> None:
    assert delivery.endpoint.statuses, "Fluent Bit never posted"
    assert set(delivery.endpoint.statuses) == {200}, delivery.log[-4000:]


def test_fluent_bit_posts_the_records_with_no_key_added_or_lost(delivery: Delivery) -> None:
    # json_date_key false: no "date" key, which a server without skip-unknown-fields would refuse.
    lines = [line for body in delivery.endpoint.bodies for line in body.splitlines()]
    assert lines
    assert {tuple(orjson.loads(line)) for line in lines} == {COLUMNS}
