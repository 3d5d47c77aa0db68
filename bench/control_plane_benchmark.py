"""Benchmark of the test control plane (tests/cluster): the cached build, start-up and memory.

Usage: .venv/bin/python bench/control_plane_benchmark.py [--runs 3]
Writes the "Test control plane" section of docs/benchmarks.md: the cold build's wall time and peak
RSS as build-bins.sh recorded them when it built the cache (build-stats.txt), the warm
`build-bins.sh` (cache hit), a build into a fresh cache directory with Go's build cache warm, and for `--runs` start/stop cycles the time to a ready cluster (API,
CRDs Established, simulator watching), its resident memory, and the time to stop.
"""

from __future__ import annotations

import argparse
import statistics
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from report import write_section

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from cluster import binaries  # noqa: E402
from cluster.control_plane import ControlPlane  # noqa: E402


def cold_build() -> str:
    """The figures build-bins.sh recorded while building the current cache directory."""
    stats = binaries.build_dir() / "build-stats.txt"
    if not stats.exists():
        return "cold build: not recorded (the cache was built without /usr/bin/time)"
    walls, cpus, peaks, load = [], [], [], "unknown"
    for line in stats.read_text().splitlines():
        if line.startswith("load-average-at-start "):
            load = line.split(" ", 1)[1]
            continue
        fields = dict(part.split("=") for part in line.split()[1:])
        walls.append(float(fields["wall_seconds"]))
        cpus.append(float(fields["user_seconds"]) + float(fields["system_seconds"]))
        peaks.append(int(fields["max_rss_kib"]))
    return (
        f"{sum(walls) / 60:.1f} min wall, {sum(cpus) / 60:.1f} min CPU (user + system), "
        f"largest process {max(peaks) / 1024 / 1024:.2f} GiB RSS (load average when it started: {load})"
    )


def warm_build() -> float:
    """Seconds `build-bins.sh` takes when the cache is complete."""
    started = time.perf_counter()
    subprocess.run(["bash", str(binaries.BUILD_SCRIPT)], check=True, capture_output=True)
    return time.perf_counter() - started


def relink() -> float:
    """Seconds for a build into an empty cache directory while Go's own build cache is warm (what a
    go.mod edit that changes no dependency costs: compile results reused, three binaries linked)."""
    with tempfile.TemporaryDirectory(prefix="bench-cluster-bins-") as cache:
        started = time.perf_counter()
        subprocess.run(["bash", str(binaries.BUILD_SCRIPT)], check=True, capture_output=True, env={**os.environ, "FRAUD_DEMO_CACHE": cache})
        return time.perf_counter() - started


def cycle() -> tuple[float, float, float]:
    """One start/stop: (seconds to ready, MiB resident of its processes, seconds to stop)."""
    started = time.perf_counter()
    plane = ControlPlane(rhoai_major=2)
    plane.start()
    ready = time.perf_counter() - started
    time.sleep(2)
    rss = sum(p.memory_info().rss for p in psutil.Process().children(recursive=True))
    started = time.perf_counter()
    plane.stop()
    return ready, rss / 2**20, time.perf_counter() - started


def main() -> None:
    """Measure and write the section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    warm = warm_build()
    relinked = relink()
    cycles = [cycle() for _ in range(args.runs)]
    ready, rss, stop = (statistics.median(c[i] for c in cycles) for i in range(3))
    body = (
        "| what | figure |\n|---|---|\n"
        f"| cold build of kube-apiserver + kube-controller-manager + etcd (`make cluster-bins`, -p 2) | {cold_build()} |\n"
        f"| `make cluster-bins` with the cache built | {warm:.2f} s |\n"
        f"| build into a new cache directory, Go build cache warm (link only) | {relinked:.0f} s |\n"
        f"| start to ready (etcd, apiserver, controller-manager, CRDs Established, simulator) | {ready:.1f} s (median of {args.runs}) |\n"
        f"| resident memory of the running control plane (4 processes) | {rss:.0f} MiB |\n"
        f"| stop | {stop:.1f} s |\n"
    )
    body += (
        "\nThe cold build's wall time depends on what else runs: it is CPU-bound, so on an otherwise idle"
        " 2-core machine expect roughly its CPU time divided by 1.5 to 2 (an estimate, not measured here). Go's module and build caches"
        " (`~/go/pkg/mod`, `~/.cache/go-build`) are kept, so a rebuild after a go.mod change recompiles only what changed.\n"
    )
    print(body)
    print(write_section("control-plane", "Test control plane", body))


if __name__ == "__main__":
    main()
