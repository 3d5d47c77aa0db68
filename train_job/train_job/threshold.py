"""The decision threshold: a declared policy, and the threshold it picks from the validation split's scores.

Policies (``--threshold-policy``): ``f1`` maximises F1; ``precision:P`` takes the highest recall whose precision
is at least P; ``recall:R`` the highest precision (the highest threshold) whose recall is at least R; ``fixed:T``
uses T as given (``fixed:0.995`` is the original demo). The candidates are the distinct validation scores, and a
transaction is fraud when its probability is >= the threshold: `is_fraud`, the one rule of the metrics, the
plots and the app.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

KINDS = ("f1", "precision", "recall", "fixed")
GRAMMAR = "f1, precision:P, recall:R (P, R in (0, 1]) or fixed:T (T in (0, 1))"


class ThresholdError(ValueError):
    """The policy cannot be met on the validation split; the message names the policy and the best reachable."""


@dataclass(frozen=True)
class ThresholdPolicy:
    """How the threshold is chosen: ``kind`` (one of `KINDS`) and its number (None for ``f1``)."""

    kind: str
    value: float | None = None

    def __str__(self) -> str:
        """The canonical text: ``f1``, ``precision:0.9``, ``fixed:0.995``."""
        return self.kind if self.value is None else f"{self.kind}:{self.value!r}"


@dataclass(frozen=True)
class Choice:
    """The chosen threshold and the validation split's precision, recall and F1 at it."""

    threshold: float
    precision: float
    recall: float
    f1: float

    def validation_metrics(self) -> dict[str, float]:
        """Return ``validation_precision``, ``validation_recall`` and ``validation_f1``."""
        return {"validation_precision": self.precision, "validation_recall": self.recall,
                "validation_f1": self.f1}


def is_fraud(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Return which ``probabilities`` are >= ``threshold``, compared exactly (in float64, as the app compares
    Python floats; numpy would round ``threshold`` to a float32 array's precision)."""
    return np.asarray(probabilities, dtype=np.float64) >= threshold


def parse_policy(text: str) -> ThresholdPolicy:
    """Parse ``f1``, ``precision:P``, ``recall:R`` or ``fixed:T`` (case-insensitive)."""
    kind, separator, number = text.strip().lower().partition(":")
    if kind == "f1" and not separator:
        return ThresholdPolicy("f1")
    if kind in KINDS[1:] and separator:
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if 0 < value < 1 or (value == 1 and kind != "fixed"):
            return ThresholdPolicy(kind, value)
    hint = f" (a fixed threshold is written fixed:{text.strip()})" if re.fullmatch(r"0?\.\d+", text.strip()) else ""
    raise ValueError(f"expected a threshold policy {GRAMMAR}, got {text!r}{hint}")


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray, policy: ThresholdPolicy) -> Choice:
    """Return the threshold ``policy`` picks on (``labels``, ``probabilities``) and the metrics at it.

    One sort of the scores; each distinct score is a candidate, flagging every row scored at or above it. Ties
    between candidates go to the highest threshold (the fewest alerts). Raises `ThresholdError` when the policy
    cannot be met, naming the best value any candidate reaches.
    """
    labels = np.asarray(labels).reshape(-1) == 1
    probabilities = np.asarray(probabilities).reshape(-1)
    positives = int(labels.sum())
    if policy.kind == "fixed":
        return _choice_at(float(policy.value), labels, probabilities)
    if positives == 0:
        raise ThresholdError(f"threshold policy {policy} needs fraud in the validation split, which has none "
                             f"({labels.size} rows)")
    order = np.argsort(probabilities, kind="stable")[::-1]
    scores = probabilities[order]
    true_positives = np.cumsum(labels[order])
    last = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))  # last row of each distinct score
    thresholds, true_positives, flagged = scores[last], true_positives[last], last + 1
    precision = true_positives / flagged
    recall = true_positives / positives
    f1 = 2 * true_positives / (flagged + positives)
    if policy.kind == "f1":
        best = int(np.argmax(f1))
    elif policy.kind == "recall":
        best = int(np.argmax(recall >= policy.value))  # the lowest candidate flags every row: recall 1
    else:
        meeting = np.flatnonzero(precision >= policy.value)
        if meeting.size == 0:
            top = int(np.argmax(precision))
            raise ThresholdError(
                f"threshold policy {policy} cannot be met on the validation split ({labels.size} rows, "
                f"{positives} fraud): the highest precision reachable is {precision[top]:.4f} (threshold "
                f"{float(thresholds[top]):.6g}, recall {recall[top]:.4f}); lower P or choose another policy")
        best = int(meeting[np.argmax(true_positives[meeting])])
    return Choice(float(thresholds[best]), float(precision[best]), float(recall[best]), float(f1[best]))


def _choice_at(threshold: float, labels: np.ndarray, probabilities: np.ndarray) -> Choice:
    flagged = is_fraud(probabilities, threshold)
    true_positives = int(np.sum(flagged & labels))
    precision = true_positives / max(int(flagged.sum()), 1)
    recall = true_positives / max(int(labels.sum()), 1)
    f1 = 2 * true_positives / max(int(flagged.sum()) + int(labels.sum()), 1)
    return Choice(threshold, precision, recall, f1)
