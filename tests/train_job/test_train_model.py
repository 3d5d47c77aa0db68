"""The network, the tf.data pipeline and a short training run on a few thousand rows."""

import logging
import os

import numpy as np
import pytest

from train_job.evaluation import evaluate
from train_job.model import build_model, class_weights, make_optimizer
from train_job.training import batches_per_epoch, cgroup_cpu_quota, predict, training_dataset, usable_cpus


def test_architecture_is_the_demos_with_standardization_inside() -> None:
    """Normalization first, then the demo's layers; the first Dense is named ``dense``; one sigmoid output."""
    features = np.random.default_rng(0).lognormal(size=(500, 7)).astype(np.float32)
    model = build_model(features)
    layers = [(layer.__class__.__name__, layer.name) for layer in model.layers]
    assert layers == [
        ("InputLayer", "dense_input"), ("Normalization", "standardize"),
        ("Dense", "dense"), ("Dropout", "dropout"),
        ("Dense", "dense_1"), ("BatchNormalization", "batch_normalization_1"), ("Activation", "activation_1"),
        ("Dropout", "dropout_1"),
        ("Dense", "dense_2"), ("BatchNormalization", "batch_normalization_2"), ("Activation", "activation_2"),
        ("Dropout", "dropout_2"),
        ("Dense", "probability"),
    ]
    assert model.get_layer("dense").units == 32 and model.get_layer("dense").activation.__name__ == "relu"
    assert model.get_layer("probability").activation.__name__ == "sigmoid"
    assert all(model.get_layer(name).rate == 0.2 for name in ("dropout", "dropout_1", "dropout_2"))
    standardized = model.get_layer("standardize")(features).numpy()
    np.testing.assert_allclose(standardized.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(standardized.std(axis=0), 1, atol=1e-3)
    assert [layer.name for layer in build_model(features, standardize=False).layers][1] == "dense"


def test_balanced_class_weights() -> None:
    """Each class carries half of the total weight."""
    labels = np.array([0] * 90 + [1] * 10, dtype=np.int8)
    weights = class_weights(labels)
    assert weights == pytest.approx({0: 100 / 180, 1: 100 / 20})
    with pytest.raises(ValueError, match="both classes"):
        class_weights(np.zeros(5, dtype=np.int8))


def test_unknown_optimizer_is_named() -> None:
    """Only adam and sgd exist."""
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop", 0.1, total_steps=10)


def test_pipeline_reshuffles_full_batches_every_epoch() -> None:
    """Each epoch: full batches of distinct rows (the < batch remainder left out), a new order per epoch, the
    same order for the same seed, labels and balanced weights that belong to their rows."""
    rows, batch = 1_003, 100
    features = np.arange(rows * 7, dtype=np.float32).reshape(rows, 7)
    labels = (np.arange(rows) % 10 == 0).astype(np.int8)

    def epochs(seed: int) -> list[np.ndarray]:
        batches = list(training_dataset(features, labels, batch_size=batch, epochs=2, seed=seed))
        assert len(batches) == 2 * batches_per_epoch(rows, batch) == 20
        assert {len(x) for x, _, _ in batches} == {100}
        for x, y, w in batches:
            ids = x.numpy()[:, 0].astype(int) // 7
            np.testing.assert_array_equal(y.numpy(), labels[ids])
            np.testing.assert_allclose(w.numpy(), np.where(labels[ids] == 1, rows / (2 * 101), rows / (2 * 902)))
        return [np.concatenate([b[0].numpy()[:, 0] for b in part]) for part in (batches[:10], batches[10:])]

    first, second = epochs(seed=3)
    for epoch in (first, second):
        assert len(set(epoch.tolist())) == 1_000 and set(epoch.tolist()) <= set(features[:, 0].tolist())
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(epochs(seed=3)[0], first)
    assert not np.array_equal(epochs(seed=4)[0], first)


def test_fewer_rows_than_a_batch_make_one_batch() -> None:
    """A batch never exceeds the data: 50 rows with batch 4096 train as one batch of 50 per epoch."""
    features = np.ones((50, 7), dtype=np.float32)
    labels = (np.arange(50) % 5 == 0).astype(np.int8)
    batches = list(training_dataset(features, labels, batch_size=4_096, epochs=3, seed=0))
    assert [len(x) for x, _, _ in batches] == [50, 50, 50]
    assert batches_per_epoch(50, 4_096) == 1


def test_a_few_thousand_rows_train_a_useful_model(trained) -> None:
    """The short run learns the rule: ROC-AUC well above chance on held-out rows, probabilities in (0, 1)."""
    probabilities = predict(trained.model, trained.split.test.features)
    assert probabilities.shape == (trained.split.test.rows,)
    assert np.all((probabilities > 0) & (probabilities < 1))
    metrics = evaluate(trained.split.test.labels, probabilities, 0.5)
    assert metrics["roc_auc"] > 0.93
    assert metrics["pr_auc"] > 0.5


def test_training_logs_one_line_per_epoch(caplog: pytest.LogCaptureFixture) -> None:
    """Progress is visible: an ``epoch i/n`` line with loss and val_loss for each epoch, also handed to the sink."""
    from train_job.data import load, split
    from train_job.training import train

    parts = split(load("synthetic", rows=1_000, seed=1), validation_fraction=0.2, test_fraction=0.2, seed=1)
    received: list[tuple[int, dict[str, float]]] = []
    with caplog.at_level(logging.INFO, logger="train_job.training"):
        train(parts, epochs=2, batch_size=256, optimizer="sgd", learning_rate=0.1, seed=1,
              sink=lambda epoch, metrics: received.append((epoch, metrics)))
    lines = [record.getMessage() for record in caplog.records if record.name == "train_job.training"]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("loss=" in line and "val_loss=" in line for line in lines)
    assert [epoch for epoch, _ in received] == [1, 2]
    assert {"loss", "val_loss", "epoch_seconds"} <= set(received[0][1])


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "400000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4.0),
        ({}, None),
    ],
    ids=["v2-unlimited", "v2-limit", "v1-unlimited", "v1-limit", "none"],
)
def test_cgroup_cpu_quota(tmp_path, files: dict[str, str], expected: float | None) -> None:
    """A container's CPU limit is read from cgroup v2 or v1 files; no limit means None."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == expected


def test_usable_cpus_is_capped_by_the_quota(tmp_path) -> None:
    """A 1.5-CPU limit gives 2 threads at most; never more than the affinity allows."""
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert 1 <= usable_cpus(tmp_path) <= 2
    assert usable_cpus(tmp_path / "absent") == len(os.sched_getaffinity(0))
