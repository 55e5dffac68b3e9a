"""Issue 9, "losing or hiding events": a far-future event, a reader that goes away, SIGINT and
SIGHUP while printing, and times the checkpoint cannot hold. Each test fails on the code before
the fix. The same with a real Fluent Bit killed mid-backfill: tests/test_fluentbit_restart.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import signal
import struct
import subprocess
import termios
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chaos_harness import OutputReader, summary_of
from conftest import ORG, TOKEN, poller_env, run_like_fluent_bit
from hf_audit.errors import ExitCode
from hf_audit.output import READER_BUFFER_BYTES, READER_BUFFER_LINES, LineWriter
from hf_audit.simhub.events import generate_events, make_event
from hf_audit.simhub.server import SimulatedHub
from hf_audit.state import StateStore
from hf_audit.timefmt import format_time, parse_time

FAR_FUTURE = "2099-06-01T12:00:00.000Z"


def event_at(created_at: str, seed: int, event_type: str = "repo.create") -> dict:
    return make_event(event_type, parse_time(created_at), rng=random.Random(seed), org=ORG)


def fresh_events(count: int, seed: int) -> list[dict]:
    """Events of the last minute, as a Hub adds them between two polls."""
    return generate_events(count, seed=seed, end=datetime.now(UTC) - timedelta(seconds=1), span=timedelta(seconds=50), org=ORG)


def json_poll(hub: SimulatedHub, state_dir: Path, home: Path, command: str = "hf-audit-poll", **overrides: str):
    run = run_like_fluent_bit(command, poller_env(hub.url, state_dir, home, HF_AUDIT_LOG_FORMAT="json", **overrides))
    return run, summary_of(run.stderr.encode())


def checkpoint(state_dir: Path):
    return StateStore(state_dir, ORG, lock_timeout=1).load()


def ids_oldest_first(events: list[dict]) -> list[str]:
    return [e["_id"] for e in sorted(events, key=lambda e: (e["createdAt"], e["_id"]))]


# --- 1. a far-future event ------------------------------------------------------------------------


def test_a_far_future_event_is_printed_once_and_later_events_keep_coming(hub, state_dir, tmp_path):
    future = event_at(FAR_FUTURE, seed=1)
    hub.add_events([future])
    first, summary = json_poll(hub, state_dir, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.event_ids.count(future["_id"]) == 1
    assert summary["future"] == 1 and summary["outcome"] == "ok"
    assert "dated after this machine's clock" in first.stderr

    newer = fresh_events(7, seed=2)
    hub.add_events(newer)
    second, summary = json_poll(hub, state_dir, tmp_path)
    assert second.returncode == 0
    assert sorted(second.event_ids) == sorted(e["_id"] for e in newer)  # the 2099 event not again
    assert summary["future"] == 0


def test_the_watermark_never_passes_the_clock_plus_the_skew(hub, state_dir, tmp_path):
    hub.add_events([event_at(FAR_FUTURE, seed=1)])
    before = datetime.now(UTC)
    json_poll(hub, state_dir, tmp_path, HF_AUDIT_CLOCK_SKEW="10m")
    saved = checkpoint(state_dir)
    assert saved.watermark <= format_time(datetime.now(UTC) + timedelta(minutes=10))
    assert saved.watermark < format_time(before)  # the newest real event, not the clock: none is ahead
    assert FAR_FUTURE in saved.seen.values()  # remembered by id until the clock passes it


def test_an_event_within_the_skew_moves_the_watermark(hub, state_dir, tmp_path):
    ahead = format_time(datetime.now(UTC) + timedelta(minutes=30))
    hub.add_events([event_at(ahead, seed=3)])
    _, summary = json_poll(hub, state_dir, tmp_path, HF_AUDIT_CLOCK_SKEW="1h")
    assert summary["future"] == 0
    assert checkpoint(state_dir).watermark == ahead


def test_a_checkpoint_frozen_in_the_future_is_taken_back_to_the_clock(hub, state_dir, tmp_path, export_events):
    # What the code before the fix saved after a 2099 event: a watermark that hides every event.
    json_poll(hub, state_dir, tmp_path)
    store = StateStore(state_dir, ORG, lock_timeout=1)
    with store.lock():
        store.save(store.load().model_copy(update={"watermark": FAR_FUTURE}))
    newer = fresh_events(5, seed=4)
    hub.add_events(newer)
    run, summary = json_poll(hub, state_dir, tmp_path)
    assert set(e["_id"] for e in newer) <= set(run.event_ids)
    assert "watermark 2099-06-01T12:00:00.000Z is later than this machine's clock" in run.stderr
    assert checkpoint(state_dir).watermark < FAR_FUTURE


def test_future_events_are_counted_in_the_health_file_and_the_metrics(hub, state_dir, tmp_path):
    hub.add_events([event_at(FAR_FUTURE, seed=1), event_at("2098-01-01T00:00:00.000Z", seed=5)])
    json_poll(hub, state_dir, tmp_path)
    health = json.loads((state_dir / f"{ORG}.health").read_text())
    assert health["last_poll"]["future"] == 2
    assert f'hf_audit_last_poll_events_future{{org="{ORG}"}} 2.0' in (state_dir / f"{ORG}.prom").read_text()


@pytest.mark.parametrize("value", ["2d", "-5m", "soon"])
def test_a_clock_skew_beyond_a_day_or_not_a_duration_is_a_settings_error(poll, value):
    run = poll(HF_AUDIT_CLOCK_SKEW=value)
    assert run.returncode == ExitCode.USAGE and run.stdout == b""
    assert "clock" in run.stderr.lower()


def test_set_watermark_refuses_a_future_time_without_force(poll, state_dir):
    future = format_time(datetime.now(UTC) + timedelta(hours=1))
    refused = poll(f"state set-watermark {future} --yes")
    assert refused.returncode == ExitCode.USAGE
    assert "future" in refused.stderr and "--force" in refused.stderr
    assert not (state_dir / f"{ORG}.json").exists()
    forced = poll(f"state set-watermark {future} --yes --force")
    assert forced.returncode == 0, forced.stderr
    assert checkpoint(state_dir).floor == future


def test_set_watermark_takes_a_past_time_without_force(poll, state_dir):
    past = format_time(datetime.now(UTC) - timedelta(days=1))
    assert poll(f"state set-watermark {past} --yes").returncode == 0
    assert checkpoint(state_dir).watermark == past


# --- 2. a reader that goes away -------------------------------------------------------------------


def test_a_reader_that_takes_one_line_and_exits_loses_nothing(hub, state_dir, tmp_path, export_events):
    env = poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_LOG_FORMAT="json")
    proc = subprocess.run(["/bin/sh", "-c", "hf-audit-poll | head -1"], env=env, capture_output=True, timeout=60)
    taken = [json.loads(line)["eventID"] for line in proc.stdout.splitlines()]
    summary = summary_of(proc.stderr)
    assert len(taken) == 1
    assert summary["outcome"] == "output_error" and summary["exit_code"] == ExitCode.OUTPUT
    assert "stdout's reader went away" in proc.stderr.decode()

    rest = run_like_fluent_bit("hf-audit-poll", env)
    assert rest.returncode == 0
    assert set(taken) | set(rest.event_ids) == set(ids_oldest_first(export_events))


def test_the_exit_code_of_a_poll_whose_reader_went_away_is_output(hub, state_dir, tmp_path):
    env = poller_env(hub.url, state_dir, tmp_path)
    proc = subprocess.run(["bash", "-c", "hf-audit-poll | head -c 100 >/dev/null; exit ${PIPESTATUS[0]}"], env=env, capture_output=True, timeout=60)
    assert proc.returncode == ExitCode.OUTPUT, proc.stderr


def _poll_into(env: dict[str, str], reader) -> tuple[subprocess.Popen, str]:
    """Run the poller with stdout a pipe handed to `reader(read_fd, proc)`; return it and its stderr."""
    proc = subprocess.Popen(["/bin/sh", "-c", "hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    reader(proc)
    _, err = proc.communicate(timeout=60)
    return proc, err.decode()


def test_a_reader_that_closes_midway_loses_nothing(state_dir, tmp_path):
    events = generate_events(3000, seed=21, span=timedelta(days=2), org=ORG)
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        env = poller_env(hub.url, state_dir, tmp_path)
        taken = bytearray()

        def read_some_then_close(proc: subprocess.Popen) -> None:
            while len(taken) < 400_000:
                taken.extend(proc.stdout.read(65536))
            proc.stdout.close()

        proc, err = _poll_into(env, read_some_then_close)
        assert proc.returncode == ExitCode.OUTPUT, err
        whole = [json.loads(line)["eventID"] for line in bytes(taken).splitlines(keepends=True) if line.endswith(b"\n")]
        rest = run_like_fluent_bit("hf-audit-poll", env).event_ids
    assert set(whole) | set(rest) == {e["_id"] for e in events}
    assert rest == ids_oldest_first(events)[len(events) - len(rest) :]


def test_a_reader_that_dies_after_the_last_write_is_caught_by_the_wait_for_the_pipe_to_drain(hub, state_dir, tmp_path, export_events):
    # 300 events fit in the pipe: every write succeeds, then the reader exits without reading.
    env = poller_env(hub.url, state_dir, tmp_path)

    def read_nothing_then_close(proc: subprocess.Popen) -> None:
        last, steady_since = -1, time.monotonic()
        while time.monotonic() - steady_since < 1.0:  # the poller has written everything
            unread = _fionread(proc.stdout.fileno())
            if unread != last or unread == 0:
                last, steady_since = unread, time.monotonic()
            time.sleep(0.02)
        proc.stdout.close()

    proc, err = _poll_into(env, read_nothing_then_close)
    assert proc.returncode == ExitCode.OUTPUT, err
    assert "went away" in err
    rest = run_like_fluent_bit("hf-audit-poll", env).event_ids
    assert rest == ids_oldest_first(export_events)


def _fionread(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_a_slow_reader_that_stays_gets_everything_committed(hub, state_dir, tmp_path, export_events):
    env = poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_LOG_FORMAT="json")
    proc = subprocess.Popen(["/bin/sh", "-c", "hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    reader = OutputReader(proc.stdout.fileno(), chunk=4096, pause=0.002)
    reader.start()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    reader.join(timeout=30)
    proc.stdout.close()
    assert proc.returncode == 0, err
    assert summary_of(err)["unconfirmed"] == 0
    assert len(reader.data.splitlines()) == len(export_events)
    assert run_like_fluent_bit("hf-audit-poll", env).event_ids == []  # all committed


def test_stdout_a_regular_file_commits_every_line_written(hub, state_dir, tmp_path, export_events):
    out = tmp_path / "out.jsonl"
    env = poller_env(hub.url, state_dir, tmp_path)
    with out.open("wb") as sink:
        proc = subprocess.run(["/bin/sh", "-c", "hf-audit-poll"], env=env, stdout=sink, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 0
    assert len(out.read_bytes().splitlines()) == len(export_events)
    assert run_like_fluent_bit("hf-audit-poll", env).event_ids == []  # all committed


def test_the_margin_counts_the_last_lines_as_undelivered_when_the_reader_is_gone():
    read_fd, write_fd = os.pipe()
    try:
        writer = LineWriter(write_fd, 4096, lambda: False)
        line = b"x" * 99 + b"\n"
        for _ in range(3000):  # 300 KB: fits the enlarged pipe
            writer.write(line)
        writer.flush()
        os.read(read_fd, 200_000)
        os.close(read_fd)
        read_fd = -1
        with pytest.raises(BrokenPipeError):
            writer.wait_until_read()
        assert writer.written == 3000
        assert writer.delivered(reader_at_risk=False) == 3000
        # 300 KB is well inside the margin (pipe + 1 MiB): nothing counts as delivered.
        assert writer.delivered(reader_at_risk=True) == 0
    finally:
        os.close(write_fd)
        if read_fd >= 0:
            os.close(read_fd)


def _write_while_read(line_bytes: int, lines: int) -> tuple[LineWriter, int]:
    """`lines` lines written through a pipe that a thread reads as they come; the writer and the
    pipe's size."""
    read_fd, write_fd = os.pipe()

    def drain() -> None:
        while os.read(read_fd, 1 << 20):
            pass

    drained = threading.Thread(target=drain)
    try:
        writer = LineWriter(write_fd, 65535, lambda: False)
        drained.start()
        for _ in range(lines):
            writer.write(b"w" * (line_bytes - 1) + b"\n")
        writer.flush()
        writer.wait_until_read()
        return writer, fcntl.fcntl(write_fd, 1032)  # F_GETPIPE_SZ
    finally:
        os.close(write_fd)
        drained.join(timeout=30)
        os.close(read_fd)


@pytest.mark.parametrize(("line_bytes", "lines"), [(1000, 3000), (2000, 3000), (200, 20000)])
def test_the_margin_is_the_pipe_and_a_reader_buffer_in_bytes_and_at_least_the_reader_buffer_lines(line_bytes, lines):
    writer, pipe_bytes = _write_while_read(line_bytes, lines)
    margin_bytes = pipe_bytes + READER_BUFFER_BYTES
    by_bytes = (lines * line_bytes - margin_bytes) // line_bytes
    assert writer.written == lines
    assert writer.delivered(reader_at_risk=False) == lines
    assert writer.delivered(reader_at_risk=True) == max(0, min(by_bytes, lines - READER_BUFFER_LINES))


def test_a_reader_that_stays_but_takes_nothing_is_given_up_on(monkeypatch):
    monkeypatch.setattr("hf_audit.output.DRAIN_STALL_SECONDS", 0.3)
    read_fd, write_fd = os.pipe()
    try:
        writer = LineWriter(write_fd, 4096, lambda: False)
        writer.write(b"z" * 99 + b"\n")
        writer.flush()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            writer.wait_until_read()
        assert time.monotonic() - started < 5
    finally:
        os.close(read_fd)
        os.close(write_fd)


# --- 3. SIGINT and SIGHUP while printing --------------------------------------------------------


@pytest.fixture
def big_hub():
    events = generate_events(4000, seed=3, span=timedelta(days=3), org=ORG)
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as running:
        yield running


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP, signal.SIGTERM], ids=["sigint", "sighup", "sigterm"])
def test_a_stop_signal_while_printing_to_a_pipe_stops_cleanly_and_loses_nothing(big_hub, state_dir, tmp_path, signum):
    env = poller_env(big_hub.url, state_dir, tmp_path, HF_AUDIT_LOG_FORMAT="json")
    proc = subprocess.Popen(["hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    first = proc.stdout.readline()  # printing has started; the pipe is full behind it
    time.sleep(0.5)
    proc.send_signal(signum)
    rest, err = proc.communicate(timeout=30)
    printed = [json.loads(line)["eventID"] for line in (first + rest).splitlines()]
    summary = summary_of(err)
    name = signal.Signals(signum).name
    assert proc.returncode == ExitCode.INTERRUPTED, err.decode()
    assert summary is not None and summary["outcome"] == "interrupted"
    assert f"stopped by {name} after {len(printed)} of 4000 new events were printed" in err.decode()
    assert "before any event was printed" not in err.decode()
    following = run_like_fluent_bit("hf-audit-poll", env).event_ids
    everything = ids_oldest_first(big_hub.events)
    committed = len(everything) - len(following)
    assert following == everything[committed:] and printed == everything[: len(printed)]
    assert len(printed) - committed == summary["unconfirmed"]
    assert 0 <= committed <= len(printed)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP], ids=["sigint", "sighup"])
def test_a_stop_signal_while_printing_to_a_terminal_commits_exactly_what_was_printed(big_hub, state_dir, tmp_path, signum):
    """A terminal holds no reader buffer that could be lost: what was printed is committed."""
    env = poller_env(big_hub.url, state_dir, tmp_path, HF_AUDIT_LOG_FORMAT="json")
    controller, terminal = pty.openpty()
    attrs = termios.tcgetattr(terminal)
    attrs[1] &= ~termios.OPOST  # no \r added to each \n
    termios.tcsetattr(terminal, termios.TCSANOW, attrs)
    proc = subprocess.Popen(["hf-audit-poll"], env=env, stdout=terminal, stderr=subprocess.PIPE)
    os.close(terminal)
    shown = bytearray()
    while shown.count(b"\n") < 200:  # reading slowly: the poller waits on the terminal
        shown.extend(os.read(controller, 4096))
        time.sleep(0.001)
    proc.send_signal(signum)
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO once the poller closed the terminal
            break
        if not chunk:
            break
        shown.extend(chunk)
    err = proc.stderr.read()
    proc.wait(timeout=30)
    os.close(controller)
    printed = [json.loads(line)["eventID"] for line in bytes(shown).splitlines()]
    assert proc.returncode == ExitCode.INTERRUPTED, err.decode()
    assert summary_of(err)["outcome"] == "interrupted"
    assert set(checkpoint(state_dir).seen) == set(printed)
    following = run_like_fluent_bit("hf-audit-poll", env).event_ids
    assert printed + following == ids_oldest_first(big_hub.events)


# --- 4. times the checkpoint cannot hold --------------------------------------------------------


@pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00.000Z", "1999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"])
def test_an_event_outside_the_plausible_time_range_is_reported_once_and_skipped(hub, state_dir, tmp_path, export_events, created_at):
    odd = event_at(created_at, seed=8)
    hub.add_events([odd])
    first, summary = json_poll(hub, state_dir, tmp_path)
    assert first.returncode == 0, first.stderr
    assert odd["_id"] not in first.event_ids
    assert sorted(first.event_ids) == sorted(e["_id"] for e in export_events)
    assert summary["malformed"] == 1
    assert first.stderr.count("outside the plausible range") == 1 and odd["_id"] in first.stderr

    newer = fresh_events(3, seed=9)
    hub.add_events(newer)
    second, _ = json_poll(hub, state_dir, tmp_path)
    assert second.returncode == 0
    assert sorted(second.event_ids) == sorted(e["_id"] for e in newer)
    assert "outside the plausible range" not in second.stderr  # reported once


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("watermark", "not a time"),
        ("watermark", "2026-13-45T00:00:00.000Z"),
        ("watermark", "zzzz"),
        ("floor", "yesterday"),
        ("floor", "2026-11-01"),
    ],
)
def test_a_checkpoint_whose_watermark_or_floor_is_not_a_time_is_a_checkpoint_error(poll, state_dir, field, value):
    assert poll().returncode == 0
    path = state_dir / f"{ORG}.json"
    saved = json.loads(path.read_text())
    saved[field] = value
    path.write_text(json.dumps(saved))
    run = poll()
    assert run.returncode == ExitCode.STATE, run.stderr
    assert run.stdout == b""
    assert "corrupt" in run.stderr and field in run.stderr
