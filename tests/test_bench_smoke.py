"""The benchmark script still runs end to end (on a tiny export), so `make bench` does not rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent / "bench_poll.py"


def test_bench_script_prints_the_table_and_the_targets_on_a_tiny_export() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--events", "500", "--repeat", "1", "--skip-peers", "--timeout", "60"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    for row in ("ours: full backfill, newest-first", "ours: full + City & ASN DBs, newest-first", "ours: steady, +100 new, oldest-first", "lower bound: orjson"):
        assert row in out
    assert "full poll / lower bound" in out
    for row in ("ours: full backfill, newest-first, rich data", "ours: steady, no new, newest-first, rich data", "lower bound: orjson, rich data"):
        assert row in out
    assert "targets, today's data" in out and "targets, rich data" in out
    assert "full poll <= 1.6x lower bound" in out
    assert "steady (no new) < 10% of full" in out
    assert "peak RSS < 150 MB" in out
    assert "full poll with City & ASN databases <= +10%" in out
    assert "peer: curl | jq" not in out  # --skip-peers


def test_search_bench_skips_saying_why_without_fluent_bit(tmp_path: Path) -> None:
    search_bench = Path(__file__).resolve().parent / "bench_search.py"
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not (Path(p) / "fluent-bit").exists())
    run = subprocess.run([sys.executable, str(search_bench), "--events", "10"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PATH": path})  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "search benchmark skipped: no fluent-bit binary on PATH" in run.stdout
