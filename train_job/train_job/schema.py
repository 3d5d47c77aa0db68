"""The columns of `card_transdata.csv`, in the model's input order, and what each may hold."""

from __future__ import annotations

DISTANCE_COLUMNS: tuple[str, ...] = (
    "distance_from_home",
    "distance_from_last_transaction",
    "ratio_to_median_purchase_price",
)
"""Non-negative, heavy-tailed floats."""

FLAG_COLUMNS: tuple[str, ...] = ("repeat_retailer", "used_chip", "used_pin_number", "online_order")
"""Yes/no features stored as 0 or 1."""

FEATURE_COLUMNS: tuple[str, ...] = DISTANCE_COLUMNS + FLAG_COLUMNS
"""The model's seven inputs, in this order."""

LABEL_COLUMN = "fraud"
"""The target: 1 for a fraudulent transaction, 0 otherwise."""

COLUMNS: tuple[str, ...] = FEATURE_COLUMNS + (LABEL_COLUMN,)
"""Every column a data file must have (in any order) and no other."""

BINARY_COLUMNS: tuple[str, ...] = FLAG_COLUMNS + (LABEL_COLUMN,)
"""Columns whose only allowed values are 0 and 1."""

INPUT_NAME = "dense_input"
"""Name of the model input (and of the ONNX graph input): a [batch, 7] float32 tensor of raw features."""

OUTPUT_NAME = "probability"
"""Name of the model output: a [batch, 1] float32 fraud probability."""
