"""The molecule runner gives each scenario the session's environment as it started: what a test monkeypatches while
a scenario starts (the e2e tests' MLflow login) does not leak into it."""

import shutil

import pytest

from .molecule_runner import Runner


def test_a_variable_set_after_the_start_does_not_reach_a_scenario(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    runner = Runner([], workers=1, early=0)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "an-e2e-test-login")
        env = runner.scenario_env(tmp_path)
        assert "MLFLOW_TRACKING_USERNAME" not in env
        assert env["ANSIBLE_HOME"] == str(tmp_path) and env["PATH"].split(":")[0].endswith("/bin")
    finally:
        shutil.rmtree(runner.base, ignore_errors=True)
