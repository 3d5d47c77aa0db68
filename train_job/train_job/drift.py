"""The reference profile of a training split, and how far later data has drifted from it.

A training run stores the profile of its training split beside the model (run artifact `PROFILE_ARTIFACT`): for
each of the seven features and for the model's score on those rows,

* a continuous column (the distances, the ratio, the score): the training split's deciles as bin edges with the
  share of rows in each bin, and its quantiles at every 0.1 % (`QUANTILES` points);
* a flag column: the share of rows with the flag set.

`compare` measures later rows (the served requests' features and scores) against it, per column:

* PSI, the population stability index, sum((actual - expected) * ln(actual / expected)) over the profile's bins,
  shares floored at `PSI_FLOOR` (0.1 is the usual "moderate shift" line, 0.25 "major");
* a two-sample test of the same null hypothesis (nothing changed): Kolmogorov-Smirnov against the stored quantiles
  for a continuous column (they stand for a reference sample of `QUANTILES` rows, which is conservative for a large
  training split), chi-square of the flag's counts against its reference share.

A column drifts when both say so (PSI >= `psi_threshold` and p < `alpha`): PSI alone jumps on a small window, a
test alone flags differences too small to matter on a large one. Fewer than `MIN_ROWS` rows give no verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from .schema import DISTANCE_COLUMNS, FEATURE_COLUMNS

PROFILE_ARTIFACT = "reference/profile.json"
PROFILE_TAG = "reference_profile"
"""The registered version's tag naming the artifact (of the version's run)."""
PROFILE_FORMAT = 1
SCORE_COLUMN = "score"
"""The model's output (probability of fraud) on the profiled rows."""
DECILES = np.linspace(0.1, 0.9, 9)
QUANTILES = 1001
PSI_FLOOR = 1e-4
PSI_THRESHOLD = 0.1
ALPHA = 0.01
MIN_ROWS = 500


class ProfileError(ValueError):
    """A profile that this code cannot compare against (another format, a column missing)."""


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift: PSI, the test's statistic and p-value, and the verdict."""

    column: str
    kind: str
    psi: float
    statistic: float
    p_value: float
    drifted: bool
    expected: list[float]
    actual: list[float]


@dataclass(frozen=True)
class DriftReport:
    """Every column's drift, the rows compared and the settings that decided."""

    rows: int
    columns: list[ColumnDrift]
    psi_threshold: float
    alpha: float

    @property
    def drifted(self) -> list[str]:
        """The columns that drifted."""
        return [column.column for column in self.columns if column.drifted]

    @property
    def verdict(self) -> str:
        """``drift`` (naming the columns), ``no drift``, or ``not enough data``."""
        if self.rows < MIN_ROWS:
            return f"not enough data ({self.rows} rows, at least {MIN_ROWS} needed)"
        return f"drift in {', '.join(self.drifted)}" if self.drifted else "no drift"

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {"rows": self.rows, "verdict": self.verdict, "drifted": self.drifted,
                "psi_threshold": self.psi_threshold, "alpha": self.alpha,
                "columns": [asdict(column) for column in self.columns]}


def _continuous(values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values, dtype=np.float64)
    edges = np.unique(np.quantile(values, DECILES))
    return {"kind": "continuous", "rows": int(values.size), "edges": edges.tolist(),
            "shares": _shares(values, edges).tolist(),
            "quantiles": np.quantile(values, np.linspace(0.0, 1.0, QUANTILES)).tolist()}


def _flag(values: np.ndarray) -> dict[str, Any]:
    return {"kind": "flag", "rows": int(values.size), "share": float(np.mean(np.asarray(values) >= 0.5))}


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin: below the first edge, between edges (right-closed), above the last."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def reference_profile(features: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The profile of ``features`` (rows in `FEATURE_COLUMNS` order) and the model's ``scores`` on them."""
    if features.ndim != 2 or features.shape[1] != len(FEATURE_COLUMNS) or len(scores) != features.shape[0]:
        raise ValueError(f"expected rows of {len(FEATURE_COLUMNS)} features and one score each, got features of "
                         f"shape {features.shape} and {len(scores)} scores")
    columns: dict[str, Any] = {}
    for index, name in enumerate(FEATURE_COLUMNS):
        columns[name] = _continuous(features[:, index]) if name in DISTANCE_COLUMNS else _flag(features[:, index])
    columns[SCORE_COLUMN] = _continuous(np.ravel(scores))
    return {"format": PROFILE_FORMAT, "rows": int(features.shape[0]), "columns": columns}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """The population stability index of ``actual`` shares against ``expected`` ones (same bins)."""
    expected = np.maximum(np.asarray(expected, dtype=np.float64), PSI_FLOOR)
    actual = np.maximum(np.asarray(actual, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _column_drift(name: str, reference: dict[str, Any], values: np.ndarray, psi_threshold: float,
                  alpha: float) -> ColumnDrift:
    values = np.asarray(values, dtype=np.float64)
    if reference["kind"] == "flag":
        share = float(np.mean(values >= 0.5)) if values.size else 0.0
        expected, actual = [1.0 - reference["share"], reference["share"]], [1.0 - share, share]
        flagged = int(np.sum(values >= 0.5))
        observed = np.array([values.size - flagged, flagged], dtype=np.float64)
        wanted = np.maximum(np.array(expected) * values.size, 1e-9)
        statistic, p_value = stats.chisquare(observed, wanted * observed.sum() / wanted.sum())
    else:
        edges = np.asarray(reference["edges"])
        expected, actual = list(reference["shares"]), _shares(values, edges).tolist()
        statistic, p_value = stats.ks_2samp(np.asarray(reference["quantiles"]), values)
    index = psi(np.array(expected), np.array(actual))
    p_value = float(p_value) if np.isfinite(p_value) else 1.0
    drifted = values.size >= MIN_ROWS and index >= psi_threshold and p_value < alpha
    return ColumnDrift(name, reference["kind"], index, float(statistic), p_value, bool(drifted), expected, actual)


def compare(profile: dict[str, Any], features: np.ndarray, scores: np.ndarray | None = None, *,
            psi_threshold: float = PSI_THRESHOLD, alpha: float = ALPHA) -> DriftReport:
    """How far ``features`` (rows in `FEATURE_COLUMNS` order) and ``scores`` drifted from ``profile``."""
    if profile.get("format") != PROFILE_FORMAT:
        raise ProfileError(f"reference profile format {profile.get('format')!r}; this code reads {PROFILE_FORMAT}")
    missing = [name for name in (*FEATURE_COLUMNS, SCORE_COLUMN) if name not in profile.get("columns", {})]
    if missing:
        raise ProfileError(f"the reference profile has no column(s) {missing}")
    features = np.asarray(features, dtype=np.float64).reshape(-1, len(FEATURE_COLUMNS))
    columns = [_column_drift(name, profile["columns"][name], features[:, index], psi_threshold, alpha)
               for index, name in enumerate(FEATURE_COLUMNS)]
    if scores is not None:
        columns.append(_column_drift(SCORE_COLUMN, profile["columns"][SCORE_COLUMN], np.ravel(scores),
                                     psi_threshold, alpha))
    return DriftReport(int(features.shape[0]), columns, psi_threshold, alpha)

