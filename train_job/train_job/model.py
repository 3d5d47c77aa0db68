"""The demo's fraud network, with the feature standardization moved inside the model (pure functions)."""

from __future__ import annotations

import keras
import numpy as np

from .schema import INPUT_NAME, OUTPUT_NAME

DROPOUT = 0.2
HIDDEN_UNITS = 32


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Return balanced class weights ``rows / (2 * rows_of_class)`` for 0/1 ``labels``."""
    counts = np.bincount(labels.astype(np.int64), minlength=2)
    if counts.min() == 0:
        raise ValueError(f"both classes are needed for class weights, got counts {counts.tolist()}")
    return {label: float(labels.shape[0] / (2 * count)) for label, count in enumerate(counts)}


def build_model(train_features: np.ndarray, *, standardize: bool = True) -> keras.Model:
    """Return the (uncompiled) demo architecture for ``train_features``' column count.

    With ``standardize`` a Normalization layer adapted on ``train_features`` comes first, so the model takes raw
    features; without it (the original demo) the caller must scale the inputs itself.
    """
    inputs = keras.Input(shape=(train_features.shape[1],), dtype="float32", name=INPUT_NAME)
    hidden = inputs
    if standardize:
        normalization = keras.layers.Normalization(axis=-1, name="standardize")
        normalization.adapt(train_features)
        hidden = normalization(hidden)
    hidden = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="dense")(hidden)
    hidden = keras.layers.Dropout(DROPOUT, name="dropout")(hidden)
    for block in (1, 2):
        hidden = keras.layers.Dense(HIDDEN_UNITS, name=f"dense_{block}")(hidden)
        hidden = keras.layers.BatchNormalization(name=f"batch_normalization_{block}")(hidden)
        hidden = keras.layers.Activation("relu", name=f"activation_{block}")(hidden)
        hidden = keras.layers.Dropout(DROPOUT, name=f"dropout_{block}")(hidden)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=OUTPUT_NAME)(hidden)
    return keras.Model(inputs, outputs, name="fraud_dnn")


def make_optimizer(name: str, learning_rate: float, total_steps: int) -> keras.optimizers.Optimizer:
    """Return the optimizer ``name`` (adam or sgd) whose rate starts at ``learning_rate`` and decays to 0 along a
    cosine over ``total_steps`` (a short run at a large rate, without the end-of-run noise of a constant rate)."""
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(total_steps, 1))
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=schedule)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule)
    raise ValueError(f"unknown optimizer {name!r}: use adam or sgd")


def compile_model(model: keras.Model, *, optimizer: str, learning_rate: float, total_steps: int) -> None:
    """Compile ``model`` for binary cross-entropy. No compiled metrics: Keras's per-batch AUC metrics measured
    40-70 % of the fit time, so validation ROC-AUC and PR-AUC are computed once per epoch instead."""
    model.compile(optimizer=make_optimizer(optimizer, learning_rate, total_steps), loss="binary_crossentropy")
