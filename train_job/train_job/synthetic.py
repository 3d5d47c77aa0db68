"""A seeded synthetic generator with the schema and marginals of the public `card_transdata.csv`.

Features (drawn independently of each other):

* ``distance_from_home``: log-normal, median 10, mean ~26.6
* ``distance_from_last_transaction``: log-normal, median 1, mean ~5.0
* ``ratio_to_median_purchase_price``: log-normal, median 1, mean ~1.82
* ``repeat_retailer`` / ``used_chip`` / ``used_pin_number`` / ``online_order``: Bernoulli 0.88 / 0.35 / 0.10 / 0.65

Fraud rule: every row gets the score (``ln`` is the natural logarithm)

    z = -8.89 + 3.7 ln(ratio) + 1.8 ln(home / 10) + 1.3 ln(last) + 4.2 online - 2.6 chip - 5.1 pin - 1.0 repeat

and ``fraud`` is drawn as Bernoulli(sigmoid(z)). Expensive, far-away, online purchases without chip or PIN are
almost always fraud, cheap local chip-and-PIN purchases almost never; in between the draw is noisy, so the
classes overlap (the rule itself scores ROC-AUC ~0.984 and PR-AUC ~0.88, not 1.0). The intercept sets the fraud rate to ~8.7 %.

Drift (``drift`` = D from 0, the data above, to 1): the world a retrained model meets. With D, linearly:

* marginals: ``online_order`` rate 0.65 -> 0.85, ``ratio_to_median_purchase_price`` median 1 -> exp(-0.4) ~0.67
  (cheaper purchases); the other columns keep theirs;
* the fraud pattern: the weight of ``ln(ratio)`` 3.7 -> 1.5 and of ``online`` 4.2 -> 6.0, i.e. more online fraud
  at lower purchase ratios (the fraud rate stays ~8.9 %).

Measured on 400,000 rows at D = 1 (seed 1): the old rule scores PR-AUC 0.655, the drifted rule 0.804, so a model
fitted to the old data loses about 0.15 PR-AUC on the new data and one trained on the new data wins it back.
"""

from __future__ import annotations

import math

import numpy as np

from .schema import FEATURE_COLUMNS

LOGNORMAL_PARAMETERS: dict[str, tuple[float, float]] = {
    "distance_from_home": (math.log(10.0), 1.40),
    "distance_from_last_transaction": (0.0, 1.79),
    "ratio_to_median_purchase_price": (0.0, 1.09),
}
"""(mu, sigma) of the log of each distance column: median exp(mu), mean exp(mu + sigma**2 / 2)."""

FLAG_RATES: dict[str, float] = {
    "repeat_retailer": 0.88,
    "used_chip": 0.35,
    "used_pin_number": 0.10,
    "online_order": 0.65,
}
"""Share of rows with the flag set."""

FRAUD_INTERCEPT = -8.89
FRAUD_LOG_WEIGHTS: dict[str, float] = {
    "ratio_to_median_purchase_price": 3.7,
    "distance_from_home": 1.8,
    "distance_from_last_transaction": 1.3,
}
FRAUD_FLAG_WEIGHTS: dict[str, float] = {
    "online_order": 4.2,
    "used_chip": -2.6,
    "used_pin_number": -5.1,
    "repeat_retailer": -1.0,
}
DRIFT_FLAG_RATES: dict[str, float] = {"online_order": 0.20}
"""Added to a flag's rate at drift 1."""
DRIFT_LOG_MEDIANS: dict[str, float] = {"ratio_to_median_purchase_price": -0.4}
"""Added to a column's log-median (mu) at drift 1."""
DRIFT_LOG_WEIGHTS: dict[str, float] = {"ratio_to_median_purchase_price": 1.5 - 3.7}
DRIFT_FLAG_WEIGHTS: dict[str, float] = {"online_order": 6.0 - 4.2}
"""Added to a fraud weight at drift 1."""
HOME_SCALE = 10.0
"""``distance_from_home`` enters the score relative to its median."""


def fraud_score(features: np.ndarray, drift: float = 0.0) -> np.ndarray:
    """Return the logit ``z`` of the fraud rule (module docstring) at ``drift`` for rows in `FEATURE_COLUMNS` order."""
    column = {name: features[:, index].astype(np.float64) for index, name in enumerate(FEATURE_COLUMNS)}
    column["distance_from_home"] = column["distance_from_home"] / HOME_SCALE
    score = np.full(features.shape[0], FRAUD_INTERCEPT)
    for name, weight in FRAUD_LOG_WEIGHTS.items():
        score += (weight + drift * DRIFT_LOG_WEIGHTS.get(name, 0.0)) * np.log(np.maximum(column[name], 1e-12))
    for name, weight in FRAUD_FLAG_WEIGHTS.items():
        score += (weight + drift * DRIFT_FLAG_WEIGHTS.get(name, 0.0)) * column[name]
    return score


def generate(rows: int, seed: int, drift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``rows`` synthetic transactions at ``drift`` (0 to 1, module docstring) as (float32 features in
    `FEATURE_COLUMNS` order, int8 labels).

    The same ``rows``, ``seed`` and ``drift`` always give the same arrays.
    """
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be from 0 to 1, got {drift}")
    rng = np.random.default_rng(seed)
    features = np.empty((rows, len(FEATURE_COLUMNS)), dtype=np.float32)
    for index, name in enumerate(FEATURE_COLUMNS):
        if name in LOGNORMAL_PARAMETERS:
            mu, sigma = LOGNORMAL_PARAMETERS[name]
            features[:, index] = rng.lognormal(mu + drift * DRIFT_LOG_MEDIANS.get(name, 0.0), sigma, rows)
        else:
            features[:, index] = rng.random(rows) < FLAG_RATES[name] + drift * DRIFT_FLAG_RATES.get(name, 0.0)
    probability = 1.0 / (1.0 + np.exp(-fraud_score(features, drift)))
    labels = (rng.random(rows) < probability).astype(np.int8)
    return features, labels
