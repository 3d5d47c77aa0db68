"""`make test` covers molecule: every scenario under extensions/molecule runs its full test sequence
(create -> converge -> idempotence -> verify -> destroy) against its own test control plane.

The scenarios are independent (each starts its control plane on free ports, its ephemeral directory under its own
ANSIBLE_HOME), so they run a few at a time, longest first: on 2 cores, two at once keep both busy while one waits
for the API server or the simulator. Each scenario is one test, so a failure names its scenario."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import binaries

pytestmark = [pytest.mark.cluster, pytest.mark.molecule]

REPO = Path(__file__).resolve().parents[2]
MOLECULE_DIR = REPO / "extensions" / "molecule"
SCENARIOS = sorted(path.parent.name for path in MOLECULE_DIR.glob("*/molecule.yml"))
# The whole-site scenarios take the longest (see SCENARIO_TIMEOUT_S): starting them first balances the workers.
LONGEST_FIRST = sorted(SCENARIOS, key=lambda name: (not name.startswith("site"), name))
WORKERS = int(os.environ.get("FRAUD_DEMO_MOLECULE_WORKERS", "2"))
# One scenario on 2 shared cores: site and site_rhoai3 (every pod real: TensorFlow training, OVMS on OpenVINO) took
# 24 min next to another scenario (2026-12-03), the role scenarios 4-8 min; the limit leaves a margin over that.
SCENARIO_TIMEOUT_S = 35 * 60
UNSHARE = ["unshare", "--mount", "--propagation", "private"] if os.geteuid() == 0 else []


@dataclass(frozen=True)
class Outcome:
    """One scenario's `molecule test`: exit status, output, wall time."""

    returncode: int
    output: str
    seconds: float


def _run_scenario(molecule: str, scenario: str, home: Path) -> Outcome:
    """`molecule test -s <scenario>` with a private ANSIBLE_HOME; stops a control plane a cut-short run left."""
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),  # ansible-* tools
        "MOLECULE_GLOB": "extensions/molecule/*/molecule.yml",
        # molecule keeps the scenario's ephemeral directory (kubeconfig, pidfile) under ANSIBLE_HOME: a private one
        # keeps this run apart from the other scenarios and from anybody's molecule run in the same checkout
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_FORCE_COLOR": "0",
        "PY_COLORS": "0",
        "NO_COLOR": "1",
        # UNSHARE below gives the scenario a mount namespace of its own (tests/cluster/__main__.py --controller-dns)
        "FRAUD_DEMO_PRIVATE_MOUNT_NAMESPACE": "1" if UNSHARE else "0",
    }
    started = time.monotonic()
    try:
        # A private mount namespace: the control plane's `up --controller-dns` points /etc/resolv.conf at the
        # cluster's DNS for this scenario only (Route hosts resolve; nothing else changes).
        completed = subprocess.run(
            [*UNSHARE, molecule, "-c", str(MOLECULE_DIR / "config.yml"), "test", "-s", scenario],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_S, check=False,
        )
        outcome = Outcome(completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started)
    except subprocess.TimeoutExpired as expired:
        partial = (expired.stdout or b"") + (expired.stderr or b"")
        text = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
        outcome = Outcome(-1, f"{text}\n(timed out after {SCENARIO_TIMEOUT_S} s)", time.monotonic() - started)
    finally:
        for pidfile in home.glob("**/control-plane.pid"):
            subprocess.run([sys.executable, "-m", "tests.cluster", "down", "--pidfile", str(pidfile)], cwd=REPO,
                           check=False)
    return outcome


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every scenario, WORKERS at a time, longest first."""
    binaries.find()  # a clear error when nothing is built yet
    molecule = shutil.which("molecule", path=str(Path(sys.executable).parent))
    assert molecule, "molecule is not installed next to this Python (make setup)"
    base = tmp_path_factory.mktemp("molecule")
    with ThreadPoolExecutor(max(WORKERS, 1)) as pool:
        futures = {name: pool.submit(_run_scenario, molecule, name, base / name) for name in LONGEST_FIRST}
        results = {name: future.result() for name, future in futures.items()}
    summary = ", ".join(f"{name} {outcome.seconds:.0f} s" for name, outcome in results.items())
    print(f"molecule scenarios ({WORKERS} at a time): {summary}")
    return results


def test_every_scenario_is_found() -> None:
    assert {"site", "site_rhoai3", "real_cluster", "model_serving"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(outcomes: dict[str, Outcome], scenario: str) -> None:
    outcome = outcomes[scenario]
    assert outcome.returncode == 0, f"{scenario} failed after {outcome.seconds:.0f} s:\n{outcome.output[-8000:]}"
    if scenario == "real_cluster" and os.environ.get("FRAUD_DEMO_REAL_CLUSTER") != "1":
        assert "real_cluster skipped" in outcome.output, outcome.output[-3000:]
