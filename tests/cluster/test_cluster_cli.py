"""The command line that molecule's create/destroy use: `up` leaves a working cluster, `down` stops
every process of it, and bad input is refused before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import network
from .kube import Kube

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.cluster", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def test_up_and_down(tmp_path: Path) -> None:
    kubeconfig, pidfile = tmp_path / "kubeconfig", tmp_path / "cp.pid"
    up = _cli("up", "--kubeconfig", str(kubeconfig), "--pidfile", str(pidfile), "--rhoai", "3")
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip().startswith("https://127.0.0.1:")
    owner = int(pidfile.read_text())
    processes = _children(owner)
    try:  # a failed check must not leave the control plane running
        # with a pod network the control plane also runs ODF's S3 endpoint (SeaweedFS)
        expected = 4 + (1 if not network.available() and os.environ.get("FRAUD_DEMO_TEST_PODS") != "simulate" else 0)
        assert len(processes) == expected, "etcd, kube-apiserver, kube-controller-manager, simulator (, weed)"
        assert (tmp_path / "ingress-ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
        kube = Kube(kubeconfig)
        assert kube.get("/apis/datasciencecluster.opendatahub.io/v2") is not None
        assert kubeconfig.stat().st_mode & 0o077 == 0
    finally:
        down = _cli("down", "--pidfile", str(pidfile), timeout=90)
    assert down.returncode == 0, down.stderr
    assert not pidfile.exists()
    assert not [p for p in [owner, *processes] if _alive(p)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--kubeconfig", "k", "--pidfile", "p", "--rhoai", "4"], "'4' is not one of 2, 3, none"),
        (["up", "--kubeconfig", "k", "--pidfile", "p", "--s3-env", "/nonexistent/s3.env"], "--s3-env /nonexistent/s3.env: no such file"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(tmp_path: Path, args: list[str], message: str) -> None:
    result = _cli(*args, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (REPO / "p").exists()


def test_down_leaves_a_process_that_is_not_a_control_plane_alone(tmp_path: Path) -> None:
    pidfile = tmp_path / "cp.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # a stale pidfile whose number now belongs to this test
    result = _cli("down", "--pidfile", str(pidfile), timeout=30)
    assert result.returncode == 0, result.stderr
    assert "not a control plane" in result.stdout
    assert not pidfile.exists()
