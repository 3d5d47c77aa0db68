"""The training image's recipe: the package builds the way `train_job/Containerfile` builds it (no dependencies,
no build isolation, setuptools from the lock) and its pins, the lock and the Containerfile agree."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

TRAIN_JOB = Path(__file__).resolve().parents[2] / "train_job"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", re.M)


def pins(text: str) -> dict[str, str]:
    return {name.lower().replace("_", "-"): version for name, version in PIN.findall(text)}


def test_package_builds_offline_with_its_pins(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy(TRAIN_JOB / name, tmp_path / name)
    shutil.copytree(TRAIN_JOB / "train_job", tmp_path / "train_job", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(tmp_path / "dist"), str(tmp_path)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("train_job-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = email.message_from_bytes(archive.read(next(n for n in names if n.endswith("METADATA"))))
    assert "train_job/__main__.py" in names and "train_job/task.py" in names
    required = pins("\n".join(meta.get_all("Requires-Dist") or []).replace(" ", ""))
    assert required == pins((TRAIN_JOB / "requirements.txt").read_text())


def test_lock_holds_every_pin_with_hashes_and_setuptools() -> None:
    lock = (TRAIN_JOB / "requirements.lock").read_text()
    locked = pins(lock)
    for name, version in pins((TRAIN_JOB / "requirements.txt").read_text()).items():
        assert locked.get(name) == version, f"{name}=={version} is not in train_job/requirements.lock"
    assert "setuptools" in locked, "the Containerfile builds without isolation: setuptools must come from the lock"
    unhashed = re.findall(r"^([A-Za-z0-9_.-]+==\S+)(?: ;[^\\\n]*)?\n(?!    --hash)", lock, re.M)
    assert not unhashed, f"pins without a hash: {unhashed}"


def test_containerfile_installs_the_lock_and_runs_as_non_root() -> None:
    recipe = (TRAIN_JOB / "Containerfile").read_text()
    assert re.search(r"^FROM registry\.access\.redhat\.com/ubi9/python-3\d+", recipe, re.M)
    assert "--require-hashes" in recipe and "requirements.lock" in recipe
    assert re.findall(r"^USER (\S+)", recipe, re.M)[-1] != "0"
    assert "--no-deps" in recipe and "--no-build-isolation" in recipe
