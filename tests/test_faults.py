"""The fault matrix: each way a poll can go wrong, with its exit code, its message, and nothing lost.

Every test starts from the steady state (a good poll committed, then new events on the Hub), makes
one poll fail, and checks what an operator and a sink depend on: the documented exit code
(plugin/errors.py, README "Exit codes"), one clear error line on stderr, nothing on stdout, the
checkpoint byte for byte as it was, no temp file left behind, and a next clean poll that prints
every new event exactly once. The simulated Hub serves oldest first here, so a fault placed in
the middle of the body is always reached (a newest-first steady-state poll may stop reading
before it, which is correct but would not exercise the fault).

Faults of the matrix proven elsewhere, not repeated here (tests/test_poll_e2e.py):
- a 429 storm longer than the poll deadline: test_rate_limit_longer_than_the_deadline_gives_up_at_once
- a body cut off mid-array without Content-Length, after a good poll:
  test_failure_after_a_good_poll_keeps_the_checkpoint (first poll: test_a_failed_download_...)
- a corrupt state file: test_corrupt_checkpoint_stops_the_poll_and_is_kept
- two pollers at once: test_two_pollers_at_once_the_second_is_refused

Faults that need the kernel's help (a read-only mount, a small tmpfs) skip with the reason when
this process may not mount; the file-size-limit variant of "disk full" runs everywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import ORG, TOKEN, PollRun, assert_no_secret, poller_env, run_like_fluent_bit
from hf_audit.errors import ExitCode
from hf_audit.simhub.events import generate_events, make_event
from hf_audit.simhub.server import Fault, SimulatedHub

STATE_FILES = {f"{ORG}.json", f"{ORG}.lock", f"{ORG}.health", f"{ORG}.prom", "_poll-slot-1.lock", "_poll-slot-2.lock"}


def ids_oldest_first(events: list[dict]) -> list[str]:
    return [e["_id"] for e in sorted(events, key=lambda e: (e["createdAt"], e["_id"]))]


def error_lines(run: PollRun) -> list[str]:
    """stderr's error lines other than the poll summary."""
    return [line for line in run.stderr.splitlines() if "level=error" in line and "poll finished" not in line]


@dataclass
class SteadyState:
    hub: SimulatedHub
    poll: Callable[..., PollRun]
    state_dir: Path
    checkpoint: bytes  # as the last good poll committed it
    new_ids: list[str]  # on the Hub, not yet printed

    def assert_failed_cleanly(self, run: PollRun, code: ExitCode, *phrases: str) -> None:
        assert run.returncode == code, run.stderr
        assert run.stdout == b""
        errors = error_lines(run)
        assert errors, run.stderr
        for phrase in phrases:
            assert phrase.lower() in errors[0].lower(), errors[0]
        assert f"exit_code={int(code)}" in run.stderr  # the summary line names the outcome too
        self.assert_checkpoint_kept()

    def assert_checkpoint_kept(self) -> None:
        assert (self.state_dir / f"{ORG}.json").read_bytes() == self.checkpoint
        assert {p.name for p in self.state_dir.iterdir()} <= STATE_FILES  # no temp or spool file left

    def assert_next_poll_prints_the_new_events_once(self, **overrides: str) -> None:
        run = self.poll(**overrides)
        assert run.returncode == ExitCode.OK, run.stderr
        assert run.event_ids == self.new_ids
        assert self.poll(**overrides).stdout == b""


@pytest.fixture
def steady(hub: SimulatedHub, poll: Callable[..., PollRun], state_dir: Path) -> SteadyState:
    hub.set_order("oldest-first")
    assert poll().returncode == ExitCode.OK
    added = hub.generate_newer(5)
    return SteadyState(hub, poll, state_dir, (state_dir / f"{ORG}.json").read_bytes(), ids_oldest_first(added))


# --- the network -----------------------------------------------------------------------------


@pytest.fixture
def unresponsive_endpoint() -> Iterator[str]:
    """A loopback URL whose TCP handshake never completes: a listener with a backlog of 0 whose
    accept queue is kept full, so the kernel drops every further SYN and connect() hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    held: list[socket.socket] = []
    try:
        for _ in range(8):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(0.5)
            try:
                probe.connect(address)
            except TimeoutError:
                probe.close()
                break
            held.append(probe)
        else:
            pytest.skip("this kernel completes loopback connections even to a full accept queue")
        yield f"http://{address[0]}:{address[1]}"
    finally:
        for sock in held:
            sock.close()
        listener.close()


def test_connect_timeout(steady, unresponsive_endpoint):
    run = steady.poll(HF_ENDPOINT=unresponsive_endpoint, HF_AUDIT_CONNECT_TIMEOUT="1", HF_AUDIT_MAX_RETRIES="0")
    steady.assert_failed_cleanly(run, ExitCode.NETWORK, "cannot reach", "timed out")
    steady.assert_next_poll_prints_the_new_events_once()


def test_read_stall_before_the_headers(steady):
    steady.hub.queue_fault(Fault(kind="stall", where="headers", seconds=4))
    run = steady.poll(HF_AUDIT_READ_TIMEOUT="1", HF_AUDIT_MAX_RETRIES="0")
    steady.assert_failed_cleanly(run, ExitCode.NETWORK, "timed out")
    steady.assert_next_poll_prints_the_new_events_once()


def test_read_stall_mid_body(steady):
    steady.hub.queue_fault(Fault(kind="stall", where="body", fraction=0.5, seconds=4))
    run = steady.poll(HF_AUDIT_READ_TIMEOUT="1", HF_AUDIT_MAX_RETRIES="0")
    steady.assert_failed_cleanly(run, ExitCode.NETWORK, "broke off midway", "timed out")
    steady.assert_next_poll_prints_the_new_events_once()


def test_connection_reset_mid_body(steady):
    steady.hub.queue_fault(Fault(kind="reset", where="body", fraction=0.5))
    run = steady.poll(HF_AUDIT_MAX_RETRIES="0")
    steady.assert_failed_cleanly(run, ExitCode.NETWORK, "broke off midway", "nothing was emitted")
    steady.assert_next_poll_prints_the_new_events_once()


def test_5xx_burst_longer_than_the_retries(steady):
    steady.hub.queue_fault(Fault(kind="status", status=503), times=5)
    run = steady.poll(HF_AUDIT_MAX_RETRIES="1")
    steady.assert_failed_cleanly(run, ExitCode.NETWORK, "HTTP 503", "retries ran out")
    assert len(steady.hub.requests_seen) == 2 + 1  # the good poll, then one try and one retry
    steady.hub.clear_faults()
    steady.assert_next_poll_prints_the_new_events_once()


# --- what the Hub answers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "phrases"),
    [
        pytest.param(Fault(kind="invalid_json"), ExitCode.DATA, ("invalid JSON",), id="invalid_json"),
        pytest.param(Fault(kind="html_page"), ExitCode.DATA, ("HTML page",), id="html_page_with_200"),
        pytest.param(Fault(kind="status", status=502, html=True), ExitCode.NETWORK, ("HTTP 502",), id="html_page_with_502"),
        pytest.param(Fault(kind="json_object", body={"error": "export disabled"}), ExitCode.DATA,
                     ("not a JSON array", "export disabled"), id="json_object_instead_of_an_array"),
        pytest.param(Fault(kind="cut_body", fraction=0.5), ExitCode.NETWORK, ("broke off midway",),
                     id="body_cut_under_its_content_length"),
    ],
)  # fmt: skip
def test_a_bad_answer_after_a_good_poll_loses_nothing(steady, fault, code, phrases):
    steady.hub.queue_fault(fault, times=3)
    run = steady.poll(HF_AUDIT_MAX_RETRIES="0")
    steady.assert_failed_cleanly(run, code, *phrases)
    assert "<html" not in run.stderr.lower()
    steady.hub.clear_faults()
    steady.assert_next_poll_prints_the_new_events_once()


def test_200_with_an_empty_array(steady):
    steady.hub.queue_fault(Fault(kind="empty_array"))
    run = steady.poll()
    assert run.returncode == ExitCode.OK and run.stdout == b""
    assert "lost upstream" not in run.stderr and "lost_upstream=false" in run.stderr
    steady.assert_checkpoint_kept()
    steady.assert_next_poll_prints_the_new_events_once()


def test_a_single_10_mb_event_is_printed_cut_to_the_line_bound_and_flagged(steady):
    big = make_event("repo.update_settings", datetime.now(UTC), rng=random.Random(4), org=ORG)
    big["message"] = "m" * 10_000_000
    steady.hub.add_events([big])
    run = steady.poll()
    assert run.returncode == ExitCode.OK, run.stderr
    assert sorted(run.event_ids) == sorted([*steady.new_ids, big["_id"]])
    line = next(line for line in run.stdout.splitlines(keepends=True) if big["_id"].encode() in line)
    assert len(line) <= 65535
    record = json.loads(line)
    assert record["tags"]["truncated"] == "true"
    assert {"message", "rawLog"} <= set(record["tags"]["truncatedFields"].split(","))
    assert record["eventID"] == big["_id"] and record["message"].startswith("mmm")
    assert steady.poll().stdout == b""


def test_a_clock_far_off_warns_and_prints_each_event_once(state_dir, tmp_path):
    future = datetime.now(UTC) + timedelta(days=3)
    events = generate_events(40, seed=5, end=future, span=timedelta(hours=6))
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        env = poller_env(hub.url, state_dir, tmp_path)
        first = run_like_fluent_bit("hf-audit-poll", env)
        assert first.returncode == ExitCode.OK, first.stderr
        assert first.event_ids == ids_oldest_first(events)
        assert "in the future by this machine's clock" in first.stderr
        added = hub.generate_newer(3)
        assert run_like_fluent_bit("hf-audit-poll", env).event_ids == ids_oldest_first(added)
        assert run_like_fluent_bit("hf-audit-poll", env).stdout == b""


# --- the state directory -----------------------------------------------------------------------


def _run_mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def mounted(*args: str, target: Path) -> Iterator[None]:
    """`mount <args> <target>` for the block, or skip when this process may not mount."""
    try:
        _run_mount(*args, str(target))
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.decode().strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        pytest.skip(f"mounting is not permitted here ({detail or exc}); this fault needs root with CAP_SYS_ADMIN")
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """`directory` made read-only by a bind mount over itself (chmod does not stop root)."""
    with mounted("--bind", str(directory), target=directory):
        _run_mount("-o", "remount,bind,ro", str(directory))
        yield


def test_read_only_state_directory_exits_7_with_a_clear_message(steady):
    with read_only(steady.state_dir):
        run = steady.poll()
    assert run.returncode == ExitCode.STATE, run.stderr
    assert "read-only file system" in error_lines(run)[0].lower()
    assert "internal error" not in run.stderr


def test_read_only_state_directory_prints_nothing_and_loses_nothing(steady):
    with read_only(steady.state_dir):
        run = steady.poll()
    assert run.returncode != ExitCode.OK and run.stdout == b""
    steady.assert_checkpoint_kept()
    steady.assert_next_poll_prints_the_new_events_once()


def test_state_directory_under_a_regular_file(steady, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    run = steady.poll(HF_AUDIT_STATE_DIR=str(blocker / "state"))
    steady.assert_failed_cleanly(run, ExitCode.STATE, "cannot create the state directory", "not a directory")
    steady.assert_next_poll_prints_the_new_events_once()


@pytest.fixture
def crowded_hub() -> Iterator[SimulatedHub]:
    """2,000 events within the last hours: all in the lookback window, so the checkpoint holds
    all their ids (~100 KB) while a poll of a few new events spools only a few KB."""
    events = generate_events(2000, seed=9, end=datetime.now(UTC) - timedelta(minutes=1), span=timedelta(hours=3))
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as running:
        yield running


def _fill(directory: Path, leave_free: int) -> Path:
    """Fill the file system of `directory` but for about `leave_free` bytes; returns the filler."""
    filler = directory / "filler"
    with open(filler, "wb") as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
                out.flush()
    os.truncate(filler, max(0, filler.stat().st_size - leave_free))
    return filler


@dataclass
class SmallDisk:
    env: dict[str, str]
    checkpoint: bytes  # the checkpoint after one good poll
    added: list[str]  # ids of the events the Hub got since, oldest first


@contextlib.contextmanager
def small_disk_after_a_good_poll(hub: SimulatedHub, state_dir: Path, home: Path) -> Iterator[SmallDisk]:
    """The state directory on an 8 MB tmpfs, after one good poll, with three new events waiting."""
    state_dir.mkdir()
    env = poller_env(hub.url, state_dir, home)
    with mounted("-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", target=state_dir):
        assert run_like_fluent_bit("hf-audit-poll", env).returncode == ExitCode.OK
        checkpoint = (state_dir / f"{ORG}.json").read_bytes()
        yield SmallDisk(env, checkpoint, ids_oldest_first(hub.generate_newer(3)))


def test_disk_full_while_writing_the_checkpoint(crowded_hub, state_dir, tmp_path):
    with small_disk_after_a_good_poll(crowded_hub, state_dir, tmp_path) as disk:
        filler = _fill(state_dir, leave_free=48 * 1024)  # the spool fits, the new checkpoint does not
        failed = run_like_fluent_bit("hf-audit-poll", disk.env)
        assert failed.returncode == ExitCode.STATE, failed.stderr
        assert "cannot write the checkpoint" in failed.stderr and "No space left on device" in failed.stderr
        assert (state_dir / f"{ORG}.json").read_bytes() == disk.checkpoint
        filler.unlink()
        following = run_like_fluent_bit("hf-audit-poll", disk.env)
        assert not [p.name for p in state_dir.iterdir() if p.name.startswith(".")]
    # Printed before the commit failed, so printed again: a duplicate of exactly those, no loss.
    assert failed.event_ids == disk.added and following.event_ids == disk.added


def test_disk_full_while_spooling_the_new_events(crowded_hub, state_dir, tmp_path):
    with small_disk_after_a_good_poll(crowded_hub, state_dir, tmp_path) as disk:
        filler = _fill(state_dir, leave_free=0)
        failed = run_like_fluent_bit("hf-audit-poll", disk.env)
        assert failed.returncode == ExitCode.STATE, failed.stderr
        assert failed.stdout == b""  # the spool fails before anything is printed
        assert "cannot spool new events" in failed.stderr and "No space left on device" in failed.stderr
        assert (state_dir / f"{ORG}.json").read_bytes() == disk.checkpoint
        filler.unlink()
        following = run_like_fluent_bit("hf-audit-poll", disk.env)
    assert following.event_ids == disk.added


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_file_size_limit_while_writing_the_checkpoint(crowded_hub, state_dir, tmp_path):
    env = poller_env(crowded_hub.url, state_dir, tmp_path)
    assert run_like_fluent_bit("hf-audit-poll", env).returncode == ExitCode.OK
    checkpoint = (state_dir / f"{ORG}.json").read_bytes()
    assert len(checkpoint) > 64 * 1024
    added = ids_oldest_first(crowded_hub.generate_newer(3))
    proc = subprocess.run(["hf-audit-poll"], env=env, capture_output=True, timeout=120, preexec_fn=_file_size_limit(64 * 1024))
    stderr = proc.stderr.decode()
    assert_no_secret(proc.stdout, stderr)
    assert proc.returncode == ExitCode.STATE, stderr
    assert "cannot write the checkpoint" in stderr and "File too large" in stderr
    assert (state_dir / f"{ORG}.json").read_bytes() == checkpoint
    printed = [json.loads(line)["eventID"] for line in proc.stdout.splitlines()]
    following = run_like_fluent_bit("hf-audit-poll", env)
    assert printed == added and following.event_ids == added
