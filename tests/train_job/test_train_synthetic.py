"""The synthetic generator: deterministic, the public data set's marginals, fraud driven by the features."""

import numpy as np
import pandas as pd
import pytest

from train_job import synthetic
from train_job.data import validate_frame
from train_job.schema import COLUMNS, FEATURE_COLUMNS, LABEL_COLUMN

ROWS = 200_000


@pytest.fixture(scope="module")
def generated() -> tuple[np.ndarray, np.ndarray]:
    """200,000 rows with seed 42."""
    return synthetic.generate(ROWS, seed=42)


def column(features: np.ndarray, name: str) -> np.ndarray:
    """One feature column by name."""
    return features[:, FEATURE_COLUMNS.index(name)]


def test_same_seed_gives_identical_rows() -> None:
    """Seed and row count fully determine the output; another seed changes it."""
    first, second, other = (synthetic.generate(5_000, seed) for seed in (7, 7, 8))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


def test_types_and_shape(generated: tuple[np.ndarray, np.ndarray]) -> None:
    """float32 features in schema order, int8 labels, one row per transaction."""
    features, labels = generated
    assert features.shape == (ROWS, len(FEATURE_COLUMNS)) and features.dtype == np.float32
    assert labels.shape == (ROWS,) and labels.dtype == np.int8


@pytest.mark.parametrize(
    ("name", "mean", "median"),
    [
        ("distance_from_home", 26.6, 10.0),
        ("distance_from_last_transaction", 5.0, 1.0),
        ("ratio_to_median_purchase_price", 1.82, 1.0),
    ],
)
def test_distance_marginals(generated: tuple[np.ndarray, np.ndarray], name: str, mean: float, median: float) -> None:
    """Heavy-tailed, non-negative, with the public data set's mean and median (within 6 %)."""
    values = column(generated[0], name)
    assert values.min() >= 0
    assert values.mean() == pytest.approx(mean, rel=0.06)
    assert np.median(values) == pytest.approx(median, rel=0.06)
    assert values.max() > 20 * mean


@pytest.mark.parametrize(
    ("name", "rate"),
    [("repeat_retailer", 0.88), ("used_chip", 0.35), ("used_pin_number", 0.10), ("online_order", 0.65)],
)
def test_flag_rates(generated: tuple[np.ndarray, np.ndarray], name: str, rate: float) -> None:
    """Flags are 0/1 with the public data set's rates."""
    values = column(generated[0], name)
    assert set(np.unique(values)) == {0.0, 1.0}
    assert values.mean() == pytest.approx(rate, abs=0.005)


def test_fraud_rate(generated: tuple[np.ndarray, np.ndarray]) -> None:
    """About 8.7 % of the rows are fraud."""
    assert generated[1].mean() == pytest.approx(0.087, abs=0.004)


def test_fraud_follows_the_rule_with_noise(generated: tuple[np.ndarray, np.ndarray]) -> None:
    """Risky transactions are mostly fraud, safe ones almost never, and neither group is pure."""
    features, labels = generated
    risky = ((column(features, "online_order") == 1) & (column(features, "used_pin_number") == 0)
             & (column(features, "used_chip") == 0) & (column(features, "ratio_to_median_purchase_price") > 4))
    safe = (column(features, "used_pin_number") == 1) | (column(features, "ratio_to_median_purchase_price") < 0.5)
    assert 0.6 < labels[risky].mean() < 0.995
    assert 0 < labels[safe].mean() < 0.01
    probability = 1 / (1 + np.exp(-synthetic.fraud_score(features)))
    assert np.corrcoef(probability, labels)[0, 1] > 0.5


def test_generated_rows_pass_validation(generated: tuple[np.ndarray, np.ndarray]) -> None:
    """What the generator writes is valid data for the CSV checks."""
    features, labels = generated
    frame = pd.DataFrame(features[:10_000], columns=list(FEATURE_COLUMNS))
    frame[LABEL_COLUMN] = labels[:10_000]
    validate_frame(frame[list(COLUMNS)], "generated")


def test_rows_must_be_positive() -> None:
    """Zero rows is a clear error."""
    with pytest.raises(ValueError, match="rows must be at least 1, got 0"):
        synthetic.generate(0, seed=1)
