"""A real Fluent Bit killed or restarted in the middle of a backfill loses no event (issue 9, item 2).

The shipped service, parser and exec input with the shipped ClickHouse output, as in
tests/test_clickhouse_fluentbit.py, backfill 20,000 events. Fluent Bit is stopped at several points
of that backfill and started again on the same storage path (filesystem buffering), as an operator
or systemd would: SIGKILL to Fluent Bit alone (a crash, the OOM killer), SIGTERM to Fluent Bit
alone (a known gap, expected to fail at times: see SIGTERM_FLUENT_BIT_ALONE), and SIGTERM to Fluent Bit and the poller together (`systemctl restart`, which signals
the whole control group). Sinks fold
re-sent events by id, so the table is counted by distinct id: every event must be there.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chdb_http_endpoint import ChdbHttpEndpoint, create_table
from clickhouse_shipped import DDL_FILE, count
from conftest import ORG, TOKEN, poller_env
from fluentbit_harness import FluentBit, fluent_bit_binary
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub
from test_clickhouse_fluentbit import pipeline_config

BACKFILL = 20_000
# Each Fluent Bit in turn is stopped once its poller has printed this many bytes (about 2 KB a
# line); the last one is left to finish the backfill.
STOP_POINTS = (3_000_000, 12_000_000, 600_000, 7_000_000)
STOP_TIMEOUT = 15.0
FINISH_LIMIT = 240.0  # an upper bound for waiting, not a speed claim


@dataclass
class Restarts:
    distinct: int
    posted: int  # lines Fluent Bit posted to ClickHouse, re-sent ones included
    summaries: list[dict[str, str]] = field(default_factory=list)
    log: str = ""


def exec_children(pid: int) -> list[int]:
    """Child processes of `pid`: for Fluent Bit, the `/bin/sh -c` its exec input started, each the
    leader of its own process group (with `exec` in the command, the shell has become the poller)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:  # ppid
                children.append(int(entry.name))
    return children


def printed_bytes(pid: int, state_dir: Path) -> int | None:
    """Bytes the poller has written to stdout so far: all it wrote (/proc/<pid>/io) less its spool
    file (an unnamed temp file in the state directory), which it writes whole before printing.
    None once it has exited."""
    try:
        written = int(dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())["wchar"])
        spool = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            if os.readlink(fd).startswith(str(state_dir)) and os.readlink(fd).endswith("(deleted)"):
                spool = fd.stat().st_size
    except (OSError, KeyError, ValueError):
        return None
    return written - spool


def wait_for_printing(fluent_bit: FluentBit, target: int, state_dir: Path, limit: float = 90.0) -> None:
    """Return once Fluent Bit's poller has printed `target` bytes, or has exited after printing."""
    deadline = time.monotonic() + limit
    seen_poller = False
    while time.monotonic() < deadline and fluent_bit.running:
        # The shipped command is `exec hf-audit-poll`: the shell becomes the poller (a child);
        # a command without `exec` leaves the poller a grandchild under the shell.
        children = exec_children(fluent_bit.pid)
        for pid in (*children, *(poller for shell in children for poller in exec_children(shell))):
            progress = printed_bytes(pid, state_dir)
            seen_poller = seen_poller or progress is not None
            if progress is not None and progress >= target:
                return
        if seen_poller and not exec_children(fluent_bit.pid):
            return  # the poll ended before reaching the target: stop between polls
        time.sleep(0.005)


def summaries(log: str) -> list[dict[str, str]]:
    found = []
    for line in log.splitlines():
        if "event=poll_summary" in line:
            found.append(dict(re.findall(r"(\w+)=(\S+)", line)))
    return found


def run_with_restarts(work: Path, how: str) -> Restarts:
    user, password = "hf_audit_writer", secrets.token_urlsafe(16)
    events = generate_events(BACKFILL, seed=909, end=datetime.now(UTC) - timedelta(minutes=2), span=timedelta(days=5), org=ORG)
    database = f"hf_audit_{how.replace('-', '_')}"
    log = work / "fluent-bit.log"
    with (
        ChdbHttpEndpoint(work / "chdb", user=user, password=password, keep_bodies=True) as endpoint,
        SimulatedHub(org=ORG, token=TOKEN, events=events) as hub,
    ):
        create_table(endpoint, DDL_FILE, database)
        env = poller_env(hub.url, work / "state", work) | {
            "HF_AUDIT_INTERVAL_SEC": "1",
            "HF_AUDIT_FLB_STORAGE_PATH": str(work / "flb-storage"),
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_PORT": str(endpoint.port),
            "CLICKHOUSE_TLS": "off",
            "CLICKHOUSE_DATABASE": database,
            "CLICKHOUSE_USER": user,
            "CLICKHOUSE_PASSWORD": password,
        }
        config = pipeline_config(work)

        def distinct() -> int:
            return count(endpoint, database, "count(DISTINCT id)")

        for stop_after in (*STOP_POINTS, None):
            # Every run appends to one log, read whole at the end.
            with FluentBit(config, env, log) as fluent_bit:
                if stop_after is None:
                    deadline = time.monotonic() + FINISH_LIMIT
                    while distinct() < BACKFILL and time.monotonic() < deadline and fluent_bit.running:
                        time.sleep(1.0)
                    settled = len(hub.requests_seen)
                    while len(hub.requests_seen) < settled + 2 and time.monotonic() < deadline:
                        time.sleep(0.5)  # two more polls: nothing is left to re-send
                    time.sleep(2.0)  # their flush
                    continue
                wait_for_printing(fluent_bit, stop_after, work / "state")
                if how == "sigkill":
                    fluent_bit.stop(signal.SIGKILL)
                elif how == "sigterm-both":  # systemctl restart: the whole control group at once
                    for group in exec_children(fluent_bit.pid):
                        os.killpg(group, signal.SIGTERM)
                    fluent_bit.stop(signal.SIGTERM, grace=60, must_exit=True)
                else:
                    # Fluent Bit alone: it stops taking records at once (dropping one a second
                    # from the pipe) and signals the poller only when its grace period is over;
                    # with lines left in the pipe it then takes minutes to exit, so it is
                    # killed after STOP_TIMEOUT, as systemd does after TimeoutStopSec.
                    fluent_bit.stop(signal.SIGTERM, grace=STOP_TIMEOUT)
            time.sleep(1.5)  # an orphaned poller finishes (EPIPE) before the next Fluent Bit's poll
        text = log.read_text(errors="replace")
        posted = sum(body.count(b"\n") for body in endpoint.bodies)
        return Restarts(distinct(), posted, summaries(text), text)


# SIGTERM to Fluent Bit alone is a known gap: Fluent Bit 5.1 pauses its inputs at once, yet keeps
# reading the pipe and drops what it reads; a poller that ends before Fluent Bit's grace period is
# over (when Fluent Bit would signal it) sees every line taken and commits them. Measured: 826 of
# 20,000 lost in one run, none in another. README, Reliability, says so.
SIGTERM_FLUENT_BIT_ALONE = pytest.param(
    "sigterm-fluent-bit",
    marks=pytest.mark.xfail(reason="known gap: Fluent Bit drops what it reads after SIGTERM, and may read all of it before signalling the poller", strict=False),
)


@pytest.fixture(scope="module", params=["sigkill", "sigterm-both", SIGTERM_FLUENT_BIT_ALONE])
def restarts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Restarts]]:
    fluent_bit_binary()
    yield request.param, run_with_restarts(tmp_path_factory.mktemp(f"fb-restart-{request.param}"), request.param)


def test_every_event_reaches_clickhouse_after_fluent_bit_is_stopped_mid_backfill(restarts: tuple[str, Restarts]) -> None:
    how, result = restarts
    stopped_polls = [s for s in result.summaries if s.get("outcome") in ("output_error", "interrupted")]
    print(
        f"{how}: {result.distinct} distinct events of {BACKFILL} in ClickHouse, {result.posted} lines posted "
        f"({result.posted - result.distinct} re-sent), polls: "
        + ", ".join(f"{s.get('outcome')}(emitted={s.get('emitted')},unconfirmed={s.get('unconfirmed')})" for s in result.summaries)
    )
    assert result.distinct == BACKFILL, f"{BACKFILL - result.distinct} events lost ({how}); log tail:\n{result.log[-3000:]}"
    assert stopped_polls, f"no poll saw its reader go away or a stop signal ({how}): the stops missed the output"
