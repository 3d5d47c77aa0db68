"""Drift reports as train_job.monitor writes them, made by the real drift code from seeded synthetic data."""

import json
from pathlib import Path

import numpy as np

from train_job import drift, synthetic


def _rule_scores(features: np.ndarray) -> np.ndarray:
    """The generator's own fraud rule as a score (a fixed scorer, so only the data differs)."""
    return 1.0 / (1.0 + np.exp(-synthetic.fraud_score(features)))


def write_drift_report(path: Path, shift: float, version: str = "4") -> Path:
    """The profile of in-distribution data against 2,000 rows drifted by `shift` (train_job's --drift), at `path`."""
    reference, _ = synthetic.generate(20_000, seed=1)
    served, _ = synthetic.generate(2_000, seed=2, drift=shift)
    profile = json.loads(json.dumps(drift.reference_profile(reference, _rule_scores(reference))))  # as stored
    report = drift.compare(profile, served, _rule_scores(served))
    path.write_text(json.dumps({"registered_model": "DNN-credit-card-fraud", "version": version, "run_id": "a1b2",
                                "made": "2026-12-07T16:00:00+00:00", **report.as_dict()}))
    return path
