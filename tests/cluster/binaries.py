"""Find the control-plane binaries: envtest assets when the environment names them, else our build."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

BUILD_SCRIPT = Path(__file__).with_name("build-bins.sh")


class MissingBinaries(RuntimeError):
    """The binaries are neither named by the environment nor built yet."""


@dataclass(frozen=True)
class Binaries:
    """Paths of the three executables; `controller_manager` is None with envtest assets lacking it."""

    apiserver: Path
    etcd: Path
    controller_manager: Path | None


def build_dir() -> Path:
    """The cache directory that `build-bins.sh` builds into for the current go.mod/go.sum."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT), "--print-dir"], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def _executable(path: Path, origin: str) -> Path:
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise MissingBinaries(f"{origin} names '{path}', which is not an executable file")
    return path


def find() -> Binaries:
    """Resolve the binaries, in this order: TEST_ASSET_KUBE_APISERVER / TEST_ASSET_ETCD /
    TEST_ASSET_KUBE_CONTROLLER_MANAGER, then KUBEBUILDER_ASSETS, then `make cluster-bins`'s cache.
    envtest ships no kube-controller-manager: ours is used when built, else none runs."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if os.environ.get("TEST_ASSET_KUBE_APISERVER") or assets:
        apiserver = Path(os.environ.get("TEST_ASSET_KUBE_APISERVER") or Path(str(assets)) / "kube-apiserver")
        etcd = Path(os.environ.get("TEST_ASSET_ETCD") or Path(str(assets or apiserver.parent)) / "etcd")
        origin = "TEST_ASSET_*/KUBEBUILDER_ASSETS"
        candidates = [
            Path(p)
            for p in (
                os.environ.get("TEST_ASSET_KUBE_CONTROLLER_MANAGER"),
                assets and Path(assets) / "kube-controller-manager",
                build_dir() / "kube-controller-manager",
            )
            if p
        ]
        manager = next((p for p in candidates if p.is_file() and os.access(p, os.X_OK)), None)
        return Binaries(_executable(apiserver, origin), _executable(etcd, origin), manager)
    directory = build_dir()
    names = ("kube-apiserver", "etcd", "kube-controller-manager")
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise MissingBinaries(
            f"{', '.join(missing)} not built in {directory}: run `make cluster-bins` "
            "(or set KUBEBUILDER_ASSETS to a directory of envtest binaries)"
        )
    return Binaries(*(directory / n for n in names))
