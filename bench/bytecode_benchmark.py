"""Benchmark of compiled bytecode: what every Python process costs when it must compile what it imports.

Usage: .venv/bin/python bench/bytecode_benchmark.py [--tasks 10] [--runs 3]
Writes the "Compiled bytecode" section of docs/benchmarks.md. `make setup` installs the environments with their
bytecode compiled (UV_COMPILE_BYTECODE); where PYTHONDONTWRITEBYTECODE is set, as in many container images and in
this project's CI, a process without it compiles every module it imports, every time. Both sides run in the same
run, one after the other: "compiled" as installed, "not compiled" with PYTHONPYCACHEPREFIX pointing at an empty
directory and PYTHONDONTWRITEBYTECODE=1, so Python finds no bytecode and writes none. Measured: an ansible-playbook
of `--tasks` kubernetes.core.k8s_info tasks against a test control plane (what the roles and molecule do most),
and the imports behind the training Job, the MLflow server and the model server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from report import write_section

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from cluster.control_plane import ControlPlane  # noqa: E402

BIN = Path(sys.executable).parent
IMPORTS = {
    "training Job (`import tensorflow, tf2onnx, mlflow`)": (sys.executable, "import tensorflow, tf2onnx, mlflow"),
    "MLflow server (`import mlflow.server`)": (sys.executable, "import mlflow.server"),
    "model server (`import fraud_model_server.server`)": (str(REPO / ".venv" / "serving" / "bin" / "python"), "import fraud_model_server.server"),
}


def playbook(directory: Path, tasks: int) -> Path:
    """A play of `tasks` separate k8s_info tasks (each one module run, as in the roles)."""
    lines = ["- hosts: localhost", "  gather_facts: false", "  tasks:"]
    for number in range(tasks):
        lines += [f"    - name: Read the default namespace {number}", "      kubernetes.core.k8s_info:", "        kind: Namespace", "        name: default"]
    path = directory / "k8s_info.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one command that must succeed."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, cwd=REPO)
    wall = time.perf_counter() - started
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    """Measure both sides and write the section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bytecode-") as scratch, ControlPlane(rhoai_major=2) as plane:
        empty = Path(scratch) / "no-bytecode"
        empty.mkdir()
        # The standard library keeps its bytecode (the interpreter's installation compiled it): only the
        # environment's packages go without, as in a venv installed without compiling under PYTHONDONTWRITEBYTECODE.
        stdlib = {sysconfig.get_paths()["stdlib"]}
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "-x", "site-packages", *stdlib], check=False, capture_output=True, env={**os.environ, "PYTHONPYCACHEPREFIX": str(empty)})
        compiled = {**os.environ, "K8S_AUTH_KUBECONFIG": str(plane.kubeconfig), "ANSIBLE_PIPELINING": "1",
                    "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
        cold = {**compiled, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(empty)}
        commands = {f"`ansible-playbook` of {args.tasks} `k8s_info` tasks": [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook(Path(scratch), args.tasks))]}
        commands |= {label: [python, "-c", code] for label, (python, code) in IMPORTS.items()}
        rows = []
        for label, argv in commands.items():
            timed(argv, compiled)  # warm the page cache for both sides
            sides = {}
            for side, env in (("compiled", compiled), ("not compiled", cold)):
                samples = [timed(argv, env) for _ in range(args.runs)]
                sides[side] = (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))
            (wall_c, cpu_c), (wall_n, cpu_n) = sides["compiled"], sides["not compiled"]
            rows.append(f"| {label} | {wall_c:.2f} s ({cpu_c:.2f} s CPU) | {wall_n:.2f} s ({cpu_n:.2f} s CPU) | {1 - cpu_c / cpu_n:.0%} |")
            print(rows[-1], flush=True)
    body = (
        f"`.venv/bin/python bench/bytecode_benchmark.py --tasks {args.tasks} --runs {args.runs}` (medians of {args.runs}; CPU is user +"
        " system of the process and its children; the standard library has its bytecode on both sides).\n\n"
        "| what | compiled (as `make setup` installs) | not compiled (PYTHONDONTWRITEBYTECODE, no bytecode) | CPU saved |\n|---|---|---|---|\n"
        + "\n".join(rows) + "\n\n"
        "Every Ansible module run is a new Python process importing the kubernetes client, and molecule's scenarios run"
        " thousands of them on 2 cores, so `make test` is CPU-bound on exactly this.\n"
    )
    print(write_section("bytecode", "Compiled bytecode", body))


if __name__ == "__main__":
    main()
