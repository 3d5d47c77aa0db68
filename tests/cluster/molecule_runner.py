"""Runs the molecule scenarios in the background of a pytest session (tests/cluster/conftest.py starts it).

Each scenario is `molecule test -s <scenario>` with a private ANSIBLE_HOME and its own control plane on free ports,
so any number can run at once. While the rest of the suite runs, `early` workers take scenarios (the suite leaves
about a third of 2 cores idle: servers starting, polls); once the molecule tests are reached (`open_all`), every
worker does. Scenarios are taken longest first (EXPECTED_S), so no long one finishes last alone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MOLECULE_DIR = REPO / "extensions" / "molecule"
SCENARIOS = sorted(path.parent.name for path in MOLECULE_DIR.glob("*/molecule.yml"))
# One scenario on 2 shared cores: site and site_rhoai3 (every pod real: TensorFlow training, OVMS on OpenVINO) took
# 24 min next to another scenario (2026-12-03), the role scenarios 4-8 min; the limit leaves a margin over that.
SCENARIO_TIMEOUT_S = 35 * 60
UNSHARE = ["unshare", "--mount", "--propagation", "private"] if os.geteuid() == 0 else []


# Seconds each scenario took in a fresh `make test` on 2 cores (2026-12-07, bcb958d); only their order matters.
EXPECTED_S = {"site_rhoai3": 837, "site": 636, "model_serving": 485, "mlflow_server": 163, "preflight": 145,
              "training": 115, "image_build": 101, "fraud_app": 89, "workbench": 85, "object_store": 80,
              "demo_verify": 80, "data_connection": 79, "ds_project": 47, "control_plane": 36, "real_cluster": 8}
UNKNOWN_S = 120  # a new scenario: before the short role scenarios until it is measured


def longest_first(names: list[str]) -> list[str]:
    """Longest first (by EXPECTED_S): the long ones run while the rest of the suite does, the short ones fill the
    end evenly - in name order model_serving (8 min) started late and ran alone after everything else."""
    return sorted(names, key=lambda name: (-EXPECTED_S.get(name, UNKNOWN_S), name))


@dataclass(frozen=True)
class Outcome:
    """One scenario's `molecule test`: exit status, output, wall time."""

    returncode: int
    output: str
    seconds: float


class Runner:
    """`workers` threads taking scenarios off one queue; only `early` of them before `open_all()`."""

    def __init__(self, scenarios: list[str], workers: int, early: int) -> None:
        self.molecule = shutil.which("molecule", path=str(Path(sys.executable).parent))
        assert self.molecule, "molecule is not installed next to this Python (make setup)"
        self.queue = longest_first(scenarios)
        self.workers = max(workers, 1)
        self.early = min(max(early, 0), self.workers)
        self.base = Path(tempfile.mkdtemp(prefix="fraud-demo-molecule-"))
        # The environment as the session started: a test that monkeypatches os.environ meanwhile (the e2e tests' MLflow
        # login, say) must not leak into a scenario started while it runs - MLflow's client then sent that Basic
        # login instead of the scenario's bearer token, and the Route's oauth-proxy answered its sign-in page.
        self.environ = dict(os.environ)
        self.results: dict[str, Outcome] = {}
        self.started_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._all = threading.Event()
        self._cancelled = threading.Event()
        self._running: dict[str, subprocess.Popen[str]] = {}
        self._threads = [threading.Thread(target=self._work, args=(index,), daemon=True, name=f"molecule-{index}")
                         for index in range(self.workers)]

    def start(self) -> Runner:
        for thread in self._threads:
            thread.start()
        return self

    def open_all(self) -> None:
        """The rest of the suite is done: every worker takes scenarios from now on."""
        self._all.set()

    def wait(self) -> dict[str, Outcome]:
        """Every scenario's outcome; their ANSIBLE_HOMEs are removed when all passed, else kept for a look."""
        self.open_all()
        for thread in self._threads:
            thread.join()
        if all(outcome.returncode == 0 for outcome in self.results.values()):
            shutil.rmtree(self.base, ignore_errors=True)
        return dict(self.results)

    def cancel(self) -> None:
        """Stop what runs (its process group), start nothing more, stop the control planes left behind."""
        self._cancelled.set()
        self._all.set()
        with self._lock:
            self.queue.clear()
            running = list(self._running.values())
        for process in running:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for thread in self._threads:
            thread.join(timeout=60)
        self._stop_control_planes(self.base)
        shutil.rmtree(self.base, ignore_errors=True)

    def _work(self, index: int) -> None:
        if index >= self.early:
            self._all.wait()
        while not self._cancelled.is_set():
            with self._lock:
                if not self.queue:
                    return
                name = self.queue.pop(0)
                self.started_at[name] = time.monotonic()
            self.results[name] = self._run(name, self.base / name)

    def scenario_env(self, home: Path) -> dict[str, str]:
        """The environment of one scenario's molecule: the session's as it started, plus the runner's settings."""
        return {
            **self.environ,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), self.environ.get("PATH", "")]),  # ansible-* tools
            "MOLECULE_GLOB": "extensions/molecule/*/molecule.yml",
            # molecule keeps the scenario's ephemeral directory (kubeconfig, pidfile) under ANSIBLE_HOME: a private
            # one keeps this run apart from the other scenarios and from anybody's molecule run in the same checkout
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_FORCE_COLOR": "0",
            "PY_COLORS": "0",
            "NO_COLOR": "1",
            # UNSHARE gives the scenario a mount namespace of its own (tests/cluster/__main__.py --controller-dns)
            "FRAUD_DEMO_PRIVATE_MOUNT_NAMESPACE": "1" if UNSHARE else "0",
        }

    def _run(self, scenario: str, home: Path) -> Outcome:
        """`molecule test -s <scenario>` with a private ANSIBLE_HOME; stops a control plane a cut-short run left."""
        env = self.scenario_env(home)
        started = time.monotonic()
        # A private mount namespace: the control plane's `up --controller-dns` points /etc/resolv.conf at the
        # cluster's DNS for this scenario only (Route hosts resolve; nothing else changes).
        command = [*UNSHARE, str(self.molecule), "-c", str(MOLECULE_DIR / "config.yml"), "test", "-s", scenario]
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        with self._lock:
            self._running[scenario] = process
        try:
            output, _ = process.communicate(timeout=SCENARIO_TIMEOUT_S)
            returncode = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            output += f"\n(timed out after {SCENARIO_TIMEOUT_S} s)"
            returncode = -1
        finally:
            with self._lock:
                self._running.pop(scenario, None)
            self._stop_control_planes(home)
        if self._cancelled.is_set() and returncode != 0:
            output += "\n(cancelled: the pytest session ended first)"
        return Outcome(returncode, output, time.monotonic() - started)

    @staticmethod
    def _stop_control_planes(home: Path) -> None:
        for pidfile in home.glob("**/control-plane.pid"):
            subprocess.run([sys.executable, "-m", "tests.cluster", "down", "--pidfile", str(pidfile)], cwd=REPO,
                           check=False)
