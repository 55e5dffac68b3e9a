"""`make test`, the README's test command, installs what the tests need, and CI runs just that.

The receiver target runs with stand-ins for fluent-bit and go on a PATH of their own: go records
what it is asked and answers `go env` with directories under tmp_path; nothing is built.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make not on PATH (the README's test command is `make test`)")

VICTORIA_LOGS = "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1"
FAKE_GO = """#!/bin/sh
echo "$*" >> "{calls}"
case "$1 $2" in
  "env GOBIN") echo "{gobin}";;
  "env GOPATH") echo "{gopath}";;
  install*) exit {install_exit};;
esac
"""


@dataclass
class ReceiverRun:
    returncode: int
    stdout: str
    stderr: str
    go_calls: list[str]

    @property
    def installs(self) -> list[str]:
        return [call for call in self.go_calls if call.startswith("install")]


def run_receivers(
    tmp_path: Path, *, fluent_bit: bool = True, go: bool = True, install_exit: int = 0, gobin: str = "", built: bool = False
) -> ReceiverRun:
    """`make test-receivers` with only the stand-ins (and cut, which the recipe uses) on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gopath = tmp_path / "gopath"
    calls = tmp_path / "go-calls"
    calls.touch()
    cut = shutil.which("cut")
    assert cut is not None
    (bin_dir / "cut").symlink_to(cut)
    if fluent_bit:
        (bin_dir / "fluent-bit").write_text("#!/bin/sh\nexit 0\n")
    if go:
        (bin_dir / "go").write_text(FAKE_GO.format(calls=calls, gobin=gobin, gopath=f"{gopath}:{tmp_path / 'second'}", install_exit=install_exit))
    if built:
        (gopath / "bin").mkdir(parents=True)
        (gopath / "bin" / "victoria-logs").write_text("#!/bin/sh\n")
        (gopath / "bin" / "victoria-logs").chmod(0o755)
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    assert MAKE is not None
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    done = subprocess.run([MAKE, "-s", "-C", str(REPO), "test-receivers"], env=env, capture_output=True, text=True, timeout=60)
    return ReceiverRun(done.returncode, done.stdout, done.stderr, calls.read_text().splitlines())


def test_make_test_builds_the_loki_receiver_where_fluent_bit_and_go_exist(tmp_path: Path) -> None:
    run = run_receivers(tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.installs == [f"install {VICTORIA_LOGS}"]


def test_a_receiver_already_in_gos_install_directory_is_not_rebuilt(tmp_path: Path) -> None:
    run = run_receivers(tmp_path, built=True)  # GOPATH's first entry holds it; GOBIN is unset
    assert run.returncode == 0, run.stderr
    assert run.installs == []


def test_gobin_is_where_go_installs_when_set(tmp_path: Path) -> None:
    gobin = tmp_path / "gobin"
    gobin.mkdir()
    (gobin / "victoria-logs").write_text("#!/bin/sh\n")
    (gobin / "victoria-logs").chmod(0o755)
    run = run_receivers(tmp_path, gobin=str(gobin))
    assert run.returncode == 0, run.stderr
    assert run.installs == []


def test_a_failed_build_warns_and_lets_the_tests_run(tmp_path: Path) -> None:
    run = run_receivers(tmp_path, install_exit=1)
    assert run.returncode == 0
    assert run.installs == [f"install {VICTORIA_LOGS}"]
    assert "warning: victoria-logs did not build" in run.stderr
    assert "Loki end-to-end tests will skip" in run.stderr


def test_without_go_it_warns_that_the_loki_tests_will_skip(tmp_path: Path) -> None:
    run = run_receivers(tmp_path, go=False)
    assert run.returncode == 0
    assert "warning: no go on PATH to build victoria-logs" in run.stderr


def test_without_fluent_bit_nothing_is_built(tmp_path: Path) -> None:
    run = run_receivers(tmp_path, fluent_bit=False)
    assert run.returncode == 0, run.stderr
    assert run.go_calls == []
    assert "no fluent-bit on PATH" in run.stdout


def test_make_test_installs_the_receiver_before_running_pytest() -> None:
    assert MAKE is not None
    planned = subprocess.run([MAKE, "-n", "-C", str(REPO), "test"], capture_output=True, text=True, timeout=60, env={**os.environ})
    assert planned.returncode == 0, planned.stderr
    steps = planned.stdout
    assert VICTORIA_LOGS in steps
    assert steps.index(VICTORIA_LOGS) < steps.index("/pytest")


def test_ci_runs_the_readmes_test_command_and_installs_nothing_itself() -> None:
    commands = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "make test" in commands
    assert not [line for line in commands if re.search(r"\b(go|pip|npm|apt-get)\s+install\b", line)]


def test_make_test_lints_and_type_checks_before_running_pytest() -> None:
    assert MAKE is not None
    planned = subprocess.run([MAKE, "-n", "-C", str(REPO), "test"], capture_output=True, text=True, timeout=60, env={**os.environ})
    assert planned.returncode == 0, planned.stderr
    steps = planned.stdout.splitlines()
    ruff = next(i for i, step in enumerate(steps) if re.search(r"/ruff check plugin tests$", step))
    mypy = next(i for i, step in enumerate(steps) if re.search(r"/mypy plugin$", step))
    pytest_run = next(i for i, step in enumerate(steps) if re.search(r"/pytest$", step))
    assert ruff < mypy < pytest_run
