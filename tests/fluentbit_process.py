"""Waiting on and stopping a real Fluent Bit started by a test."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def wait_until(
    condition: Callable[[], bool], what: str, fluent_bit: subprocess.Popen[bytes], log: Path, limit: float = 90.0
) -> None:
    """Poll `condition`; fail with Fluent Bit's log if it exits or `limit` seconds pass (an upper
    bound for waiting, never asserted as a speed: a slow machine only waits longer)."""
    deadline = time.monotonic() + limit
    while not condition():
        if fluent_bit.poll() is not None:
            pytest.fail(f"fluent-bit exited ({fluent_bit.returncode}) while waiting for {what}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting {limit:.0f} s for {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)


def stop(fluent_bit: subprocess.Popen[bytes]) -> None:
    if fluent_bit.poll() is None:
        fluent_bit.terminate()
        try:
            fluent_bit.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fluent_bit.kill()
            fluent_bit.wait()
