"""One training run end to end: data, MLflow run (fit, threshold, evaluate, ONNX with parity, images), registry,
summary.

Order matters: the data is loaded and validated and the artifact store checked before the MLflow run starts;
inside the run everything that can fail (training, the threshold policy, parity) happens before the model is
logged and registered. The threshold is chosen on the validation split, the test split is evaluated at it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import mlflow
from mlflow import MlflowClient

from . import drift, gate, registry, tracking
from .config import TrainConfig
from .data import Split, TransactionData, load, split, with_label_noise
from .evaluation import evaluate
from .model import INPUT_NAME, OUTPUT_NAME
from .onnx_export import check_parity, to_onnx
from .plots import confusion_matrix_figure, precision_recall_figure
from .sources import redact, with_system_cas
from .summary import Summary
from .threshold import choose_threshold
from .training import predict, train

LOG = logging.getLogger(__name__)

INPUT_EXAMPLE_ROWS = 5


class ArtifactStoreError(RuntimeError):
    """The tracking server's artifact store cannot give the model a bucket location."""


def run(config: TrainConfig) -> Summary:
    """Train, evaluate, export, log and register one model as ``config`` says; return the run's summary."""
    ca_bundle = with_system_cas(config.ca_bundle)
    data = load(config.data, rows=config.rows, seed=config.seed, ca_bundle=ca_bundle, drift=config.drift)
    parts = split(data, validation_fraction=config.validation_fraction, test_fraction=config.test_fraction,
                  seed=config.seed)
    parts = Split(with_label_noise(parts.train, config.label_noise, config.seed), parts.validation, parts.test)
    LOG.info("data %s: %d rows (%.2f%% fraud); train %d, validation %d, test %d", data.source, data.rows,
             100 * data.labels.mean(), parts.train.rows, parts.validation.rows, parts.test.rows)
    experiment_id = tracking.connect(config.tracking_uri, config.experiment, ca_bundle)
    client = MlflowClient()
    check_artifact_store(client.get_experiment(experiment_id).artifact_location, config.artifacts_destination)
    params = run_params(config, data, parts)
    with mlflow.start_run(experiment_id=experiment_id) as active:
        tracking.log_setup(params, data)
        started = time.perf_counter()
        model = train(parts, epochs=config.epochs, batch_size=config.batch_size, optimizer=config.optimizer,
                      learning_rate=config.learning_rate, seed=config.seed, sink=tracking.log_epoch)
        fit_seconds = time.perf_counter() - started
        choice = choose_threshold(parts.validation.labels, predict(model, parts.validation.features),
                                  config.threshold_policy)
        policy = str(config.threshold_policy)
        LOG.info("threshold %s chosen by policy %s on the validation split: precision=%.4f recall=%.4f f1=%.4f",
                 choice.threshold, policy, choice.precision, choice.recall, choice.f1)
        params["threshold"] = choice.threshold
        mlflow.log_param("threshold", choice.threshold)
        probabilities = predict(model, parts.test.features)
        metrics = evaluate(parts.test.labels, probabilities, choice.threshold)
        proto = to_onnx(model)
        metrics["onnx_max_abs_diff"] = check_parity(proto, parts.test.features, probabilities)
        metrics["fit_seconds"] = fit_seconds
        LOG.info("test metrics at threshold %s (policy %s): %s", choice.threshold, policy,
                 " ".join(f"{name}={value:.4g}" for name, value in metrics.items()))
        metrics.update(choice.validation_metrics())
        tracking.log_results(metrics, {
            "confusion_matrix.png": confusion_matrix_figure(metrics, choice.threshold, policy),
            "precision_recall_curve.png": precision_recall_figure(parts.test.labels, probabilities,
                                                                  choice.threshold, policy, metrics["pr_auc"]),
        })
        # What the served model's traffic is compared with later (drift.py): the training split and its scores.
        mlflow.log_dict(drift.reference_profile(parts.train.features, predict(model, parts.train.features)),
                        drift.PROFILE_ARTIFACT)
        info = tracking.log_onnx_model(proto, parts.test.features[:INPUT_EXAMPLE_ROWS])
        model_sha256 = hashlib.sha256(proto.SerializeToString()).hexdigest()
        # The gate: the champion scored on the same holdout (this run's test split) as the challenger.
        metric = config.promotion_metric
        registry.ensure_registered_model(client, config.registered_model)
        holder = gate.champion(client, config.registered_model, config.alias, metric, parts.test.features,
                               parts.test.labels)
        challenger = gate.challenger_score(proto.SerializeToString(), metric, parts.test.features, parts.test.labels)
        promotion = gate.decide(metric, challenger, holder, config.promotion_min_gain, config.force_promote)
        gate_tags = gate.record(metric, challenger, holder, promotion)
        registration = registry.register(
            client, name=config.registered_model, model_uri=info.model_uri, model_id=info.model_id,
            run_id=active.info.run_id, alias=config.alias, promotion=promotion,
            tags={"threshold": str(choice.threshold), "threshold_policy": policy, "data_source": data.source,
                  registry.DIGEST_TAG: model_sha256, drift.PROFILE_TAG: drift.PROFILE_ARTIFACT, **gate_tags},
            artifacts_destination=config.artifacts_destination)
    return Summary(
        run_id=active.info.run_id,
        experiment_id=experiment_id,
        experiment=config.experiment,
        registered_model=config.registered_model,
        version=registration.version,
        alias=config.alias,
        alias_moved=registration.promotion.moved,
        alias_reason=registration.promotion.reason,
        previous_alias_version=registration.promotion.previous_version,
        model_uri=f"models:/{config.registered_model}/{registration.version}",
        model_id=info.model_id,
        artifact_uri=registration.location.uri,
        artifact_bucket=registration.location.bucket,
        artifact_path=registration.location.path,
        onnx_input=INPUT_NAME,
        onnx_output=OUTPUT_NAME,
        threshold=choice.threshold,
        threshold_policy=policy,
        metrics=metrics,
        params=params,
        data_source=data.source,
        data_rows=data.rows,
        gate=gate_tags,
    )


def run_params(config: TrainConfig, data: TransactionData, parts: Split) -> dict[str, Any]:
    """Return the parameters logged to MLflow (and echoed in the summary)."""
    return {
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "learning_rate_schedule": "cosine decay to 0",
        "threshold_policy": str(config.threshold_policy),
        "seed": config.seed,
        "validation_fraction": config.validation_fraction,
        "test_fraction": config.test_fraction,
        "train_rows": parts.train.rows,
        "validation_rows": parts.validation.rows,
        "test_rows": parts.test.rows,
        "promotion_metric": config.promotion_metric,
        "promotion_min_gain": config.promotion_min_gain,
        "drift": config.drift,
        "label_noise": config.label_noise,
        "alias": config.alias,
        "data_source": data.source,
        "data_rows": data.rows,
    }


def check_artifact_store(location: str, artifacts_destination: str | None) -> None:
    """Fail before training when the experiment's artifacts cannot be located in a bucket afterwards."""
    scheme = urlsplit(location).scheme
    if scheme == registry.PROXIED_SCHEME and not artifacts_destination:
        raise ArtifactStoreError(f"the tracking server proxies artifacts ({location}); pass --artifacts-destination "
                                 "(or MLFLOW_ARTIFACTS_DESTINATION): the server's s3://bucket/prefix")
    if scheme not in (registry.PROXIED_SCHEME, "s3", "s3a"):
        raise ArtifactStoreError(f"experiment artifacts go to {redact(location)}, not to an object store; run the "
                                 "tracking server with --artifacts-destination s3://bucket/prefix")
