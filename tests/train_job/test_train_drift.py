"""drift.py: the reference profile of a training split, PSI and the tests, and the verdicts they give on the seeded
synthetic data (in distribution: alarms counted over many seeds; `--drift 1`: the shifted columns named).

The scores here come from the generator's own fraud rule (a fixed scorer, so only the data changes between seeds);
the profile a real training run stores is tested in test_train_full_run.py."""

import json

import numpy as np
import pytest

from train_job import drift, synthetic
from train_job.schema import FEATURE_COLUMNS


def rule_scores(features: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-synthetic.fraud_score(features)))


@pytest.fixture(scope="module")
def profile() -> dict:
    features, _ = synthetic.generate(80_000, seed=0)
    return json.loads(json.dumps(drift.reference_profile(features, rule_scores(features))))  # as stored


def test_the_profile_holds_deciles_quantiles_and_flag_shares(profile: dict) -> None:
    assert profile["format"] == drift.PROFILE_FORMAT and profile["rows"] == 80_000
    assert list(profile["columns"]) == [*FEATURE_COLUMNS, drift.SCORE_COLUMN]
    ratio = profile["columns"]["ratio_to_median_purchase_price"]
    assert ratio["kind"] == "continuous" and len(ratio["edges"]) == 9 and len(ratio["quantiles"]) == drift.QUANTILES
    assert ratio["shares"] == pytest.approx([0.1] * 10, abs=1e-3)  # deciles: a tenth of the rows in each bin
    assert ratio["edges"][4] == pytest.approx(1.0, rel=0.03)  # the generator's median
    assert profile["columns"]["online_order"] == {"kind": "flag", "rows": 80_000,
                                                  "share": pytest.approx(0.65, abs=0.01)}
    with pytest.raises(ValueError, match=r"shape \(5, 6\)"):
        drift.reference_profile(np.zeros((5, 6)), np.zeros(5))


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift() -> None:
    assert drift.psi(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0
    by_hand = (0.85 - 0.65) * np.log(0.85 / 0.65) + (0.15 - 0.35) * np.log(0.15 / 0.35)
    assert drift.psi(np.array([0.35, 0.65]), np.array([0.15, 0.85])) == pytest.approx(by_hand)
    assert drift.psi(np.array([0.5, 0.5]), np.array([0.0, 1.0])) == pytest.approx((0.5 - 1e-4) * np.log(0.5 / 1e-4) + 0.5 * np.log(2))  # empty bin floored


def test_in_distribution_traffic_raises_no_alarm_over_a_hundred_seeds(profile: dict) -> None:
    alarms = []
    for seed in range(1, 101):
        features, _ = synthetic.generate(1_000, seed=seed)
        report = drift.compare(profile, features, rule_scores(features))
        assert report.verdict in ("no drift", f"drift in {', '.join(report.drifted)}")
        alarms += [(seed, report.drifted)] if report.drifted else []
    assert alarms == []  # measured: 0 of 200 seeds at 500 and 1,000 rows, 1 of 200 at 200 rows (hence MIN_ROWS)


def test_drifted_traffic_names_the_shifted_columns_every_time(profile: dict) -> None:
    for seed in range(1, 21):
        features, _ = synthetic.generate(1_000, seed=seed, drift=1.0)
        report = drift.compare(profile, features, rule_scores(features))
        assert {"ratio_to_median_purchase_price", "online_order"} <= set(report.drifted) <= {
            "ratio_to_median_purchase_price", "online_order", drift.SCORE_COLUMN}, (seed, report.as_dict())
        ratio = next(column for column in report.columns if column.column == "ratio_to_median_purchase_price")
        assert ratio.psi >= drift.PSI_THRESHOLD and ratio.p_value < drift.ALPHA
        assert sum(ratio.actual[:5]) > 0.6  # cheaper purchases: more than half of the rows below the old median


def test_a_small_window_gives_no_verdict_and_a_foreign_profile_is_refused(profile: dict) -> None:
    features, _ = synthetic.generate(drift.MIN_ROWS - 1, seed=5, drift=1.0)
    report = drift.compare(profile, features)
    assert report.drifted == [] and report.verdict.startswith(f"not enough data ({drift.MIN_ROWS - 1} rows")
    assert [column.column for column in report.columns] == list(FEATURE_COLUMNS)  # no scores given: no score column
    with pytest.raises(drift.ProfileError, match="format 2"):
        drift.compare({**profile, "format": 2}, features)
    with pytest.raises(drift.ProfileError, match="used_chip"):
        drift.compare({**profile, "columns": {k: v for k, v in profile["columns"].items() if k != "used_chip"}}, features)
