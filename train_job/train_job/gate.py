"""The gate: the current champion (the version holding the alias serving follows) and the new version (the
challenger) scored on the same holdout, the test split of this run's data, on a threshold-free metric.

The challenger takes the alias when nobody holds it, or when its score is at least the champion's plus
``min_gain``; ``force`` moves it anyway and says what the gate would have decided. A champion that cannot be
scored (its files missing, or not a model of our input) keeps the alias: nothing shows that the challenger is
better. The decision is logged on the challenger's run (metrics ``gate_challenger_<metric>``,
``gate_champion_<metric>``, tags ``gate_decision`` and ``gate_reason``) and tagged on the new version.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.artifacts
import numpy as np
import onnxruntime
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.metrics import average_precision_score, roc_auc_score

from .model import INPUT_NAME
from .registry import MODEL_FILE, Promotion

LOG = logging.getLogger(__name__)

SCORES = {"pr_auc": average_precision_score, "roc_auc": roc_auc_score}
"""The metrics the gate can compare (config.PROMOTION_METRICS): higher is better."""
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Champion:
    """The version holding the alias and its score on the holdout (None with ``error`` when it cannot be scored)."""

    version: str
    value: float | None
    error: str = ""


def champion(client: MlflowClient, name: str, alias: str, metric: str, features: np.ndarray,
             labels: np.ndarray) -> Champion | None:
    """The alias holder scored on (``features``, ``labels``); None when no version holds the alias."""
    try:
        holder = client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    version = str(holder.version)
    try:
        scores = score_version(client, name, version, features)
    except Exception as error:  # noqa: BLE001 - whatever stops the champion being scored keeps it (module docstring)
        return Champion(version, None, f"{type(error).__name__}: {error}")
    return Champion(version, float(SCORES[metric](labels, scores)))


def score_version(client: MlflowClient, name: str, version: str, features: np.ndarray) -> np.ndarray:
    """The fraud probabilities of registered ``version``'s ``model.onnx`` for raw ``features``."""
    uri = client.get_model_version_download_uri(name, version)
    with tempfile.TemporaryDirectory(prefix="gate-") as folder:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{uri.rstrip('/')}/{MODEL_FILE}",
                                                          dst_path=folder))
        return probabilities(local.read_bytes(), features)


def challenger_score(model: bytes, metric: str, features: np.ndarray, labels: np.ndarray) -> float:
    """The new ONNX model's ``metric`` on the holdout, computed as the champion's is (the same runtime, so the same
    model scores exactly the same)."""
    return float(SCORES[metric](labels, probabilities(model, features)))


def probabilities(model: bytes, features: np.ndarray) -> np.ndarray:
    """The fraud probabilities of an ONNX model (``dense_input`` -> one probability per row) for raw ``features``."""
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    outputs = [session.run(None, {INPUT_NAME: features[start:start + BATCH_ROWS]})[0]
               for start in range(0, len(features), BATCH_ROWS)]
    return np.concatenate(outputs).reshape(-1).astype(np.float64)


def decide(metric: str, challenger: float, holder: Champion | None, min_gain: float, force: bool) -> Promotion:
    """Whether the challenger takes the alias (module docstring), and why."""
    if holder is None:
        verdict = Promotion(True, f"no version holds the alias; challenger {metric} {challenger:.6f}", None, None)
    elif holder.value is None:
        verdict = Promotion(False, f"champion version {holder.version} cannot be scored on the holdout "
                                   f"({holder.error}); it keeps the alias", holder.version, None)
    else:
        gain = challenger - holder.value
        passed = gain >= min_gain
        verdict = Promotion(passed, f"holdout {metric}: challenger {challenger:.6f}, champion version "
                                    f"{holder.version} {holder.value:.6f}, gain {gain:+.6f} "
                                    f"{'>=' if passed else '<'} {min_gain:g}", holder.version, holder.value)
    if force and not verdict.moved:
        return Promotion(True, f"forced (the gate said no: {verdict.reason})", verdict.previous_version,
                         verdict.previous_value)
    return verdict


def record(metric: str, challenger: float, holder: Champion | None, promotion: Promotion) -> dict[str, str]:
    """Log the gate on the active run; return the tags that go on the new version."""
    metrics = {f"gate_challenger_{metric}": challenger}
    if holder is not None and holder.value is not None:
        metrics[f"gate_champion_{metric}"] = holder.value
    mlflow.log_metrics(metrics)
    tags = {
        "gate_decision": "promoted" if promotion.moved else "kept",
        "gate_reason": promotion.reason,
        "gate_metric": metric,
        f"gate_challenger_{metric}": f"{challenger:.6f}",
        "gate_champion_version": holder.version if holder else "",
    }
    if holder is not None and holder.value is not None:
        tags[f"gate_champion_{metric}"] = f"{holder.value:.6f}"
    mlflow.set_tags({"gate_decision": tags["gate_decision"], "gate_reason": promotion.reason,
                     "gate_champion_version": tags["gate_champion_version"]})
    LOG.info("gate: %s (%s)", tags["gate_decision"], promotion.reason)
    return tags
