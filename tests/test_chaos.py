"""Kill-anywhere chaos: hundreds of real polls, each killed at a random moment, then a clean one.

Two phases, each with its own simulated Hub and state directory: SIGTERM only (what Fluent Bit
sends at shutdown), then SIGKILL and SIGTERM mixed. Counting every line ever written to stdout,
nothing is lost, nothing is half written, the checkpoint always loads, and an event is printed twice
only after SIGKILL (which no process can react to) or, after SIGTERM, when it was among the last
lines printed, which a stopping reader may not have stored (output.py's margin); sinks fold those
by event id.

HF_AUDIT_CHAOS_POLLS sets the polls per phase (default 100), HF_AUDIT_CHAOS_SEED the seed; the
seed and the figures are printed with the setup output and attached as test properties.

The worst moment for a kill, the poller sleeping inside a write() to a full pipe, is rare at
random; the last tests wait for it deterministically (a slow reader, the kernel's wait channel).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chaos_harness import (
    ChaosPhase,
    ChaosResult,
    OutputReader,
    PollLog,
    blocked_in_pipe_write,
    chaos_polls,
    chaos_seed,
    group_alive,
    kill_group,
    summary_of,
)
from conftest import ORG, TOKEN, poller_env
from hf_audit.normalize import COLUMNS
from hf_audit.output import READER_BUFFER_BYTES, READER_BUFFER_LINES, WANTED_PIPE_BYTES
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub
from hf_audit.state import StateStore

PHASES: dict[str, tuple[int, ...]] = {
    "sigterm": (signal.SIGTERM,),
    "sigkill-sigterm": (signal.SIGKILL, signal.SIGTERM),
}
SHOWN = 20  # examples quoted in a failure message


@pytest.fixture(scope="module")
def chaos_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ChaosResult]:
    """Both phases, run side by side (independent hubs and state directories) to halve the wall
    time on two cores; once per module, however many tests look at them."""
    polls, seed = chaos_polls(), chaos_seed()
    print(f"chaos: seed {seed} (set HF_AUDIT_CHAOS_SEED to replay), {polls} polls per phase (HF_AUDIT_CHAOS_POLLS)")
    with ThreadPoolExecutor(max_workers=len(PHASES)) as pool:
        running = {
            name: pool.submit(ChaosPhase(name, signals, tmp_path_factory.mktemp(f"chaos-{name}"), polls, seed).run)
            for name, signals in PHASES.items()
        }
        results = {name: future.result() for name, future in running.items()}
    for result in results.values():
        print(result.report())
    return results


@pytest.fixture(scope="module", params=list(PHASES))
def chaos(request: pytest.FixtureRequest, chaos_results: dict[str, ChaosResult]) -> ChaosResult:
    return chaos_results[request.param]


@pytest.fixture(autouse=True)
def _record_seed(record_property: Callable[[str, object], None]) -> None:
    record_property("chaos_seed", chaos_seed())
    record_property("chaos_polls", chaos_polls())


def context(result: ChaosResult) -> str:
    return f"(phase {result.name}, seed {result.seed}: rerun with HF_AUDIT_CHAOS_SEED={result.seed})"


def test_every_line_ever_printed_is_a_whole_record_with_the_51_columns(chaos: ChaosResult) -> None:
    assert len(COLUMNS) == 51
    bad: list[str] = []
    for index, line in chaos.printed():
        try:
            record = json.loads(line)
        except ValueError:
            bad.append(f"poll {index}: not JSON: {line[:120]!r}")
            continue
        if not isinstance(record, dict) or list(record) != list(COLUMNS) or any(v is None for v in record.values()):
            bad.append(f"poll {index}: not a 51-column record: {line[:120]!r}")
    assert not bad, f"{len(bad)} bad lines {context(chaos)}: {bad[:SHOWN]}"


def test_no_poll_leaves_half_a_line_on_stdout(chaos: ChaosResult) -> None:
    cut = [poll.describe() for poll in chaos.polls if poll.stdout and not poll.stdout.endswith(b"\n")]
    assert not cut, f"stdout ended mid-line {context(chaos)}: {cut[:SHOWN]}"


def test_every_event_the_hub_held_is_printed_and_nothing_else(chaos: ChaosResult) -> None:
    printed = {event_id for _, event_id in chaos.printed_ids()}
    missing = sorted(chaos.hub_ids - printed)
    unknown = sorted(printed - chaos.hub_ids)
    assert chaos.hub_ids
    assert not missing, f"{len(missing)} events never printed {context(chaos)}: {missing[:SHOWN]}"
    assert not unknown, f"{len(unknown)} printed events the hub never held {context(chaos)}: {unknown[:SHOWN]}"


def test_the_final_clean_poll_succeeds(chaos: ChaosResult) -> None:
    final = chaos.polls[-1]
    assert final.signal == "none" and final.exited_in_time, context(chaos)
    outcome = (final.summary or {}).get("outcome")
    assert final.returncode == 0 and outcome == "ok", f"{final.describe()} {context(chaos)}"


def test_every_poll_ends_soon_after_its_signal(chaos: ChaosResult) -> None:
    stuck = [poll.describe() for poll in chaos.polls if not poll.exited_in_time]
    assert not stuck, f"polls still running long after the signal {context(chaos)}: {stuck[:SHOWN]}"


def test_a_sigterm_ends_a_poll_as_interrupted_or_ok(chaos: ChaosResult) -> None:
    """A poll that got to write its summary after a SIGTERM stopped cleanly or had already finished."""
    odd = [
        poll.describe()
        for poll in chaos.polls
        if poll.signal == "SIGTERM" and poll.summary and poll.summary.get("outcome") not in ("interrupted", "ok")
    ]
    assert not odd, f"SIGTERM turned into another outcome {context(chaos)}: {odd[:SHOWN]}"


def test_the_checkpoint_loads_after_every_kill_and_is_never_lost(chaos: ChaosResult) -> None:
    problems = chaos.checkpoint_problems
    assert not problems, f"{len(problems)} checkpoint problems {context(chaos)}: {problems[:SHOWN]}"


def test_no_stray_file_is_left_in_the_state_directory(chaos: ChaosResult) -> None:
    stray = {name: chaos.stray_files.get(name, "?") for name in sorted(chaos.stray_files_at_end)}
    assert not stray, f"files besides the documented ones {context(chaos)} (name: first seen after): {stray}"


def within_the_margin(poll: PollLog) -> set[str]:
    """Ids of the lines a poll stopped by SIGTERM leaves uncommitted at most: its last
    READER_BUFFER_LINES lines, or more when they fit in the pipe and a reader's buffer."""
    lines = [line for line in poll.lines if line.endswith(b"\n")]
    tail, kept = 0, 0
    for line in reversed(lines):
        if kept >= READER_BUFFER_LINES and tail >= WANTED_PIPE_BYTES + READER_BUFFER_BYTES:
            break
        tail += len(line)
        kept += 1
    ids = set()
    for line in lines[len(lines) - kept :]:
        with contextlib.suppress(ValueError, KeyError):
            ids.add(str(json.loads(line)["eventID"]))
    return ids


def wrongly_repeated(result: ChaosResult) -> dict[str, list[tuple[int, str]]]:
    """Events printed again after a poll that was neither SIGKILLed nor SIGTERMed with the event
    among its last lines."""
    polls = {poll.index: poll for poll in result.polls}
    margins: dict[int, set[str]] = {}
    wrong = {}
    for event_id, indexes in result.duplicates().items():
        for index in indexes[:-1]:
            poll = polls[index]
            if poll.signal == "SIGKILL":
                continue
            if poll.signal == "SIGTERM":
                if index not in margins:
                    margins[index] = within_the_margin(poll)
                if event_id in margins[index]:
                    continue
            wrong[event_id] = [(i, polls[i].signal) for i in indexes]
            break
    return wrong


def test_sigterm_repeats_only_the_last_lines_a_stopping_reader_may_not_have_stored(
    chaos_results: dict[str, ChaosResult], record_property: Callable[[str, object], None]
) -> None:
    result = chaos_results["sigterm"]
    duplicates = result.duplicates()
    record_property("duplicated_events", len(duplicates))
    print(f"{len(duplicates)} events printed more than once after SIGTERM {context(result)}")
    wrong = wrongly_repeated(result)
    shown = dict(list(wrong.items())[:SHOWN])
    assert not wrong, f"{len(wrong)} events repeated beyond a stopped poll's margin {context(result)}: {shown}"


def test_duplicates_after_sigkill_are_counted_and_come_only_from_sigkilled_polls_or_a_sigterm_margin(
    chaos_results: dict[str, ChaosResult], record_property: Callable[[str, object], None]
) -> None:
    """Every printing of an event but its last was by a poll SIGKILLed before it could commit, or
    by a poll SIGTERMed with the event among the last lines it printed."""
    result = chaos_results["sigkill-sigterm"]
    duplicates = result.duplicates()
    signal_of = {poll.index: poll.signal for poll in result.polls}
    extra_lines = sum(len(polls) - 1 for polls in duplicates.values())
    record_property("duplicated_events", len(duplicates))
    record_property("duplicate_lines", extra_lines)
    record_property("duplicates", json.dumps(duplicates, sort_keys=True))
    print(f"{len(duplicates)} events printed more than once ({extra_lines} extra lines) {context(result)}")
    for event_id, polls in sorted(duplicates.items(), key=lambda item: item[1])[:SHOWN]:
        print(f"  {event_id}: polls {polls} ({', '.join(signal_of[i] for i in polls)})")
    wrong = wrongly_repeated(result)
    shown = dict(list(wrong.items())[:SHOWN])
    assert not wrong, f"events repeated after a poll that was not SIGKILLed, beyond a SIGTERM margin {context(result)}: {shown}"


# --- the worst moment, found on purpose ---------------------------------------------------------

LAGGING_EXPORT = 1500  # about 3.3 MB of lines: three times the poller's 1 MiB pipe
GIVE_UP_AFTER_BYTES = 1_500_000  # no blocked write seen by then: kill anyway, mid-output


@dataclass
class LaggingKill:
    stdout: bytes
    stderr: str
    summary: dict | None
    blocked_write_seen: bool
    state_dir: Path


def kill_while_the_reader_lags(workdir: Path, signum: int) -> LaggingKill:
    """Backfill through a reader slower than the poller, and signal it as soon as it sleeps
    inside write() on the full pipe (or, if that never happens, well into the output)."""
    end = datetime.now(UTC) - timedelta(minutes=1)
    events = generate_events(LAGGING_EXPORT, seed=11, end=end, span=timedelta(hours=6), org=ORG)
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        env = poller_env(hub.url, workdir / "state", workdir, HF_AUDIT_LOG_FORMAT="json")
        stderr_path = workdir / "stderr"
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", "hf-audit-poll"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=stderr, start_new_session=True, bufsize=0,
            )
        assert proc.stdout is not None
        reader = OutputReader(proc.stdout.fileno(), chunk=512, pause=0.0005)
        reader.start()
        blocked = False
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                blocked = blocked_in_pipe_write(proc.pid)
                if blocked or sum(map(len, reader.chunks)) >= GIVE_UP_AFTER_BYTES:
                    break
                time.sleep(0.0002)
            kill_group(proc.pid, signum)
            proc.wait(timeout=30)
            deadline = time.monotonic() + 30
            while group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            reader.join(timeout=60)
        finally:
            if proc.poll() is None or group_alive(proc.pid):
                kill_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            reader.join(timeout=10)
            proc.stdout.close()
    stderr = stderr_path.read_bytes()
    return LaggingKill(reader.data, stderr.decode("utf-8", "replace"), summary_of(stderr), blocked, workdir / "state")


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc/<pid>/wchan")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_kill_while_the_reader_lags_leaves_no_half_line(tmp_path: Path, signum: int) -> None:
    run = kill_while_the_reader_lags(tmp_path, signum)
    assert run.stdout, "nothing was printed before the kill"
    where = "inside a blocked write" if run.blocked_write_seen else "mid-output"
    whole_lines = run.stdout.count(b"\n")
    ends_with_newline = run.stdout.endswith(b"\n")
    assert ends_with_newline, (
        f"half a line after {signal.Signals(signum).name} {where}: {len(run.stdout)} bytes, {whole_lines} whole "
        f"lines, ending {run.stdout[-60:]!r}"
    )


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc/<pid>/wchan")
def test_a_sigterm_while_the_reader_lags_commits_the_lines_printed_but_the_margin(tmp_path: Path) -> None:
    run = kill_while_the_reader_lags(tmp_path, signal.SIGTERM)
    printed = [json.loads(line)["eventID"] for line in run.stdout.splitlines(keepends=True) if line.endswith(b"\n")]
    checkpoint = StateStore(run.state_dir, ORG, lock_timeout=1).load()
    outcome = (run.summary or {}).get("outcome")
    assert outcome == "interrupted", f"outcome {outcome}; stderr: {run.stderr[-400:]}"
    committed = set(checkpoint.seen) if checkpoint else set()
    uncommitted = len(printed) - len(committed)
    assert committed == set(printed[: len(committed)]), "what is committed is not the first lines printed"
    assert uncommitted == run.summary["unconfirmed"] >= min(len(printed), READER_BUFFER_LINES)
