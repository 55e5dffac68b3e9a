"""The poll slots (a semaphore over K lock files of a state directory) and the command that takes one.

No Fluent Bit needed: the slots are flock(2) locks, tested across real processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import poller_env, run_like_fluent_bit
from hf_audit import launch, settings
from hf_audit.cli import OPTIONS
from hf_audit.slots import PollSlots, SlotTimeout, slot_file_name

HOLD_SLOT = """
import sys, time
from hf_audit.slots import PollSlots
slot = PollSlots(sys.argv[1], int(sys.argv[2])).acquire(timeout=None)
print(slot.index, flush=True)
time.sleep(float(sys.argv[3]))
"""


def hold_slot(directory: Path, count: int, seconds: float = 60) -> subprocess.Popen[str]:
    """Another process holding one slot until it is killed (or `seconds` pass)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SLOT, str(directory), str(count), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip().isdigit()  # it holds the slot now
    return holder


def test_k_polls_take_k_different_slots(tmp_path: Path) -> None:
    slots = PollSlots(str(tmp_path), 3)
    taken = [slots.try_acquire() for _ in range(3)]
    assert sorted(slot.index for slot in taken if slot) == [1, 2, 3]


def test_a_poll_beyond_k_finds_no_slot(tmp_path: Path) -> None:
    slots = PollSlots(str(tmp_path), 2)
    held = [slots.try_acquire(), slots.try_acquire()]
    assert all(held)
    assert slots.try_acquire() is None


def test_a_released_slot_is_free_again(tmp_path: Path) -> None:
    slots = PollSlots(str(tmp_path), 1)
    first = slots.try_acquire()
    assert first is not None
    first.release()
    assert slots.try_acquire() is not None


def test_slots_are_shared_between_processes(tmp_path: Path) -> None:
    holder = hold_slot(tmp_path, 1)
    try:
        assert PollSlots(str(tmp_path), 1).try_acquire() is None
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    holder = hold_slot(tmp_path, 1)
    holder.kill()  # SIGKILL: no cleanup code runs; the kernel drops the flock with the process
    holder.wait()
    assert PollSlots(str(tmp_path), 1).try_acquire() is not None


def test_a_waiting_poll_gets_the_slot_when_the_holder_ends(tmp_path: Path) -> None:
    holder = hold_slot(tmp_path, 1, seconds=1.0)
    try:
        slot = PollSlots(str(tmp_path), 1, retry_seconds=0.05).acquire(timeout=30)
        assert slot.waited_seconds > 0.3
    finally:
        holder.kill()
        holder.wait()


def test_waiting_gives_up_after_the_timeout(tmp_path: Path) -> None:
    holder = hold_slot(tmp_path, 1)
    waits: list[bool] = []
    try:
        with pytest.raises(SlotTimeout, match="all 1 poll slots"):
            PollSlots(str(tmp_path), 1, retry_seconds=0.02).acquire(timeout=0.2, on_wait=lambda: waits.append(True))
    finally:
        holder.kill()
        holder.wait()
    assert waits == [True]  # told once that it waits, not at every retry


def test_the_slot_files_are_named_so_no_organization_can_clash(tmp_path: Path) -> None:
    PollSlots(str(tmp_path), 1).try_acquire()
    (name,) = [p.name for p in tmp_path.iterdir()]
    assert name == slot_file_name(1) == "_poll-slot-1.lock"
    with pytest.raises(ValueError):
        settings.validate_org(name.removesuffix(".lock"))


def test_the_state_directory_is_created_private(tmp_path: Path) -> None:
    PollSlots(str(tmp_path / "new"), 1).try_acquire()
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700


def test_zero_slots_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        PollSlots(str(tmp_path), 0)


# --- which invocations take a slot, and with which settings -------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [[], ["poll"], ["--org", "check"], ["--org=state", "poll"], ["--dry-run"], ["poll", "--dry-run", "--org", "x"]],
)
def test_a_poll_takes_a_slot(argv: list[str], tmp_path: Path) -> None:
    request = launch.slot_request(argv, {"HF_AUDIT_STATE_DIR": str(tmp_path)})
    assert request == launch.SlotRequest(str(tmp_path), 2, 1800.0)


@pytest.mark.parametrize("argv", [["doctor"], ["check"], ["state", "show"], ["--org", "x", "state", "reset", "--yes"], ["--help"], ["--version"], ["poll", "-h"]])
def test_the_operator_commands_take_no_slot(argv: list[str]) -> None:
    assert launch.slot_request(argv, {}) is None


def test_flags_win_over_the_environment() -> None:
    env = {"HF_AUDIT_POLL_SLOTS": "5", "HF_AUDIT_STATE_DIR": "/env", "HF_AUDIT_POLL_SLOT_TIMEOUT": "1m"}
    request = launch.slot_request(["--poll-slots", "3", "--state-dir=/flag", "--poll-slot-timeout", "90s"], env)
    assert request == launch.SlotRequest("/flag", 3, 90.0)


def test_zero_slots_turns_the_limit_off() -> None:
    assert launch.slot_request([], {"HF_AUDIT_POLL_SLOTS": "0"}) is None


def test_a_zero_timeout_waits_without_limit() -> None:
    request = launch.slot_request([], {"HF_AUDIT_POLL_SLOT_TIMEOUT": "0"})
    assert request is not None and request.timeout is None


@pytest.mark.parametrize("env", [{"HF_AUDIT_POLL_SLOTS": "two"}, {"HF_AUDIT_POLL_SLOTS": "-1"}, {"HF_AUDIT_POLL_SLOT_TIMEOUT": "soon"}])
def test_a_setting_that_does_not_read_takes_no_slot(env: dict[str, str]) -> None:
    # The full command line then refuses it with exit 2 and its usual message.
    assert launch.slot_request([], env) is None


@pytest.mark.parametrize(
    "env",
    [{"HOME": "/home/u"}, {"HOME": "/home/u", "XDG_STATE_HOME": "/var/state"}, {"HOME": "/home/u", "XDG_STATE_HOME": ""}],
)
def test_the_default_state_directory_is_the_pollers(env: dict[str, str]) -> None:
    assert Path(launch.default_state_dir(env)) == settings.default_state_dir(env)


@pytest.mark.parametrize("text", ["90s", "30m", "2h", "1d", "45", "0.5s", "250ms"])
def test_durations_read_as_the_settings_read_them(text: str) -> None:
    timeout = launch.slot_request([], {"HF_AUDIT_STATE_DIR": "/s", "HF_AUDIT_POLL_SLOT_TIMEOUT": text})
    assert timeout is not None and timeout.timeout == settings.parse_duration(text).total_seconds()


def test_the_slot_defaults_are_the_settings_models() -> None:
    model = settings.Settings.model_fields
    request = launch.slot_request([], {"HF_AUDIT_STATE_DIR": "/s"})
    assert request == launch.SlotRequest("/s", model["poll_slots"].default, model["poll_slot_timeout"].default.total_seconds())


def test_the_slot_options_are_the_command_lines() -> None:
    # launch reads the flags and variables the full command line declares for these three settings.
    options = {option.field: (option.flag, option.env) for option in OPTIONS}
    argv = [options["poll_slots"][0], "5", f"{options['poll_slot_timeout'][0]}=7s", options["state_dir"][0], "/f"]
    assert launch.slot_request(argv, {}) == launch.SlotRequest("/f", 5, 7.0)
    env = {options["poll_slots"][1]: "6", options["poll_slot_timeout"][1]: "8s", options["state_dir"][1]: "/e"}
    assert launch.slot_request([], env) == launch.SlotRequest("/e", 6, 8.0)


def test_the_settings_accept_the_slot_options() -> None:
    built = settings.build_settings({"org": "acme", "token": "t", "token_source": "x", "state_dir": "/s", "poll_slots": 4, "poll_slot_timeout": timedelta(0)})
    assert (built.poll_slots, built.poll_slot_timeout) == (4, timedelta(0))


# --- the installed command ----------------------------------------------------------------------------


def test_a_poll_waits_for_a_slot_and_then_polls(hub, state_dir: Path, tmp_path: Path) -> None:
    holder = hold_slot(state_dir, 1, seconds=2.0)
    try:
        started = time.monotonic()
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_POLL_SLOTS="1"))
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 0, run.stderr
    assert len(run.records) == len(hub.events)
    assert waited > 1.0
    assert "waited" in run.stderr and "event=poll_slot" in run.stderr


def test_a_poll_that_waits_too_long_does_nothing_and_says_so(hub, state_dir: Path, tmp_path: Path) -> None:
    holder = hold_slot(state_dir, 1)
    try:
        env = poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_POLL_SLOTS="1", HF_AUDIT_POLL_SLOT_TIMEOUT="1s")
        run = run_like_fluent_bit("hf-audit-poll", env)
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 8
    assert run.stdout == b""
    assert "all 1 poll slots" in run.stderr and "level=error" in run.stderr
    assert hub.requests_seen == []  # nothing was requested
    assert not (state_dir / "acme.json").exists()


def test_a_waiting_poll_ends_at_once_on_sigterm(hub, state_dir: Path, tmp_path: Path) -> None:
    holder = hold_slot(state_dir, 1)
    env = poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_POLL_SLOTS="1")
    # As Fluent Bit does: its own process group, SIGTERM to the whole group at shutdown.
    poll = subprocess.Popen(["/bin/sh", "-c", "hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        time.sleep(1.0)
        os.killpg(poll.pid, signal.SIGTERM)
        stdout, _ = poll.communicate(timeout=10)
    finally:
        holder.kill()
        holder.wait()
    assert poll.returncode != 0
    assert stdout == b""
    assert hub.requests_seen == []


def test_a_waiting_poll_stays_small(state_dir: Path, tmp_path: Path) -> None:
    holder = hold_slot(state_dir, 1)
    env = poller_env("http://127.0.0.1:9", state_dir, tmp_path, HF_AUDIT_POLL_SLOTS="1")
    poll = subprocess.Popen(["hf-audit-poll"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        modules = Path(f"/proc/{poll.pid}/maps").read_text()
    finally:
        poll.kill()
        poll.wait()
        holder.kill()
        holder.wait()
    # Waiting, it has loaded none of the poller's heavy dependencies (their extension modules).
    assert "pydantic_core" not in modules and "orjson" not in modules


def test_a_poll_with_slots_off_runs_at_once(hub, state_dir: Path, tmp_path: Path) -> None:
    holder = hold_slot(state_dir, 1)
    try:
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_POLL_SLOTS="0"))
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 0 and len(run.records) == len(hub.events)


def test_a_bad_slot_setting_is_refused_before_any_request(hub, state_dir: Path, tmp_path: Path) -> None:
    run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_POLL_SLOTS="lots"))
    assert run.returncode == 2
    assert "--poll-slots / HF_AUDIT_POLL_SLOTS" in run.stderr
    assert hub.requests_seen == []


def test_python_m_hf_audit_takes_the_slot_too(hub, state_dir: Path, tmp_path: Path) -> None:
    holder = hold_slot(state_dir, 1)
    try:
        env = poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_POLL_SLOTS="1", HF_AUDIT_POLL_SLOT_TIMEOUT="0.5s")
        run = run_like_fluent_bit(f"{sys.executable} -m hf_audit", env)
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 8


def test_the_slot_is_held_for_the_whole_poll(hub, state_dir: Path, tmp_path: Path) -> None:
    # A slow Hub body keeps the poll downloading; meanwhile the only slot is taken.
    from hf_audit.simhub.server import Fault

    hub.queue_fault(Fault(kind="slow_body", chunk_size=4096, seconds=0.2))
    env = poller_env(hub.url, state_dir, tmp_path, HF_AUDIT_POLL_SLOTS="1")
    poll = subprocess.Popen(["/bin/sh", "-c", "hf-audit-poll"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not hub.requests_seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.requests_seen, "the poll never reached the Hub"
        assert PollSlots(str(state_dir), 1).try_acquire() is None
        stdout, _ = poll.communicate(timeout=60)
    finally:
        if poll.poll() is None:
            poll.kill()
            poll.wait()
    assert poll.returncode == 0 and stdout
    assert PollSlots(str(state_dir), 1).try_acquire() is not None
    assert os.listdir(state_dir)  # the poll's own files are there too
