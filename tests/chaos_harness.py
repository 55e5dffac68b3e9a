"""Kill-anywhere chaos: many `hf-audit-poll` runs against a live simulated Hub, each killed at a random moment.

One phase is a loop of polls sharing one state directory. Before each poll new events arrive
(sometimes late ones too, and now and then a Hub fault is queued). The poll is started the way
Fluent Bit's exec input starts it (`/bin/sh -c hf-audit-poll` in its own process group, stdout a
pipe drained by a reader thread that is sometimes slow) and its process group is sent a signal at
a random moment. Every byte of stdout is kept, and the state directory is inspected after every
kill, so the tests can check the invariants over the whole history.

The kill moment is drawn, per poll, in one of three ways, so the short interesting stretches of
a poll get their share of kills and the interpreter's start-up does not take them all:
- `anywhere`: uniform over about the whole run, measured from the start of the process;
- `after-request`: uniform over about the rest of the run once the Hub has seen the request;
- `at-output`: soon after the first stdout byte (mid-output, mid-checkpoint).
Where each kill landed is inferred afterwards from what was observed (see `classify`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import ORG, TOKEN, poller_env
from hf_audit.errors import HfAuditError
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import Fault, SimulatedHub
from hf_audit.state import StateStore

DEFAULT_POLLS = 100
DEFAULT_SEED = 20261125
INITIAL_EVENTS = 600  # the backfill is then larger than a 1 MiB pipe: a slow reader makes it wait
BACKLOG_CHANCE = 0.05  # per poll: 500-700 new events at once instead of 0-40
DOCUMENTED_FILES = frozenset({f"{ORG}.json", f"{ORG}.lock", f"{ORG}.health", f"{ORG}.prom", "_poll-slot-1.lock", "_poll-slot-2.lock"})
EXIT_TIMEOUT = 20.0  # after the signal: a SIGTERM mid-output may wait 5 s for the reader, then commits
READER_TIMEOUT = 30.0  # a slow reader drains what is left in the pipe after the poller is gone
ANCHOR_TIMEOUT = 30.0  # waiting for the request or the first byte (the poll deadline is 30 s)
FINAL_POLL_TIMEOUT = 90.0
TICK = 0.001

LANDINGS = ("startup", "download", "output", "checkpoint", "after-output", "after-exit")


def chaos_polls() -> int:
    return int(os.environ.get("HF_AUDIT_CHAOS_POLLS", DEFAULT_POLLS))


def chaos_seed() -> int:
    return int(os.environ.get("HF_AUDIT_CHAOS_SEED", DEFAULT_SEED))


class OutputReader(threading.Thread):
    """Drains the poller's stdout like Fluent Bit does, but with a chosen read size and pause,
    so that the pipe sometimes fills and the poller has to wait for room."""

    def __init__(self, fd: int, chunk: int, pause: float) -> None:
        super().__init__(daemon=True, name="chaos-stdout")
        self.fd, self.chunk, self.pause = fd, chunk, pause
        self.chunks: list[bytes] = []
        self.first_byte_at: float | None = None

    def run(self) -> None:
        while data := os.read(self.fd, self.chunk):
            if self.first_byte_at is None:
                self.first_byte_at = time.monotonic()
            self.chunks.append(data)
            if self.pause:
                time.sleep(self.pause)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def group_members(pgid: int) -> list[int]:
    """Pids of the group's processes that are still running (zombies do not count)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def blocked_in_pipe_write(pgid: int) -> bool:
    """Whether a process of the group sleeps inside write() on a full pipe (the kernel's wait
    channel is pipe_write, or anon_pipe_write on recent kernels): a kill now cuts that write."""
    for pid in group_members(pgid):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/wchan").read_text().endswith("pipe_write"):
                return True
    return False


def kill_group(pgid: int, signum: int) -> bool:
    """Signal the whole group, as Fluent Bit does at shutdown; False if nothing was left to signal."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def file_identity(path: Path) -> tuple[int, int] | None:
    """(inode, mtime) of a file, which an atomic rename always changes; None when absent."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns


def summary_of(stderr: bytes) -> dict | None:
    """The poll_summary line of a JSON-format stderr, if the poller got to write it."""
    for line in stderr.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("event") == "poll_summary":
                return entry
    return None


@dataclass
class PollLog:
    """What one poll did and what was seen of it."""

    index: int
    signal: str  # SIGTERM, SIGKILL, or "none" for the final clean poll
    strategy: str
    delay: float  # seconds from start to the kill (or to the exit when it came first)
    landed: str  # one of LANDINGS
    stdout: bytes
    summary: dict | None
    fault: str | None
    added: int
    late: int
    reader: str
    returncode: int | None  # the shell's
    exited_in_time: bool = True

    @property
    def lines(self) -> list[bytes]:
        return self.stdout.splitlines(keepends=True)

    def describe(self) -> str:
        outcome = (self.summary or {}).get("outcome", "-")
        return (
            f"poll {self.index}: {self.signal} {self.strategy} after {self.delay * 1000:.0f} ms, landed {self.landed}, "
            f"{len(self.lines)} lines, outcome {outcome}, fault {self.fault or '-'}, reader {self.reader}"
        )


@dataclass
class ChaosResult:
    name: str
    seed: int
    polls: list[PollLog]
    hub_ids: set[str]
    elapsed: float
    checkpoint_problems: list[str] = field(default_factory=list)
    stray_files: dict[str, str] = field(default_factory=dict)  # name -> the poll after which it appeared
    stray_files_at_end: set[str] = field(default_factory=set)

    def printed(self) -> list[tuple[int, bytes]]:
        """(poll index, line) for every line any poll ever wrote, in order."""
        return [(poll.index, line) for poll in self.polls for line in poll.lines]

    def printed_ids(self) -> list[tuple[int, str]]:
        """(poll index, eventID) of every line that is a record (the others fail their own test)."""
        ids = []
        for index, line in self.printed():
            with contextlib.suppress(ValueError, TypeError, KeyError):
                ids.append((index, str(json.loads(line)["eventID"])))
        return ids

    def duplicates(self) -> dict[str, list[int]]:
        """Event id -> the polls that printed it, for every event printed more than once."""
        by_id: dict[str, list[int]] = {}
        for index, event_id in self.printed_ids():
            by_id.setdefault(event_id, []).append(index)
        return {event_id: indexes for event_id, indexes in by_id.items() if len(indexes) > 1}

    def killed_polls(self) -> list[PollLog]:
        return [poll for poll in self.polls if poll.signal != "none"]

    def report(self) -> str:
        """A few lines for the test output and the README figures."""
        killed = self.killed_polls()
        per_signal = Counter(poll.signal for poll in killed)
        landings = {}
        for sig in sorted(per_signal):
            counts = Counter(poll.landed for poll in killed if poll.signal == sig)
            landings[sig] = {where: counts[where] for where in LANDINGS if counts[where]}
        faults = Counter(poll.fault for poll in self.polls if poll.fault)
        dups = self.duplicates()
        extra = sum(len(polls) - 1 for polls in dups.values())
        return "\n".join(
            [
                f"chaos phase {self.name}: seed {self.seed} (HF_AUDIT_CHAOS_SEED), {len(killed)} killed polls "
                f"(HF_AUDIT_CHAOS_POLLS) + 1 clean, {self.elapsed:.1f} s",
                f"  signals {dict(per_signal)}; where the kills landed {landings}",
                f"  hub events {len(self.hub_ids)}, lines printed {len(self.printed())}, "
                f"duplicated events {len(dups)} ({extra} extra lines); faults {dict(faults)}",
            ]
        )


class ChaosPhase:
    """One phase: a hub, a state directory, and a loop of killed polls, then a clean one."""

    def __init__(self, name: str, signals: tuple[int, ...], workdir: Path, polls: int, seed: int) -> None:
        self.name = name
        self.signals = signals
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.count = polls
        self.seed = seed
        self.rng = random.Random(f"{seed}:{name}")
        self.store = StateStore(self.state_dir, ORG, lock_timeout=1.0)
        # Running estimates of a poll's length, from polls that ended before their kill.
        self.whole_run = 1.0
        self.after_request = 0.25
        self.result = ChaosResult(name, seed, [], set(), 0.0)
        self._checkpoint_existed = False
        self._last_watermark: str | None = None

    def run(self) -> ChaosResult:
        started = time.monotonic()
        end = datetime.now(UTC) - timedelta(minutes=1)
        initial = generate_events(INITIAL_EVENTS, seed=self.seed, end=end, span=timedelta(days=3), org=ORG)
        with SimulatedHub(
            org=ORG, token=TOKEN, events=initial, order="newest-first", seed=self.seed, rate_limit_quota=1_000_000
        ) as hub:
            env = poller_env(
                hub.url, self.state_dir, self.workdir, HF_AUDIT_LOG_FORMAT="json", HF_AUDIT_READ_TIMEOUT="5"
            )
            for index in range(self.count):
                added, late, fault = self._disturb(hub)
                signum = self.rng.choice(self.signals)
                self.result.polls.append(self._killed_poll(hub, env, index, signum, added, late, fault))
                self._inspect_state()
            hub.clear_faults()
            self.result.polls.append(self._clean_poll(env, self.count))
            self._inspect_state()
            self.result.hub_ids = {event["_id"] for event in hub.events}
        self.result.stray_files_at_end = self._stray_files()
        self.result.elapsed = time.monotonic() - started
        return self.result

    # --- before each poll ---------------------------------------------------------------------

    def _disturb(self, hub: SimulatedHub) -> tuple[int, int, str | None]:
        """New events, sometimes late ones, sometimes a fault for the next request."""
        rng = self.rng
        # Now and then a backlog (as after an outage) larger than the pipe: with a slow reader,
        # printing it takes long enough for kills to land mid-output.
        added = rng.randint(500, 700) if rng.random() < BACKLOG_CHANCE else rng.randint(0, 40)
        if added:
            hub.generate_newer(added)
        late = rng.randint(1, 5) if rng.random() < 0.2 else 0
        if late:
            hub.generate_late(late, age=timedelta(minutes=30))
        fault: str | None = None
        if hub.pending_faults == 0 and rng.random() < 0.12:
            fault = rng.choice(("cut_body", "status_503", "stall_headers", "stall_body"))
            hub.queue_fault(
                {
                    "cut_body": Fault(kind="cut_body", fraction=0.5),
                    "status_503": Fault(kind="status", status=503),
                    "stall_headers": Fault(kind="stall", seconds=1.0, where="headers"),
                    "stall_body": Fault(kind="stall", seconds=1.0, where="body", fraction=0.3),
                }[fault]
            )
        return added, late, fault

    # --- one poll -----------------------------------------------------------------------------

    def _start(self, env: dict[str, str], index: int, slow: bool) -> tuple[subprocess.Popen, OutputReader, Path]:
        stderr_path = self.workdir / f"poll-{index}.stderr"
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", "hf-audit-poll"],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                start_new_session=True, bufsize=0,
            )
        assert proc.stdout is not None
        chunk, pause = 65536, 0.0
        if slow:
            chunk, pause = self.rng.choice((512, 1024, 4096)), self.rng.choice((0.0005, 0.001, 0.002))
        reader = OutputReader(proc.stdout.fileno(), chunk, pause)
        reader.start()
        return proc, reader, stderr_path

    def _killed_poll(
        self, hub: SimulatedHub, env: dict[str, str], index: int, signum: int, added: int, late: int, fault: str | None
    ) -> PollLog:
        backlog = added > 40  # its output outlasts the pipe: aim more kills at it, read it slowly
        weights = (1, 2, 7) if backlog else (3, 5, 2)
        strategy = self.rng.choices(("anywhere", "after-request", "at-output"), weights=weights)[0]
        fraction = self.rng.random()  # where in the chosen stretch the kill goes
        slow = self.rng.random() < (0.8 if backlog else 0.4)
        checkpoint_before = file_identity(self.store.path)
        strays_before = self._stray_files()
        requests_before = len(hub.requests_seen)
        proc, reader, stderr_path = self._start(env, index, slow)
        started = time.monotonic()
        try:
            request_at = self._wait_for_the_moment(
                hub, proc, reader, strategy, fraction, slow, requests_before, started
            )
            killed_at = time.monotonic()
            request_seen = request_at is not None or len(hub.requests_seen) > requests_before
            signalled = proc.poll() is None and kill_group(proc.pid, signum)
            if not signalled:
                self._learn(started, request_at, killed_at)
            exited = self._wait_for_exit(proc, reader)
        finally:
            self._reap(proc, reader)
        stderr = stderr_path.read_bytes()
        stderr_path.unlink()
        summary = summary_of(stderr)
        stdout = reader.data
        new_strays = self._stray_files() - strays_before
        checkpoint_temp = any(name.startswith(f".{self.store.path.name}.") for name in new_strays)
        landed = classify(
            signalled=signalled, request_seen=request_seen, printed=bool(stdout), summary=summary, signum=signum,
            committed=file_identity(self.store.path) != checkpoint_before, checkpoint_temp=checkpoint_temp,
        )
        return PollLog(
            index, signal.Signals(signum).name, strategy, killed_at - started, landed, stdout, summary, fault,
            added, late, "slow" if slow else "fast", proc.returncode, exited,
        )

    def _wait_for_the_moment(
        self, hub: SimulatedHub, proc: subprocess.Popen, reader: OutputReader, strategy: str, fraction: float,
        slow: bool, requests_before: int, started: float,
    ) -> float | None:
        """Sleep until the kill moment the strategy picks (or the poll's own end); returns when
        the Hub saw the export request, if it did."""
        request_at: float | None = None
        kill_at: float | None = started + fraction * 1.2 * self.whole_run if strategy == "anywhere" else None
        while proc.poll() is None:
            now = time.monotonic()
            if request_at is None and len(hub.requests_seen) > requests_before:
                request_at = now
            if kill_at is None and strategy == "after-request" and request_at is not None:
                kill_at = request_at + fraction * 1.3 * self.after_request
            if kill_at is None and strategy == "at-output" and reader.first_byte_at is not None:
                kill_at = reader.first_byte_at + fraction * (0.3 if slow else 0.01)
            if (kill_at is not None and now >= kill_at) or now - started > ANCHOR_TIMEOUT:
                break
            time.sleep(TICK)
        return request_at

    def _clean_poll(self, env: dict[str, str], index: int) -> PollLog:
        proc, reader, stderr_path = self._start(env, index, slow=False)
        started = time.monotonic()
        try:
            exited = self._wait_for_exit(proc, reader, timeout=FINAL_POLL_TIMEOUT)
        finally:
            self._reap(proc, reader)
        summary = summary_of(stderr_path.read_bytes())
        return PollLog(
            index, "none", "clean", time.monotonic() - started, "after-exit", reader.data, summary, None, 0, 0,
            "fast", proc.returncode, exited,
        )

    def _learn(self, started: float, request_at: float | None, ended: float) -> None:
        """A poll that ended on its own tells how long polls take now (they grow with the export)."""
        self.whole_run = 0.7 * self.whole_run + 0.3 * (ended - started)
        if request_at is not None:
            self.after_request = 0.7 * self.after_request + 0.3 * (ended - request_at)

    def _wait_for_exit(self, proc: subprocess.Popen, reader: OutputReader, timeout: float = EXIT_TIMEOUT) -> bool:
        """Wait until the shell, the poller (same group) and the pipe are all done; False on timeout."""
        deadline = time.monotonic() + timeout
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        while group_alive(proc.pid):  # sh may be gone while the poller still finishes its batch
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        reader.join(timeout=max(0.0, deadline - time.monotonic()) + READER_TIMEOUT)
        return not reader.is_alive()

    def _reap(self, proc: subprocess.Popen, reader: OutputReader) -> None:
        """Never leave a straggler: SIGKILL whatever of this poll's group is still running."""
        if proc.poll() is None or group_alive(proc.pid):
            kill_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        reader.join(timeout=READER_TIMEOUT)
        assert proc.stdout is not None
        proc.stdout.close()

    # --- after each poll ----------------------------------------------------------------------

    def _inspect_state(self) -> None:
        """The checkpoint loads (or was never written yet), never disappears or moves back."""
        poll = self.result.polls[-1]
        problems = self.result.checkpoint_problems
        for name in self._stray_files():
            self.result.stray_files.setdefault(name, poll.describe())
        try:
            checkpoint = self.store.load()
        except HfAuditError as exc:
            problems.append(f"after {poll.describe()}: {exc.message}")
            return
        if checkpoint is None and self._checkpoint_existed:
            problems.append(f"after {poll.describe()}: the checkpoint file is gone")
        if checkpoint is not None:
            self._checkpoint_existed = True
            if self._last_watermark and (checkpoint.watermark or "") < self._last_watermark:
                problems.append(
                    f"after {poll.describe()}: watermark moved back "
                    f"from {self._last_watermark} to {checkpoint.watermark}"
                )
            self._last_watermark = checkpoint.watermark or self._last_watermark

    def _stray_files(self) -> set[str]:
        if not self.state_dir.exists():
            return set()
        return {entry.name for entry in self.state_dir.iterdir()} - DOCUMENTED_FILES


def classify(
    *, signalled: bool, request_seen: bool, printed: bool, committed: bool, checkpoint_temp: bool, signum: int,
    summary: dict | None,
) -> str:
    """Where in the poll a kill landed, from what could be seen of it afterwards.

    startup: before the export request (interpreter, settings, lock, checkpoint load);
    download: request sent, nothing printed or committed (retries and faults included);
    output: while printing (SIGTERM: the poll reports itself interrupted after printing some;
    SIGKILL: lines printed but the checkpoint not replaced);
    checkpoint: SIGKILL while the new checkpoint was a temp file (it is left behind);
    after-output: printing was over (SIGTERM: checkpoint, health, metrics, interpreter exit;
    SIGKILL: the checkpoint was replaced);
    after-exit: the poll had ended before the signal.
    """
    if not signalled:
        return "after-exit"
    if not request_seen:
        return "startup"
    if signum == signal.SIGTERM:
        if summary is None or summary.get("outcome") != "ok":
            return "output" if printed else "download"
        return "after-output"
    if checkpoint_temp:
        return "checkpoint"
    if committed:
        return "after-output"
    return "output" if printed else "download"
