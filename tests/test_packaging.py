"""The package builds as a wheel and an sdist that install cleanly, with every command on PATH."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from hf_audit import __version__

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """Build wheel and sdist with `python -m build` (isolated, as a release would) from a clean
    copy of the tracked files."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {"wheel": next(out.glob("*.whl")), "sdist": next(out.glob("*.tar.gz"))}


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    return path / "bin"


def test_wheel_holds_the_package_and_nothing_else(dist):
    names = zipfile.ZipFile(dist["wheel"]).namelist()
    assert "hf_audit/cli.py" in names and "hf_audit/simhub/server.py" in names
    assert not any(name.startswith(("tests/", "fluent-bit/")) for name in names)


def test_wheel_carries_the_data_files_beside_the_code(dist):
    names = zipfile.ZipFile(dist["wheel"]).namelist()
    rules = [name for name in names if name.startswith("hf_audit/detections/rules/") and name.endswith(".yml")]
    assert len(rules) == len(list((Path(__file__).resolve().parents[1] / "plugin/detections/rules").glob("*.yml"))) > 0
    assert "hf_audit/detections/attack/enterprise-attack-subset.json" in names
    assert {"hf_audit/native/Cargo.toml", "hf_audit/native/Cargo.lock", "hf_audit/native/src/lib.rs"} <= set(names)


def test_sdist_carries_sources_and_readme(dist):
    names = tarfile.open(dist["sdist"]).getnames()
    root = names[0].split("/")[0]
    assert f"{root}/README.md" in names and f"{root}/plugin/poll.py" in names and f"{root}/pyproject.toml" in names


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_installs_into_a_fresh_venv_with_every_entry_point(dist, tmp_path, kind):
    bin_dir = fresh_venv(tmp_path / "venv")
    install = subprocess.run([bin_dir / "pip", "install", "-q", str(dist[kind])], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    version = subprocess.run([bin_dir / "hf-audit-poll", "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"hf-audit {__version__}"
    assert subprocess.run([bin_dir / "python", "-m", "hf_audit", "--version"], capture_output=True, timeout=60).returncode == 0
    assert subprocess.run([bin_dir / "hf-audit-simhub", "--help"], capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(importlib.util.find_spec("pipx") is None, reason="pipx is not installed (it is in the test extras)")
def test_pipx_install_puts_the_command_on_path(dist, tmp_path):
    env = {"PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "pipx", "install", str(dist["wheel"])], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    version = subprocess.run([tmp_path / "bin" / "hf-audit-poll", "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"hf-audit {__version__}"


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (it is in the test extras)")
def test_mypy_reads_the_installed_packages_annotations(dist, tmp_path):
    """The wheel ships py.typed, so a project that installs hf-audit gets its types from mypy: no
    missing-stubs error, no Any."""
    assert "hf_audit/py.typed" in zipfile.ZipFile(dist["wheel"]).namelist()
    bin_dir = fresh_venv(tmp_path / "venv")
    install = subprocess.run([bin_dir / "pip", "install", "-q", "--no-deps", str(dist["wheel"])], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    user = tmp_path / "user.py"
    user.write_text("from hf_audit.timefmt import format_time\n\nreveal_type(format_time)\n")
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable", str(bin_dir / "python"), str(user)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r'Revealed type is "def \(value: datetime\.datetime\) -> (builtins\.)?str"', checked.stdout), checked.stdout
