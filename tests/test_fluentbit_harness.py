"""The Fluent Bit test harness itself, on the real Fluent Bit: its waits, stops and failure messages.

A minimal pipeline (a dummy input into the null output) stands in for the shipped ones.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from fluentbit_harness import FluentBit, requires_fluent_bit

pytestmark = requires_fluent_bit

STARTED = "[sp] stream processor started"  # Fluent Bit's log line once its engine runs


def config(tmp_path: Path, input_name: str = "dummy") -> Path:
    path = tmp_path / "harness.yaml"
    path.write_text(
        "service:\n  flush: 1\n  grace: 1\n  log_level: info\n"
        f"pipeline:\n  inputs:\n    - name: {input_name}\n      tag: probe\n  outputs:\n    - name: null\n      match: '*'\n"
    )
    return path


def env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def test_a_wait_returns_once_the_condition_holds(tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    run = fluent_bit(config(tmp_path), env())
    assert run.wait_for(lambda: STARTED in run.log_text(), "the engine to start", timeout=60)
    assert run.running


def test_a_required_wait_that_times_out_fails_with_the_log_tail(tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    run = fluent_bit(config(tmp_path), env())
    run.wait_for(lambda: STARTED in run.log_text(), "the engine to start", timeout=60)
    with pytest.raises(pytest.fail.Exception) as failure:
        run.wait_for(lambda: False, "something that never happens", timeout=1)
    assert "gave up waiting 1 s for something that never happens" in str(failure.value)
    assert STARTED in str(failure.value)  # the log's tail is in the message


def test_a_soft_wait_that_times_out_returns_false(tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    run = fluent_bit(config(tmp_path), env())
    assert run.wait_for(lambda: False, "something that never happens", timeout=1, required=False) is False
    assert run.running


def test_fluent_bit_exiting_during_a_wait_fails_with_its_exit_code_and_log(tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    run = fluent_bit(config(tmp_path, input_name="no_such_plugin"), env())
    with pytest.raises(pytest.fail.Exception) as failure:
        run.wait_for(lambda: False, "anything", timeout=60, required=False)
    assert f"fluent-bit exited ({run.process.returncode if run.process else None}) while waiting for anything" in str(failure.value)
    assert "no_such_plugin" in str(failure.value)


@pytest.mark.parametrize(("sig", "returncode"), [(signal.SIGTERM, 0), (signal.SIGKILL, -signal.SIGKILL)])
def test_stop_sends_the_signal_the_test_asks_for(
    sig: signal.Signals, returncode: int, tmp_path: Path, fluent_bit: Callable[..., FluentBit]
) -> None:
    run = fluent_bit(config(tmp_path), env())
    run.wait_for(lambda: STARTED in run.log_text(), "the engine to start", timeout=60)
    assert run.stop(sig) == returncode
    assert run.returncode == returncode and not run.running


def test_runs_appending_to_one_log_each_read_their_own_part(tmp_path: Path) -> None:
    log = tmp_path / "shared.log"
    with FluentBit(config(tmp_path), env(), log) as first:
        first.wait_for(lambda: STARTED in first.log_text(), "the first engine to start", timeout=60)
    with FluentBit(config(tmp_path), env(), log) as second:
        second.wait_for(lambda: STARTED in second.log_text(), "the second engine to start", timeout=60)
    assert log.read_text(errors="replace").count(STARTED) == 2
    assert second.log_text().count(STARTED) == 1


def test_an_error_inside_a_run_prints_the_log_tail_for_the_failure_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AssertionError, match="a check of the test"):
        with FluentBit(config(tmp_path), env(), tmp_path / "fluent-bit.log") as run:
            run.wait_for(lambda: STARTED in run.log_text(), "the engine to start", timeout=60)
            raise AssertionError("a check of the test")
    assert not run.running
    assert STARTED in capsys.readouterr().err
