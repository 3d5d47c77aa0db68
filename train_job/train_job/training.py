"""Fit the model on a tf.data pipeline: seeded per-epoch shuffles, balanced sample weights, a log line per epoch."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from .data import Split, TransactionData
from .evaluation import validation_metrics
from .model import build_model, class_weights, compile_model

LOG = logging.getLogger(__name__)

PREDICT_CHUNK = 65_536
"""Rows per forward pass when no gradients are needed (validation, test, parity)."""

EpochSink = Callable[[int, dict[str, float]], None]
"""Receives (epoch starting at 1, that epoch's metrics) after every epoch."""


def usable_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """Return the CPUs this process may use: its affinity, capped by a cgroup (v2 or v1) CPU quota."""
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(cgroup_root)
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


def cgroup_cpu_quota(cgroup_root: Path) -> float | None:
    """Return the cgroup CPU quota in CPUs (``cpu.max`` or ``cpu.cfs_quota_us``), None when unlimited or unknown."""
    try:
        if (cgroup_root / "cpu.max").is_file():
            quota, period = (cgroup_root / "cpu.max").read_text().split()[:2]
        else:
            quota = (cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup_root / "cpu" / "cpu.cfs_period_us").read_text().strip()
    except (OSError, ValueError):
        return None
    if quota in ("max", "-1") or int(period) <= 0:
        return None
    return int(quota) / int(period)


def configure_threads(threads: int | None) -> int:
    """Size TensorFlow's thread pools (``threads``, else `usable_cpus`) and return the size in use.

    Only possible before TensorFlow's runtime starts; later (a second run in one process) the pools stay as they
    are and their current size is returned.
    """
    count = threads or usable_cpus()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(count)
        tf.config.threading.set_inter_op_parallelism_threads(count)
    except RuntimeError:
        LOG.warning("TensorFlow already started; its thread pools stay as they are")
        return tf.config.threading.get_intra_op_parallelism_threads() or usable_cpus()
    return count


def batches_per_epoch(rows: int, batch_size: int) -> int:
    """Return the number of full batches per epoch (at least one: a batch never exceeds the rows)."""
    return max(rows // batch_size, 1)


def training_dataset(features: np.ndarray, labels: np.ndarray, *, batch_size: int, epochs: int,
                     seed: int) -> tf.data.Dataset:
    """Return ``epochs`` passes of full (features, labels, balanced sample weights) batches.

    Each epoch draws a new permutation from ``(seed, epoch)`` and slices it into index batches in one
    vectorized step, so the pipeline costs a gather per batch instead of work per row. The remainder (fewer than
    ``batch_size`` rows, different ones every epoch) is left out: one batch shape means one trace of the step.
    """
    weight_of = class_weights(labels)
    weights = np.where(labels == 1, weight_of[1], weight_of[0]).astype(np.float32)
    # Variables, not constants: a map function embeds captured constants in its graph, which cost ~20 s of
    # graph work per 1M rows before the first step; variables are captured by handle.
    columns = tuple(tf.Variable(array, trainable=False)
                    for array in (features.astype(np.float32), labels.astype(np.float32), weights))
    rows = int(labels.shape[0])
    batch_size = min(batch_size, rows)
    used = batches_per_epoch(rows, batch_size) * batch_size

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(rows, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order[:used], (-1, batch_size)))

    def gather(indices: tf.Tensor) -> tuple[tf.Tensor, ...]:
        return tuple(tf.gather(column, indices) for column in columns)

    return (tf.data.Dataset.range(epochs).flat_map(epoch_batches)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


class EpochReport(keras.callbacks.Callback):
    """After every epoch: score the validation split once (loss, ROC-AUC, PR-AUC), log one line, and hand the
    epoch's metrics to a sink (MLflow). One forward pass, the same cost as Keras's own validation loss."""

    def __init__(self, epochs: int, validation: TransactionData, sink: EpochSink | None) -> None:
        """Report ``epochs`` epochs, scored on ``validation``, to the log and, when given, to ``sink``."""
        super().__init__()
        self.epochs = epochs
        self.validation = validation
        self.sink = sink
        self.started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Start the epoch clock."""
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Score the validation split, log the epoch line and forward the metrics."""
        metrics = {name: float(value) for name, value in (logs or {}).items()}
        metrics["epoch_seconds"] = time.perf_counter() - self.started
        probabilities = predict(self.model, self.validation.features)
        metrics.update({f"val_{name}": value
                        for name, value in validation_metrics(self.validation.labels, probabilities).items()})
        LOG.info("epoch %d/%d: %s", epoch + 1, self.epochs,
                 " ".join(f"{name}={value:.4f}" for name, value in sorted(metrics.items())))
        if self.sink is not None:
            self.sink(epoch + 1, metrics)


def train(split: Split, *, epochs: int, batch_size: int, optimizer: str, learning_rate: float, seed: int,
          sink: EpochSink | None = None) -> keras.Model:
    """Build, compile and fit the model on ``split.train``, scoring ``split.validation`` after every epoch."""
    keras.utils.set_random_seed(seed)
    steps = batches_per_epoch(split.train.rows, batch_size)
    model = build_model(split.train.features)
    compile_model(model, optimizer=optimizer, learning_rate=learning_rate, total_steps=epochs * steps)
    model.fit(
        training_dataset(split.train.features, split.train.labels, batch_size=batch_size, epochs=epochs, seed=seed),
        epochs=epochs,
        steps_per_epoch=steps,
        callbacks=[EpochReport(epochs, split.validation, sink)],
        shuffle=False,
        verbose=0,
    )
    return model


def predict(model: keras.Model, features: np.ndarray) -> np.ndarray:
    """Return the model's fraud probabilities for ``features`` as a flat float32 array.

    Calls the model eagerly on large chunks: no traced function, so no retracing for each new row count.
    """
    chunks = [model(features[start:start + PREDICT_CHUNK], training=False)
              for start in range(0, features.shape[0], PREDICT_CHUNK)]
    return np.concatenate([np.asarray(chunk).reshape(-1) for chunk in chunks]).astype(np.float32)
