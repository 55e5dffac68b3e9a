"""The compiled hot path's `unsafe` writes stay inside the room they reserved, checked on every case
tests/test_fastline.py compares.

The release build trusts two SAFETY arguments in plugin/native/src/lib.rs (the escaper writes
8-byte words through a raw pointer; strings are borrowed from the item for one call). A debug build
turns their `debug_assert!`s on, and Rust's overflow checks with them: a slip panics instead of
writing past the buffer. This builds the crate that way into build/checked, puts it beside a copy of
plugin/ first on PYTHONPATH (the install is never touched), and runs test_fastline's in-process
tests against it. Its polls and doctor run the installed command, not this build, so they are left
out here. The line buffer is reused within a process, so only a process's first line starts from
an empty one: the escaper's reservation is tight then, and each such case gets a process of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from native_build import build_extension, copy_package

REPO = Path(__file__).resolve().parents[1]
# tests/mutation/native.py points this at a mutated copy of the crate; the worktree's otherwise.
CRATE = Path(os.environ.get("HF_AUDIT_NATIVE_CRATE") or REPO / "plugin" / "native")
BUILD = REPO / "build" / "checked"
IN_PROCESS = "not poll and not doctor"
# One line from a fresh process: (the line the compiled path writes) == (the Python path's line).
FIRST_LINE = """
import sys
from test_fastline import CTX, as_export_item, corpus, python_line
from hf_audit.fastline import FastLines
text = (sys.argv[1] * int(sys.argv[2]))[: int(sys.argv[2])]
item = as_export_item(corpus("plain", 1)[0] | {"message": text, "data": {"v": text}})
sys.exit(0 if FastLines(CTX, 65536, None).line(item) == python_line(item) else 3)
"""

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="no cargo (Rust) on PATH: the checked build cannot be made")


@pytest.fixture(scope="module")
def checked_tree() -> Path:
    """A copy of plugin/ as hf_audit, with the extension built in Rust's debug profile."""
    tree = copy_package(BUILD / "tree")
    problem = build_extension(CRATE, BUILD / "target", tree, release=False)
    assert problem is None, problem
    return tree


def run_python(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)


def test_the_checked_build_is_the_extension_the_tests_load(checked_tree: Path) -> None:
    loaded = run_python(checked_tree, "-c", "import hf_audit._native as n; print(n.__file__)")
    assert loaded.returncode == 0, loaded.stderr
    assert Path(loaded.stdout.strip()).parent == checked_tree / "hf_audit"


def test_every_compared_line_is_written_within_its_reserved_room(checked_tree: Path) -> None:
    run = run_python(checked_tree, "-m", "pytest", "tests/test_fastline.py", "-q", "-p", "no:cacheprovider", "-k", IN_PROCESS)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " deselected" in run.stdout, run.stdout[-1000:]


@pytest.mark.parametrize("length", [9, 1099])
@pytest.mark.parametrize("unit", ["\x01", 'x"\\', "é😀\x1f"], ids=["control", "quote and backslash", "multi-byte"])
def test_a_first_line_of_dense_escapes_stays_within_its_room(checked_tree: Path, unit: str, length: int) -> None:
    run = run_python(checked_tree, "-c", f"import sys; sys.path.insert(0, 'tests'){chr(10)}{FIRST_LINE}", unit, str(length))
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
