"""Where the control-plane binaries come from: envtest assets when named, else the cached build."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from . import binaries

pytestmark = pytest.mark.cluster


def test_kubebuilder_assets_are_used_instead_of_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = binaries.find()  # the cached build stands in for a directory of envtest binaries
    for name, source in (("kube-apiserver", built.apiserver), ("etcd", built.etcd)):
        (tmp_path / name).symlink_to(source)
    monkeypatch.delenv("TEST_ASSET_KUBE_APISERVER", raising=False)
    monkeypatch.delenv("TEST_ASSET_ETCD", raising=False)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    found = binaries.find()
    assert (found.apiserver, found.etcd) == (tmp_path / "kube-apiserver", tmp_path / "etcd")
    assert found.controller_manager == built.controller_manager, "envtest has none: ours is used when built"
    result = subprocess.run(["bash", str(binaries.BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(tmp_path)
    assert "nothing built" in result.stderr


def test_a_named_binary_that_is_missing_is_reported_by_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ASSET_KUBE_APISERVER", str(tmp_path / "kube-apiserver"))
    monkeypatch.setenv("TEST_ASSET_ETCD", str(tmp_path / "etcd"))
    with pytest.raises(binaries.MissingBinaries, match=str(tmp_path / "kube-apiserver")):
        binaries.find()


def test_build_script_refuses_unknown_arguments() -> None:
    result = subprocess.run(["bash", str(binaries.BUILD_SCRIPT), "--rebuild"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "unknown argument '--rebuild'" in result.stderr
