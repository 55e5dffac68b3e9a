"""What the detection engine tests share: the pack, its shipped outputs, and the fixtures' expectations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from conftest import REPO
from detections_fixtures import CORRELATION_CASES, Fixture, correlation_fixtures, single_fixtures
from hf_audit.detections.pack import PackRule, load_pack

DETECTIONS_DIR = REPO / "fluent-bit" / "detections"
CLICKHOUSE_DIR = DETECTIONS_DIR / "clickhouse"
RECEIVED_AT = datetime.now(UTC).replace(microsecond=0)


@cache
def pack() -> tuple[PackRule, ...]:
    return tuple(load_pack())


def pack_rule(name: str) -> PackRule:
    (entry,) = [entry for entry in pack() if entry.name == name]
    return entry


@cache
def singles() -> tuple[Fixture, ...]:
    return tuple(single_fixtures(RECEIVED_AT))


@cache
def bursts() -> tuple[Fixture, ...]:
    return tuple(correlation_fixtures(RECEIVED_AT))


def expected_ids(rule: str) -> set[str]:
    """The single-event fixtures a plain rule must return: exactly those that name it."""
    return {fixture.event["_id"] for fixture in singles() if rule in fixture.fires}


def expected_groups(rule: str) -> dict[str, int]:
    return CORRELATION_CASES[rule][1]


def shipped_json(relative: str) -> list[dict]:
    return json.loads((DETECTIONS_DIR / relative).read_text(encoding="utf-8"))


def shipped_ndjson(relative: str) -> list[dict]:
    return [json.loads(line) for line in (DETECTIONS_DIR / relative).read_text(encoding="utf-8").splitlines()]


def clickhouse_files() -> list[Path]:
    return sorted(CLICKHOUSE_DIR.glob("*.sql"))
