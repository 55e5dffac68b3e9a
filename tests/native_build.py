"""A copy of plugin/ as the package hf_audit, with the compiled extension built from a given crate
beside it: what tests/test_native_checked.py (debug build) and tests/mutation/native.py (release
build of each mutant) put first on PYTHONPATH, so that the installed package is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_package(tree: Path) -> Path:
    """plugin/ as tree/hf_audit, without bytecode, build output or an extension; `tree` again."""
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(REPO / "plugin", tree / "hf_audit", ignore=shutil.ignore_patterns("__pycache__", "target", "_native*"))
    return tree


def build_extension(crate: Path, target_dir: Path, tree: Path, *, release: bool) -> str | None:
    """Build `crate` (in `target_dir`) and put the extension in tree/hf_audit; the compiler's
    complaint when it does not build."""
    env = {**os.environ, "PYO3_PYTHON": sys.executable, "CARGO_TARGET_DIR": str(target_dir)}
    command = ["cargo", "build", "--locked", "--quiet", *(["--release"] if release else [])]
    result = subprocess.run(command, cwd=crate, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        return result.stderr[-2000:]
    built = target_dir / ("release" if release else "debug") / "lib_native.so"
    shutil.copy(built, tree / "hf_audit" / f"_native{sysconfig.get_config_var('EXT_SUFFIX')}")
    return None
