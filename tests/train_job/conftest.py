"""A small model trained once per session on a few thousand synthetic rows, shared by the model/ONNX tests."""

import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

from train_job.data import Split, load, split  # noqa: E402
from train_job.training import train  # noqa: E402

SMALL_ROWS = 6_000
SMALL_TRAINING = {"epochs": 4, "batch_size": 128, "optimizer": "adam", "learning_rate": 0.01, "seed": 7}


@dataclass(frozen=True)
class Trained:
    """A fitted model and the split it was fitted on."""

    model: keras.Model
    split: Split


@pytest.fixture(scope="session")
def trained() -> Trained:
    """The production training code on 6,000 synthetic rows (4 epochs of batch 128: seconds)."""
    parts = split(load("synthetic", rows=SMALL_ROWS, seed=7), validation_fraction=0.15, test_fraction=0.25, seed=7)
    return Trained(train(parts, **SMALL_TRAINING), parts)
