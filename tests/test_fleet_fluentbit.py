"""Many organizations in one real Fluent Bit, all backfilling at once, into ClickHouse (chdb).

The shipped arrangement (hf-audit-fleet's inputs: the shipped exec input once per organization,
each with its own token file; poll slots at their default; the shipped ClickHouse output and
monitoring config): every event arrives exactly once, and Fluent Bit neither logs a ring-buffer
drop nor counts one. Then the same for one organization beside a high-rate input of the shipper's
own. And the reason it holds: with Fluent Bit's engine thread blocked for seconds while a poll
prints (a Lua filter sleeping on the engine thread), the shipped ring buffer loses nothing and
never even fills, where Fluent Bit's default one drops records. The scale is set by environment
variables: `make fleet` runs the long version.

  HF_AUDIT_FLEET_ORGS (32), HF_AUDIT_FLEET_EVENTS (2,000 per organization),
  HF_AUDIT_FLEET_BUSY_EVENTS (20,000), HF_AUDIT_FLEET_BUSY_RATE (20,000 records/s)
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fleet_harness import FleetResult, FleetSpec, run_fleet
from fluentbit_harness import requires_fluent_bit

pytestmark = requires_fluent_bit

ORGS = int(os.environ.get("HF_AUDIT_FLEET_ORGS", "32"))
EVENTS = int(os.environ.get("HF_AUDIT_FLEET_EVENTS", "2000"))
BUSY_EVENTS = int(os.environ.get("HF_AUDIT_FLEET_BUSY_EVENTS", "20000"))
BUSY_RATE = int(os.environ.get("HF_AUDIT_FLEET_BUSY_RATE", "20000"))
STALLED_EVENTS = 20_000
STALL_SECONDS = 4


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetResult]:
    # 30 s between polls, not 10: 32 organizations' steady polls every 10 s would keep both poll
    # slots busy on a loaded 2-core machine, and the backfills would queue behind them.
    yield run_fleet(tmp_path_factory.mktemp("fleet"), FleetSpec(orgs=ORGS, events=EVENTS, interval_sec=30))


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetResult]:
    yield run_fleet(tmp_path_factory.mktemp("busy"), FleetSpec(orgs=1, events=BUSY_EVENTS, busy_rate=BUSY_RATE))


@pytest.fixture(scope="module")
def stalled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetResult]:
    spec = FleetSpec(orgs=1, events=STALLED_EVENTS, stall_engine_seconds=STALL_SECONDS, interval_sec=3)
    yield run_fleet(tmp_path_factory.mktemp("stalled"), spec)


@pytest.fixture(scope="module")
def stalled_default_ring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetResult]:
    # Records are lost here: stop waiting soon after the rest has arrived.
    spec = FleetSpec(orgs=1, events=STALLED_EVENTS, stall_engine_seconds=STALL_SECONDS, interval_sec=3, shipped_ring_buffer=False, idle_seconds=20)
    yield run_fleet(tmp_path_factory.mktemp("stalled-default"), spec)


def _tail(result: FleetResult) -> str:
    return result.log[-3000:]


def test_every_event_of_every_organization_arrives(fleet: FleetResult) -> None:
    assert len(fleet.expected_ids) == ORGS * EVENTS
    assert fleet.missing == set(), f"{len(fleet.missing)} events never arrived\n{_tail(fleet)}"


def test_no_event_of_the_fleet_is_sent_twice(fleet: FleetResult) -> None:
    assert fleet.duplicates == 0
    assert len(fleet.posted_ids) == ORGS * EVENTS


def test_fluent_bit_logs_no_ring_buffer_drop_for_the_fleet(fleet: FleetResult) -> None:
    assert fleet.drop_lines == 0, _tail(fleet)


def test_the_ring_buffer_counters_show_every_record_and_no_drop(fleet: FleetResult) -> None:
    counters = fleet.ring_counters
    assert counters, f"the monitoring endpoint served no ring-buffer counters\n{_tail(fleet)}"
    assert counters["fluentbit_input_ring_buffer_retry_failures_total"] == 0
    # The counters are live: every record went through the inputs' ring buffers once.
    assert counters["fluentbit_input_ring_buffer_writes_total"] == ORGS * EVENTS


def test_every_poll_of_the_fleet_succeeds(fleet: FleetResult) -> None:
    summaries = [line for line in fleet.poll_summaries if "event=poll_summary" in line]
    assert len(summaries) >= ORGS
    assert all("outcome=ok" in line for line in summaries), [line for line in summaries if "outcome=ok" not in line][:3]


def test_one_organization_beside_a_busy_input_arrives_whole(busy: FleetResult) -> None:
    assert busy.missing == set(), f"{len(busy.missing)} events never arrived\n{_tail(busy)}"
    assert busy.duplicates == 0


def test_no_ring_buffer_drop_beside_a_busy_input(busy: FleetResult) -> None:
    assert busy.drop_lines == 0, _tail(busy)
    assert busy.ring_counters["fluentbit_input_ring_buffer_retry_failures_total"] == 0
    assert busy.ring_counters["fluentbit_input_ring_buffer_writes_total"] == BUSY_EVENTS


def test_the_busy_input_was_busy(busy: FleetResult) -> None:
    # The shipper's own input really ran beside the poll (at least a few seconds at its rate).
    assert busy.busy_records >= BUSY_RATE * 2


def test_a_stalled_engine_loses_nothing_with_the_shipped_ring_buffer(stalled: FleetResult) -> None:
    assert stalled.missing == set() and stalled.duplicates == 0, _tail(stalled)
    assert stalled.drop_lines == 0
    # Not even a wait for room: a whole poll fits in the ring while nothing reads it.
    assert stalled.ring_counters["fluentbit_input_ring_buffer_retries_total"] == 0
    assert stalled.ring_counters["fluentbit_input_ring_buffer_retry_failures_total"] == 0


def test_a_stalled_engine_drops_records_with_fluent_bits_default_ring_buffer(stalled_default_ring: FleetResult) -> None:
    # What the shipped setting prevents, seen by the same checks (so they can fail): each second
    # of the stall past the first costs a record, logged and counted, and it never arrives.
    result = stalled_default_ring
    assert result.drop_lines >= 1
    assert len(result.missing) == result.drop_lines
    assert result.ring_counters["fluentbit_input_ring_buffer_retry_failures_total"] == result.drop_lines
