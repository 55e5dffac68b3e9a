"""Five one-line changes to plugin/ that once passed the whole suite: each, applied alone to a copy
of the package, must now make the tests that cover it fail.

This is the quick, always-run part of the mutation testing (`make mutation` is the full run). The
copy is imported in place of the installed package through PYTHONPATH, so the worktree is never
changed. A mutation whose line is no longer found fails here too: its test must be re-aimed at
the new code, not silently dropped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO, SPEC_DIR


@dataclass(frozen=True)
class KnownMutant:
    name: str
    module: str
    original: str  # found exactly once in the module
    mutated: str
    tests: tuple[str, ...]  # pytest arguments that must fail against the mutant


KNOWN_MUTANTS = (
    KnownMutant(
        "record id version digit 5 -> 4", "normalize.py",
        'f"{h[:8]}-{h[8:12]}-5{h[13:16]}-', 'f"{h[:8]}-{h[8:12]}-4{h[13:16]}-',
        ("tests/test_normalize.py", "-k", "record_id"),
    ),
    KnownMutant(
        "502 no longer retried", "retry_policy.py",
        "    502: _UNAVAILABLE,\n", "",
        ("tests/test_retry_policy.py", "-k", "502"),
    ),
    KnownMutant(
        "max_retries default 6 -> 2", "declarations.py",
        'with backoff and jitter", default="6")', 'with backoff and jitter", default="2")',
        ("tests/test_settings.py", "-k", "default"),
    ),
    KnownMutant(
        "actor.deleted true and false swapped", "normalize.py",
        'actor["deleted"] = "true" if deleted else "false"', 'actor["deleted"] = "false" if deleted else "true"',
        ("tests/test_normalize.py", "-k", "deleted"),
    ),
    KnownMutant(
        "pipe-room bound without its + 1", "output.py",
        "slots_taken = -(-unread // self._page) + writes + 1", "slots_taken = -(-unread // self._page) + writes",
        ("tests/test_output.py", "-k", "edge"),
    ),
)  # fmt: skip


def run_against_copy(package: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package.parent), "HF_AUDIT_SPEC_DIR": str(SPEC_DIR)}
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    package = tmp_path / "hf_audit"
    shutil.copytree(REPO / "plugin", package, ignore=shutil.ignore_patterns("__pycache__"))
    return package


def test_the_copy_is_what_the_tests_import(package_copy):
    found = run_against_copy(package_copy, "-c", "import hf_audit; print(hf_audit.__file__)")
    assert found.stdout.strip() == str(package_copy / "__init__.py"), found.stderr


@pytest.mark.parametrize("mutant", KNOWN_MUTANTS, ids=lambda m: m.name)
def test_a_known_mutant_makes_its_tests_fail(package_copy, mutant):
    path = package_copy / mutant.module
    source = path.read_text()
    assert source.count(mutant.original) == 1, f"the line this mutant changes is gone from plugin/{mutant.module}"
    path.write_text(source.replace(mutant.original, mutant.mutated))
    run = run_against_copy(package_copy, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests)
    # Exit code 1: tests ran and at least one failed (2-5 would be an error or nothing collected).
    assert run.returncode == 1, f"the mutant survived ({mutant.name}):\n{run.stdout[-3000:]}"


def test_the_same_tests_pass_against_the_unmutated_copy(package_copy):
    # So a failure above is the mutant's doing, not the copy's or the environment's.
    for mutant in KNOWN_MUTANTS:
        run = run_against_copy(package_copy, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests)
        assert run.returncode == 0, f"{mutant.name}:\n{run.stdout[-3000:]}"
