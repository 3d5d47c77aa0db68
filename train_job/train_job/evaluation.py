"""Test-split metrics of a fraud classifier: ranking quality and the confusion counts at the threshold.

One comparison rule everywhere (`threshold.is_fraud`: here, in the threshold choice, the plots and the app): a
transaction is fraud when its probability is >= the threshold.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix, log_loss, roc_auc_score

from .threshold import is_fraud

METRIC_NAMES = ("roc_auc", "pr_auc", "precision", "recall", "f1", "tn", "fp", "fn", "tp")


def evaluate(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    """Return ROC-AUC, PR-AUC (average precision) and, at ``threshold``, precision, recall, F1, tn, fp, fn, tp.

    A transaction counts as fraud when its probability is at or above ``threshold`` (``>=``, as the app decides).
    """
    predicted = is_fraud(probabilities, threshold)
    tn, fp, fn, tp = (int(count) for count in confusion_matrix(labels, predicted, labels=[0, 1]).ravel())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
    }


def validation_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Return the unweighted binary cross-entropy (``loss``), ROC-AUC and PR-AUC of ``probabilities``."""
    return {
        "loss": float(log_loss(labels, probabilities.astype(np.float64), labels=[0, 1])),
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
    }
