"""Training benchmark: the original demo's configuration against ours on the same 1M synthetic rows, our
training time against rows (100k / 1M / 5M), and what MLflow tracking costs (none / explicit / autolog).

Usage: .venv/bin/python bench/train_speed.py [--rows 1000000] [--repeats 2] [--rows-scaling 100000,1000000,5000000] [--no-write]

Every measurement runs in its own process, one after the other, so each reports its own peak RSS and none
shares a warm TensorFlow with another. The tracking runs log to a real `mlflow server` (SQLite, artifacts proxied
to SeaweedFS S3), started with the test suite's launchers. Writes the "Training" section of docs/benchmarks.md.
Targets (issue 2): ours at least 15x faster than the demo with ROC-AUC and PR-AUC no lower; tracking overhead
under 25 % of the fit time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROWS = 1_000_000
SEED = 42
THRESHOLDS = (0.5, 0.995)
DEMO = {"batch_size": 32, "optimizer": "adam", "learning_rate": 0.001}


def ours_config() -> dict[str, Any]:
    """train_job's own defaults (what the demo runs when the inventory overrides nothing), not a copy of them."""
    from train_job.config import defaults

    return {field: value for field, value in defaults().items()
            if field in ("batch_size", "optimizer", "learning_rate")}


def measure(kind: str, rows: int) -> dict[str, Any]:
    """Run one configuration in this process and return its figures (called in a child process)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import mlflow
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    from train_job import tracking
    from train_job.data import load, split
    from train_job.evaluation import evaluate
    from train_job.model import build_model, class_weights
    from train_job.onnx_export import to_onnx
    from train_job.config import DEFAULT_THRESHOLD_POLICY
    from train_job.plots import confusion_matrix_figure, precision_recall_figure
    from train_job.threshold import choose_threshold
    from train_job.training import predict, train

    load_start = os.getloadavg()[0]
    parts = split(load("synthetic", rows=rows, seed=SEED), validation_fraction=0.1, test_fraction=0.1, seed=SEED)
    figures: dict[str, Any] = {"kind": kind, "rows": rows}
    started = time.perf_counter()
    if kind == "demo":
        keras.utils.set_random_seed(SEED)
        scaler = StandardScaler().fit(parts.train.features)
        model = build_model(parts.train.features, standardize=False)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=DEMO["learning_rate"]),
                      loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(scaler.transform(parts.train.features), parts.train.labels, epochs=2,
                  batch_size=DEMO["batch_size"], class_weight=class_weights(parts.train.labels),
                  validation_data=(scaler.transform(parts.validation.features), parts.validation.labels), verbose=0)
        figures["train_seconds"] = time.perf_counter() - started
        probabilities = predict(model, scaler.transform(parts.test.features).astype(np.float32))
        validation = predict(model, scaler.transform(parts.validation.features).astype(np.float32))
    else:
        run = None
        if kind == "autolog":
            mlflow.tensorflow.autolog()
        if kind in ("explicit", "autolog"):
            experiment = tracking.connect(os.environ["MLFLOW_TRACKING_URI"], f"bench-{kind}", None)
            run = mlflow.start_run(experiment_id=experiment)
        in_sink = [0.0]

        def timed_log_epoch(epoch: int, metrics: dict[str, float]) -> None:
            sink_started = time.perf_counter()
            tracking.log_epoch(epoch, metrics)
            in_sink[0] += time.perf_counter() - sink_started

        sink = timed_log_epoch if kind == "explicit" else None
        started = time.perf_counter()
        model = train(parts, epochs=2, seed=SEED, sink=sink, **ours_config())
        figures["train_seconds"] = time.perf_counter() - started
        figures["tracking_in_fit_seconds"] = in_sink[0]
        probabilities = predict(model, parts.test.features)
        validation = predict(model, parts.validation.features)
        if kind == "explicit":
            proto = to_onnx(model)
            logging_started = time.perf_counter()
            tracking.log_setup({"batch_size": ours_config()["batch_size"]}, parts.train)
            metrics = evaluate(parts.test.labels, probabilities, THRESHOLDS[1])
            tracking.log_results(metrics, {
                "confusion_matrix.png": confusion_matrix_figure(metrics, THRESHOLDS[1], f"fixed:{THRESHOLDS[1]}"),
                "precision_recall_curve.png": precision_recall_figure(
                    parts.test.labels, probabilities, THRESHOLDS[1], f"fixed:{THRESHOLDS[1]}", metrics["pr_auc"])})
            tracking.log_onnx_model(proto, parts.test.features[:5])
            figures["after_fit_logging_seconds"] = time.perf_counter() - logging_started
        if run is not None:
            mlflow.end_run()
    for threshold in THRESHOLDS:
        metrics = evaluate(parts.test.labels, probabilities, threshold)
        figures.update(roc_auc=metrics["roc_auc"], pr_auc=metrics["pr_auc"])
        figures[f"precision@{threshold}"] = metrics["precision"]
        figures[f"recall@{threshold}"] = metrics["recall"]
    chosen = choose_threshold(parts.validation.labels, validation, DEFAULT_THRESHOLD_POLICY).threshold
    metrics = evaluate(parts.test.labels, probabilities, chosen)
    figures.update({"threshold@policy": chosen, "precision@policy": metrics["precision"],
                    "recall@policy": metrics["recall"]})
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["load"] = [load_start, os.getloadavg()[0]]
    return figures


def child(kind: str, rows: int, env: dict[str, str]) -> dict[str, Any]:
    """Measure one configuration in a fresh process and return its figures."""
    print(f"bench: {kind} on {rows:,} rows ...", file=sys.stderr, flush=True)
    result = subprocess.run([sys.executable, __file__, "--child", kind, str(rows)], env=env, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{kind} on {rows} rows failed:\n{result.stderr[-4000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"bench: {json.dumps(figures)}", file=sys.stderr, flush=True)
    return figures


def best_of(repeats: int, kind: str, rows: int, env: dict[str, str]) -> dict[str, Any]:
    """The fastest of ``repeats`` runs: on a shared machine the minimum is the run least disturbed by others."""
    return min((child(kind, rows, env) for _ in range(repeats)), key=lambda figures: figures["train_seconds"])


def comparison_table(demo: dict[str, Any], ours: dict[str, Any]) -> str:
    """Markdown table: the demo's configuration against ours on the same rows."""
    from train_job.config import DEFAULT_THRESHOLD_POLICY

    config = ours_config()
    rows = ["| | demo defaults (batch 32, Adam 1e-3, external StandardScaler, numpy fit, threshold 0.995) | ours "
            f"(train_job's defaults: batch {config['batch_size']}, {config['optimizer'].capitalize()} "
            f"{config['learning_rate']:g} cosine decay, Normalization layer, tf.data, threshold policy "
            f"{DEFAULT_THRESHOLD_POLICY}) |", "|---|---|---|"]
    for label, key, fmt in (("training wall time (s)", "train_seconds", ".1f"),
                            ("peak RSS (MiB)", "peak_rss_mib", ".0f"), ("ROC-AUC", "roc_auc", ".4f"),
                            ("PR-AUC", "pr_auc", ".4f"), ("precision @ 0.5", "precision@0.5", ".3f"),
                            ("recall @ 0.5", "recall@0.5", ".3f"), ("precision @ 0.995", "precision@0.995", ".3f"),
                            ("recall @ 0.995", "recall@0.995", ".3f"),
                            (f"threshold chosen by policy {DEFAULT_THRESHOLD_POLICY} (validation split)",
                             "threshold@policy", ".4f"),
                            ("precision @ that threshold", "precision@policy", ".3f"),
                            ("recall @ that threshold", "recall@policy", ".3f"),
                            ("load average (1 min) before / after", "load", "")):
        cells = [(f"{run[key][0]:.1f} / {run[key][1]:.1f}" if key == "load" else format(run[key], fmt))
                 for run in (demo, ours)]
        rows.append(f"| {label} | {cells[0]} | {cells[1]} |")
    rows.append(f"| **speed-up** | | **{demo['train_seconds'] / ours['train_seconds']:.1f}x** |")
    return "\n".join(rows)


def scaling_table(runs: list[dict[str, Any]]) -> str:
    """Markdown table: our training time and memory against rows."""
    rows = ["| rows | training wall time (s) | rows/s | peak RSS (MiB) | ROC-AUC | PR-AUC | load before / after |",
            "|---|---|---|---|---|---|---|"]
    for run in runs:
        rows.append(f"| {run['rows']:,} | {run['train_seconds']:.1f} | {run['rows'] * 0.8 * 2 / run['train_seconds']:,.0f}"
                    f" | {run['peak_rss_mib']:.0f} | {run['roc_auc']:.4f} | {run['pr_auc']:.4f} | "
                    f"{run['load'][0]:.1f} / {run['load'][1]:.1f} |")
    return "\n".join(rows)


def tracking_table(none: dict[str, Any], explicit: dict[str, Any], autolog: dict[str, Any]) -> str:
    """Markdown table: training wall time without tracking, with our explicit logging, with autolog."""
    base = none["train_seconds"]
    in_fit = explicit["tracking_in_fit_seconds"]
    rows = ["| tracking | training wall time (s) | against none | time in tracking calls during fit | logging after "
            "fit (s) |", "|---|---|---|---|---|",
            f"| none | {base:.1f} | | | |",
            f"| explicit (ours: one request per epoch) | {explicit['train_seconds']:.1f} | "
            f"{(explicit['train_seconds'] - base) / base:+.0%} | {in_fit:.2f} s = "
            f"{in_fit / explicit['train_seconds']:.1%} of its fit | {explicit['after_fit_logging_seconds']:.1f} "
            f"(params, data set, metrics, 2 images, ONNX model; {explicit['after_fit_logging_seconds'] / base:.0%} "
            "of the untracked fit) |",
            f"| `mlflow.tensorflow.autolog()` | {autolog['train_seconds']:.1f} | "
            f"{(autolog['train_seconds'] - base) / base:+.0%} | (Keras model, metrics, params) | |"]
    return "\n".join(rows)


def main() -> None:
    """Run every measurement, print the tables, and write the Training section of docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ROWS"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=ROWS, help="rows of the comparison and tracking runs")
    parser.add_argument("--rows-scaling", default="100000,1000000,5000000", help="row counts of the scaling runs")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each configuration (the demo's too); the fastest counts")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing the doc")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    sys.path.insert(0, str(REPO / "tests"))
    from report import write_section
    from support.mlflow_server import run_mlflow_server
    from support.s3 import run_s3_server

    started = time.perf_counter()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    demo = best_of(args.repeats, "demo", args.rows, env)
    ours = best_of(args.repeats, "ours", args.rows, env)
    scaling = [ours if rows == args.rows else best_of(args.repeats, "ours", rows, env)
               for rows in map(int, args.rows_scaling.split(","))]
    with tempfile.TemporaryDirectory(prefix="train-bench-") as workdir:
        with run_s3_server(Path(workdir) / "s3") as s3, run_mlflow_server(s3, Path(workdir) / "mlflow") as server:
            tracked_env = {**env, "MLFLOW_TRACKING_URI": server.tracking_uri}
            explicit = best_of(args.repeats, "explicit", args.rows, tracked_env)
            autolog = best_of(args.repeats, "autolog", args.rows, tracked_env)
    body = "\n\n".join([
        "Same 1,000,000 synthetic rows (seed 42; split 80/10/10), 2 epochs, the demo's architecture, balanced class "
        "weights; metrics on the 100,000-row test split. Training wall time covers scaling or the Normalization "
        "layer's adaptation, building and fitting (TensorFlow start-up and tracing included); each configuration "
        "runs in its own process, one after the other, `--repeats` times (the demo's too), and the fastest run counts. "
        "The machine is shared with other "
        "engineers' jobs: the load average is recorded with each run, and absolute times move with it.",
        "### The demo's configuration against ours", comparison_table(demo, ours),
        "### Training time against rows (ours)", scaling_table(scaling),
        "### What tracking costs (1M rows, real MLflow server with artifacts proxied to S3)",
        "Wall times of separate processes move with the machine's load; the direct measure of what our tracking "
        "costs inside the fit is the time spent in its calls (one `log_metrics` request per epoch).",
        tracking_table(ours, explicit, autolog),
        f"Benchmark wall time: {(time.perf_counter() - started) / 60:.1f} min. Rerun: "
        "`.venv/bin/python bench/train_speed.py`.",
    ])
    if args.no_write:
        print(body)
    else:
        print(f"bench: wrote {write_section('training', 'Training', body)}", file=sys.stderr)


if __name__ == "__main__":
    main()
