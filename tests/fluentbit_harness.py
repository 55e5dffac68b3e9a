"""One way for a test to run a real Fluent Bit: start it on a config, wait for a condition, stop it
with the signal the test asks for, and show the tail of its log whenever something goes wrong.

Fluent Bit's stderr (its own log, and the stderr of the commands its exec inputs run) goes to a log
file, appended to, so the runs of a restarted pipeline can share one; stdout goes to the same file
or, for tests that read the stdout output's records, to a file of its own. No pipe: neither can fill
up and stall Fluent Bit. Skipped, naming fluent-bit, where no binary is on PATH.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType

import pytest

FLUENT_BIT = shutil.which("fluent-bit")
SKIP_REASON = "fluent-bit binary not on PATH (no package registry ships Fluent Bit; build or install it to run these tests)"
requires_fluent_bit = pytest.mark.skipif(FLUENT_BIT is None, reason=SKIP_REASON)

WAIT_SECONDS = 90.0  # an upper bound for waiting, never asserted as a speed: a slow machine only waits longer
STOP_SECONDS = 30.0
TAIL_CHARS = 4000


def fluent_bit_binary() -> str:
    """The binary's path; skips the calling test or fixture (naming fluent-bit) where there is none."""
    if FLUENT_BIT is None:
        pytest.skip(SKIP_REASON)
    return FLUENT_BIT


class FluentBit:
    """One Fluent Bit process on `config`; a context manager that starts it and stops it with SIGTERM."""

    def __init__(self, config: Path, env: Mapping[str, str], log: Path, *, stdout: Path | None = None) -> None:
        self.config = config
        self.env = dict(env)
        self.log = log
        self.stdout = stdout  # None: stdout goes into the log
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self._log_start = 0

    # --- start and stop ---------------------------------------------------------------------------

    def start(self) -> FluentBit:
        binary = fluent_bit_binary()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log_file, (self.stdout.open("wb") if self.stdout else log_file) as out:
            # Its own session: a Ctrl-C aimed at pytest reaches the test, which then stops Fluent Bit
            # the way it asked for, rather than Fluent Bit directly.
            self.process = subprocess.Popen(
                [binary, "-c", str(self.config)], env=self.env, stdout=out, stderr=log_file, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int:
        return self._running_process().pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM, *, grace: float = STOP_SECONDS, must_exit: bool = False) -> int | None:
        """Send `sig` (SIGTERM: Fluent Bit flushes what it holds and exits) and wait `grace` seconds,
        then SIGKILL; with `must_exit`, not exiting within the grace period fails the test.
        Returns the exit code (negative: the signal that ended it); stopping twice is harmless."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                if must_exit:
                    self._fail(f"fluent-bit did not exit within {grace:.0f} s of {sig.name}")
        self.returncode = self.process.returncode
        return self.returncode

    def __enter__(self) -> FluentBit:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if error is not None and not isinstance(error, pytest.fail.Exception):
            # pytest shows a failed test's captured stderr: the log tail next to the failure.
            print(f"fluent-bit log tail ({self.log}):\n{self.log_tail()}", file=sys.stderr)
        self.stop()

    # --- waiting ------------------------------------------------------------------------------------

    def wait_for(
        self, condition: Callable[[], bool], what: str, *, timeout: float = WAIT_SECONDS, required: bool = True, poll: float = 0.5
    ) -> bool:
        """Poll `condition` until it holds (True). Fluent Bit exiting meanwhile fails the test; so
        does `timeout` passing when `required`, else the wait returns False and the test's own
        assertions say what is missing. The failure message ends with the log tail."""
        deadline = time.monotonic() + timeout
        while not condition():
            process = self._running_process()
            if process.poll() is not None:
                self._fail(f"fluent-bit exited ({process.returncode}) while waiting for {what}")
            if time.monotonic() > deadline:
                if required:
                    self._fail(f"gave up waiting {timeout:.0f} s for {what}")
                return False
            time.sleep(poll)
        return True

    # --- what it wrote ---------------------------------------------------------------------------------

    def log_text(self) -> str:
        """This run's part of the log."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log_file:
            log_file.seek(self._log_start)
            return log_file.read().decode("utf-8", "replace")

    def log_tail(self, chars: int = TAIL_CHARS) -> str:
        return self.log_text()[-chars:]

    def _running_process(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError("fluent-bit was not started")
        return self.process

    def _fail(self, message: str) -> None:
        pytest.fail(f"{message}; the tail of its log ({self.log}):\n{self.log_tail()}")


@pytest.fixture
def fluent_bit(tmp_path: Path) -> Iterator[Callable[..., FluentBit]]:
    """Start Fluent Bit on a config: `fluent_bit(config, env, name="...", stdout=False)`. The log is
    tmp_path/<name>.log (stdout, when kept apart, tmp_path/<name>.stdout); every process started is
    stopped with SIGTERM at the end of the test, if the test has not stopped it."""
    fluent_bit_binary()
    started: list[FluentBit] = []

    def start(config: Path, env: Mapping[str, str], *, name: str = "fluent-bit", stdout: bool = False) -> FluentBit:
        run = FluentBit(config, env, tmp_path / f"{name}.log", stdout=tmp_path / f"{name}.stdout" if stdout else None)
        started.append(run.start())
        return run

    yield start
    for run in started:
        run.stop()
