"""The README's fleet figures: organizations backfilling at once through a real Fluent Bit into ClickHouse.

Each scenario is one `fleet_harness.run_fleet`: the shipped arrangement (poll slots at their
default, the shipped ring-buffer capacity) or the old one (`--old`: no slots, Fluent Bit's default
1,024 ring-buffer slots). Prints one Markdown row per scenario. Needs `fluent-bit` on PATH.

    .venv/bin/python tests/bench_fleet.py                  # the README table
    .venv/bin/python tests/bench_fleet.py --only 32x2000 --old
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_harness import FleetResult, FleetSpec, run_fleet  # noqa: E402
from fluentbit_harness import FLUENT_BIT, SKIP_REASON  # noqa: E402

SCENARIOS = {
    "1x100000": FleetSpec(orgs=1, events=100_000, interval_sec=5),
    "1x100000+busy": FleetSpec(orgs=1, events=100_000, busy_rate=20_000, interval_sec=5),
    # 30 s between polls: with 10 s, 32 organizations' steady polls alone would keep both slots busy.
    "8x5000": FleetSpec(orgs=8, events=5_000, interval_sec=30),
    "16x3000": FleetSpec(orgs=16, events=3_000, interval_sec=30),
    "32x2000": FleetSpec(orgs=32, events=2_000, interval_sec=30),
    "1x20000+stall": FleetSpec(orgs=1, events=20_000, stall_engine_seconds=4, interval_sec=3),
}


def row(name: str, result: FleetResult, old: bool) -> str:
    spec = result.spec
    expected = len(result.expected_ids)
    arrived = expected - len(result.missing)
    busy = f" beside {spec.busy_rate:,} records/s" if spec.busy_rate else ""
    busy += f", engine blocked {spec.stall_engine_seconds} s" if spec.stall_engine_seconds else ""
    when = f"{result.seconds_to_all:.0f} s" if result.seconds_to_all is not None else "not all"
    counters = result.ring_counters
    retry_failures = counters.get("fluentbit_input_ring_buffer_retry_failures_total")
    retries = counters.get("fluentbit_input_ring_buffer_retries_total")
    counted = "(no counters)" if retry_failures is None else f"{retry_failures:.0f} / {retries:.0f}"
    arrangement = "old: 1,024 slots, no poll slots" if old else "shipped"
    return (
        f"| {spec.orgs} × {spec.events:,}{busy} | {arrangement} | {arrived:,} of {expected:,}, {when}"
        f"{'' if not result.duplicates else f', {result.duplicates} twice'} | {result.drop_lines} | {counted} | "
        f"{result.peak_rss_mib:,.0f} MB ({result.peak_pss_mib:,.0f} MB PSS; Fluent Bit {result.peak_fluent_bit_rss_mib:,.0f} MB, "
        f"{result.peak_processes} processes) |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="run only these scenarios")
    parser.add_argument("--old", action="store_true", help="the old arrangement: no poll slots, 1,024 ring-buffer slots")
    args = parser.parse_args()
    if FLUENT_BIT is None:
        print(SKIP_REASON, file=sys.stderr)
        return 2
    print("| organizations × events | arrangement | arrived, after the first poll | drop log lines | retry failures / retries counted | peak memory, Fluent Bit + pollers (RSS sum) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.only or list(SCENARIOS):
        spec = SCENARIOS[name]
        if args.old:
            spec = FleetSpec(**{**spec.__dict__, "poll_slots": 0, "shipped_ring_buffer": False, "limit_seconds": 300, "idle_seconds": 30})
        with tempfile.TemporaryDirectory(prefix="bench-fleet-") as work:
            print(row(name, run_fleet(Path(work), spec), args.old), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
