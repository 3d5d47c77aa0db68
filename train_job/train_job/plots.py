"""The run's image artifacts: a confusion matrix at the threshold and a precision-recall curve, each naming the
threshold and the policy that chose it (fraud when probability >= threshold: `threshold.is_fraud`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve

from .threshold import is_fraud


def confusion_matrix_figure(metrics: dict[str, float], threshold: float, policy: str) -> Figure:
    """Draw the tn / fp / fn / tp counts of ``metrics`` as a 2x2 matrix (rows: truth, columns: prediction),
    titled with the ``threshold`` they were counted at and the ``policy`` that chose it."""
    counts = np.array([[metrics["tn"], metrics["fp"]], [metrics["fn"], metrics["tp"]]], dtype=np.int64)
    figure = Figure(figsize=(4.5, 4), layout="constrained")
    axes = figure.subplots()
    axes.imshow(counts, cmap="Blues")
    for (row, column), count in np.ndenumerate(counts):
        color = "white" if count > counts.max() / 2 else "black"
        axes.text(column, row, f"{count:,}", ha="center", va="center", color=color)
    axes.set_xticks([0, 1], ["normal", "fraud"])
    axes.set_yticks([0, 1], ["normal", "fraud"])
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title(f"Confusion matrix at threshold {threshold:.6g}\n"
                   f"(policy {policy}; fraud: probability >= threshold)", fontsize="medium")
    return figure


def precision_recall_figure(labels: np.ndarray, probabilities: np.ndarray, threshold: float, policy: str,
                            pr_auc: float) -> Figure:
    """Draw the precision-recall curve and mark the operating point at ``threshold``, chosen by ``policy``."""
    precision, recall, _ = precision_recall_curve(labels, probabilities)
    predicted = is_fraud(probabilities, threshold)
    true_positives = int(np.sum(predicted & (labels == 1)))
    point_precision = true_positives / max(int(predicted.sum()), 1)
    point_recall = true_positives / max(int(np.sum(labels == 1)), 1)
    figure = Figure(figsize=(5, 4), layout="constrained")
    axes = figure.subplots()
    axes.plot(recall, precision, label=f"PR curve (PR-AUC {pr_auc:.4f})")
    axes.scatter([point_recall], [point_precision], color="red", zorder=3,
                   label=f"operating point: threshold {threshold:.6g} (policy {policy})")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_title("Precision-recall on the test split")
    axes.legend(loc="lower left")
    return figure
