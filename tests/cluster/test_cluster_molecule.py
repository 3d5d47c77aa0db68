"""`make test` covers molecule: every scenario under extensions/molecule runs its full test sequence
(create -> converge -> idempotence -> verify -> destroy) against its own test control plane.

The scenarios run in the background from the start of the session (tests/cluster/molecule_runner.py, started by
tests/cluster/conftest.py): one while the rest of the suite runs, then two at a time, longest first. These tests
come last and read the outcomes; each scenario is one test, so a failure names its scenario."""

from __future__ import annotations

import os

import pytest

from .molecule_runner import SCENARIOS, Outcome

pytestmark = [pytest.mark.cluster, pytest.mark.molecule]


def test_every_scenario_is_found() -> None:
    assert {"site", "site_rhoai3", "real_cluster", "model_serving"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(molecule_outcomes: dict[str, Outcome], scenario: str) -> None:
    outcome = molecule_outcomes[scenario]
    assert outcome.returncode == 0, f"{scenario} failed after {outcome.seconds:.0f} s:\n{outcome.output[-8000:]}"
    if scenario == "real_cluster" and os.environ.get("FRAUD_DEMO_REAL_CLUSTER") != "1":
        assert "real_cluster skipped" in outcome.output, outcome.output[-3000:]
