"""Shared fixtures: a running simulated Hub and a poller run the way Fluent Bit's exec input runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from fluentbit_harness import fluent_bit  # noqa: F401  (the fixture, for every test module)
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub

# For `make mutation` (tests/mutation/run.py): a property that fails for a mutant fails at its first
# failing example, unshrunk; shrinking it would take most of the run and tells the run nothing.
settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate])

TOKEN = "hf_SimulatedSecretToken0123456789"
ORG = "acme"
BIN_DIR = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
# The project's shared spec (../shared/spec beside the repository, as CI lays it out); the mutation
# run works on a copy of the tree elsewhere and names the real folder in HF_AUDIT_SPEC_DIR.
SPEC_DIR = Path(os.environ.get("HF_AUDIT_SPEC_DIR") or REPO.parent / "shared" / "spec")


class SpecMissing(Exception):
    """The spec folder or one of its files is absent: the checks against it cannot run, and
    passing without them would hide it."""


def spec_file(name: str) -> Path:
    path = SPEC_DIR / name
    if not path.is_file():
        raise SpecMissing(
            f"{path} is missing: the tests check the code against the project's spec, expected in "
            f"{REPO.parent / 'shared' / 'spec'} (or the folder named by HF_AUDIT_SPEC_DIR)"
        )
    return path


def spec_column_types() -> list[tuple[str, str]]:
    """The 51 columns of the spec, in order, with their ClickHouse types."""
    rows = [line.split("\t") for line in spec_file("huggingface_logs.columns.tsv").read_text().splitlines()]
    rows = [row for row in rows if row[0] and not row[0].startswith("#")]
    if rows[0] != ["column", "clickhouse_type"] or len(rows) != 52:
        raise SpecMissing(f"the spec's column table is not the expected 51 rows under a header: {rows[:2]}")
    return [(name, kind) for name, kind in rows[1:]]


_PYTHON_TYPES = {
    "String": str, "UInt32": int, "DateTime": str, "Float64": float, "Bool": bool,
    "Map(String, String)": dict, "Array(String)": list,
}  # fmt: skip


def spec_python_types() -> dict[str, type]:
    """Each column's JSON type in a record, from its spec type; a type not known here is an error,
    so no column goes unchecked."""
    types = {}
    for name, kind in spec_column_types():
        python_type = list if kind.startswith("Array(") else _PYTHON_TYPES.get(kind)
        if python_type is None:
            raise SpecMissing(f"the spec gives column {name} the type {kind}, which the tests do not know")
        types[name] = python_type
    return types


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
    return generate_events(300, seed=7, end=datetime.now(UTC) - timedelta(minutes=5), span=timedelta(days=10))


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
