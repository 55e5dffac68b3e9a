"""Shared fixtures: a running simulated Hub and a poller run the way Fluent Bit's exec input runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub

TOKEN = "hf_SimulatedSecretToken0123456789"
ORG = "acme"
BIN_DIR = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = REPO.parent / "shared" / "spec"


@dataclass
class PollRun:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    @property
    def event_ids(self) -> list[str]:
        return [record["eventID"] for record in self.records]


def assert_no_secret(*texts: bytes | str) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        assert TOKEN.encode() not in data, "the token leaked"


def poller_env(hub_url: str, state_dir: Path, home: Path, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "HF_ORG": ORG,
        "HF_TOKEN": TOKEN,
        "HF_ENDPOINT": hub_url,
        "HF_AUDIT_STATE_DIR": str(state_dir),
        "HF_AUDIT_DEADLINE": "30s",
        "HF_AUDIT_CONNECT_TIMEOUT": "5",
        "HF_AUDIT_READ_TIMEOUT": "5",
    }
    env.update(overrides)
    return env


def run_like_fluent_bit(command: str, env: dict[str, str], timeout: float = 120) -> PollRun:
    """`/bin/sh -c "<command>"`, stdout read to the end, as Fluent Bit's exec input does."""
    proc = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=timeout)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert_no_secret(proc.stdout, stderr)
    return PollRun(proc.returncode, proc.stdout, stderr)


@pytest.fixture
def export_events() -> list[dict]:
    """300 events over the last 10 days, every event type included."""
    return generate_events(300, seed=7, end=datetime.now(timezone.utc) - timedelta(minutes=5), span=timedelta(days=10))


@pytest.fixture
def hub(export_events: list[dict]) -> Iterator[SimulatedHub]:
    with SimulatedHub(org=ORG, token=TOKEN, events=export_events, order="newest-first") as running:
        yield running


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def poll(hub: SimulatedHub, state_dir: Path, tmp_path: Path) -> Callable[..., PollRun]:
    """Run one `hf-audit-poll` against the hub; keyword arguments override environment variables."""

    def run(args: str = "", **overrides: str) -> PollRun:
        env = poller_env(hub.url, state_dir, tmp_path, **overrides)
        return run_like_fluent_bit(f"hf-audit-poll {args}".strip(), env)

    return run
