"""Benchmark: a full 100,000-event backfill poll and a steady-state poll, against the simulated Hub.

Run: `make bench` (or `.venv/bin/python tests/bench_poll.py --events 100000 --repeat 3`).
Each poll is the real `hf-audit-poll` in its own process; peak RSS is that process's ru_maxrss.
The Hub runs in a process of its own too: a child forked from a parent holding 100,000 events
would count the parent's pages in its own peak RSS. Not a test: it prints figures for the README.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN = "hf_benchmark_token_0000"


def timed_poll(env: dict[str, str]) -> tuple[float, float, float, int]:
    """wall seconds, CPU seconds, peak RSS MiB, lines printed, of one poll process."""
    started = time.perf_counter()
    proc = subprocess.Popen(["hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = 0
    assert proc.stdout is not None
    for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
        lines += chunk.count(b"\n")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"poll failed: {proc.stderr.read().decode() if proc.stderr else status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, lines


def summarize(name: str, runs: list[tuple[float, float, float, int]]) -> None:
    walls, cpus, rss, lines = zip(*runs)
    spread = f"{min(walls):.2f}-{max(walls):.2f}"
    rate = lines[0] / statistics.median(walls) if lines[0] else 0
    print(
        f"{name:<34} wall {statistics.median(walls):6.2f}s ({spread})  cpu {statistics.median(cpus):6.2f}s  "
        f"peak RSS {max(rss):6.1f} MiB  lines {lines[0]:>6}  {rate:8.0f} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--order", default="newest-first", choices=["newest-first", "oldest-first"])
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    hub = subprocess.Popen(
        [str(bin_dir / "hf-audit-simhub"), "--port", "0", "--events", str(args.events), "--seed", "42",
         "--order", args.order, "--token", TOKEN],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert hub.stdout is not None
        url = hub.stdout.readline().split("listening on ")[1].split()[0]
        base_env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "HF_ORG": "acme",
            "HF_TOKEN": TOKEN,
            "HF_ENDPOINT": url,
            "HF_AUDIT_LOG_LEVEL": "warning",
        }
        full, steady = [], []
        for _ in range(args.repeat):
            work = Path(tempfile.mkdtemp(prefix="hf-audit-bench-"))
            env = {**base_env, "HOME": str(work), "HF_AUDIT_STATE_DIR": str(work / "state")}
            full.append(timed_poll(env))
            steady.append(timed_poll(env))
            shutil.rmtree(work)
    finally:
        hub.terminate()
        hub.wait()
    print(f"{args.events} events, {args.order}, {args.repeat} repetitions (median, wall range)")
    summarize("full backfill poll", full)
    summarize("steady-state poll (no new events)", steady)


if __name__ == "__main__":
    main()
