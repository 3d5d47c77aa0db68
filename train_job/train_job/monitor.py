"""The drift report: the served model's recent traffic against its training split, logged in MLflow.

    python -m train_job.monitor --tracking-uri URI --registered-model M --alias A --payload-prefix payloads \\
        --model-name credit-card-fraud [--rows 5000] [--report-file out.json] [--publish]

1. The version the alias names (the one served) and its reference profile (the run artifact its
   `reference_profile` tag names: drift.py);
2. the newest rows of the payload log that this version answered (``s3://$AWS_S3_BUCKET/<prefix>/<model name>/``,
   the model server's JSON lines, one per request: fraud_model_server/payload.py), at most --rows;
3. drift.compare: per feature and for the score, PSI and a two-sample test, and the verdict;
4. an MLflow run in experiment ``<M>-monitoring`` (params: version, rows, window; metrics ``psi_<column>``,
   ``p_value_<column>``, ``drifted_columns``; tag ``verdict``; artifacts ``drift.png``, one panel per column, and
   ``drift_report.json``), printed and written to --report-file; with --publish also to
   ``s3://$AWS_S3_BUCKET/<prefix>/<model name>/drift-report.json`` (`report_key`), which the OpenShift payload
   receiver serves to the app's "Model health" tab (train_job.payload_receiver, GET /drift-report).

Exit status 0 whatever the verdict (``drifted`` in the report says it; the caller decides to retrain), 1 when the
report cannot be made (no such alias, a version without a profile, the bucket or MLflow unreachable), 2 bad flags.
The S3 keys come from the data-connection variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_ENDPOINT,
AWS_DEFAULT_REGION, AWS_S3_BUCKET), MLflow's login from its own (MLFLOW_TRACKING_USERNAME/PASSWORD or _TOKEN).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import drift
from .sources import SourceError, s3_client, with_system_cas

LOG = logging.getLogger("train_job.monitor")


REPORT_NAME = "drift-report.json"


def payload_folder(prefix: str, model_name: str) -> str:
    """The payload log's folder in the bucket: the model server's and the receiver's objects, and the report."""
    return f"{prefix.strip('/')}/{model_name}/"


def report_key(folder: str) -> str:
    """The published report's key in the payload log's folder (not a .jsonl: no payload reader takes it)."""
    return f"{folder}{REPORT_NAME}"


class MonitorError(RuntimeError):
    """The report cannot be made; the message says what is missing."""


def served_profile(client: Any, model: str, alias: str) -> tuple[Any, dict[str, Any]]:
    """(the version ``alias`` names, its reference profile)."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(model, alias)
    except MlflowException as error:
        raise MonitorError(f"no version of {model!r} holds alias {alias!r}: {error.message}") from None
    artifact = version.tags.get(drift.PROFILE_TAG)
    if not artifact:
        raise MonitorError(f"{model} version {version.version} has no {drift.PROFILE_TAG} tag (trained before "
                           "reference profiles were stored): retrain it to monitor it")
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(version.run_id, artifact, folder)
        return version, json.loads(Path(path).read_text())


def recent_rows(s3: Any, bucket: str, folder: str, version: str, rows: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The newest ``rows`` rows (at most) that ``version`` answered: (features, scores, [oldest, newest time])."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        keys += [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".jsonl")]
    features: list[list[float]] = []
    scores: list[float] = []
    times: list[str] = []
    for key in sorted(keys, reverse=True):  # newest first (the keys start with the UTC time)
        lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        for line in reversed(lines):  # one line per request: its rows' features and scores
            record = json.loads(line)
            if str(record.get("version")) != version:
                continue
            wanted = rows - len(scores)
            features += record["features"][-wanted:]
            scores += record["scores"][-wanted:]
            times.append(record["time"])
            if len(scores) >= rows:
                break
        if len(scores) >= rows:
            break
    window = [min(times), max(times)] if times else []
    return np.asarray(features, dtype=np.float64).reshape(-1, 7), np.asarray(scores, dtype=np.float64), window


def drift_figure(report: drift.DriftReport) -> Any:
    """One panel per column: the reference's share of rows per bin beside the recent traffic's, PSI in the title."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 6.5), layout="constrained")
    panels = figure.subplots(2, (len(report.columns) + 1) // 2).ravel()
    for axes, column in zip(panels, report.columns, strict=False):
        positions = np.arange(len(column.expected))
        axes.bar(positions - 0.2, column.expected, width=0.4, label="training split")
        axes.bar(positions + 0.2, column.actual, width=0.4, label="served traffic")
        axes.set_title(f"{column.column}\nPSI {column.psi:.3f}, p {column.p_value:.2g}"
                       f"{' - DRIFT' if column.drifted else ''}", fontsize="small",
                       color="red" if column.drifted else "black")
        axes.set_xticks(positions, ["0", "1"] if column.kind == "flag" else [str(i + 1) for i in positions],
                        fontsize="x-small")
        axes.set_xlabel("value" if column.kind == "flag" else "decile of the training split", fontsize="x-small")
    for axes in panels[len(report.columns):]:
        axes.set_visible(False)
    panels[0].legend(fontsize="x-small")
    figure.suptitle(f"Drift of {report.rows} served rows: {report.verdict}")
    return figure


def monitor(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    """Make the report (module docstring); MonitorError when it cannot be made."""
    import mlflow
    from mlflow import MlflowClient

    from . import tracking

    ca_bundle = with_system_cas(args.ca_bundle)
    experiment_id = tracking.connect(args.tracking_uri, f"{args.registered_model}-monitoring", ca_bundle)
    client = MlflowClient()
    version, profile = served_profile(client, args.registered_model, args.alias)
    bucket = environ.get("AWS_S3_BUCKET", "")
    if not bucket:
        raise MonitorError("the payload log's bucket is AWS_S3_BUCKET, which is not set")
    folder = payload_folder(args.payload_prefix, args.model_name)
    try:
        s3 = s3_client(environ, ca_bundle, f"the payload log s3://{bucket}/{folder}")
        features, scores, window = recent_rows(s3, bucket, folder, str(version.version), args.rows)
    except SourceError as error:
        raise MonitorError(str(error)) from None
    report = drift.compare(profile, features, scores, psi_threshold=args.psi_threshold, alpha=args.alpha)
    result = {"registered_model": args.registered_model, "version": str(version.version), "alias": args.alias,
              "payload": f"s3://{bucket}/{folder}", "window": window,
              "made": datetime.now(UTC).isoformat(timespec="seconds"), **report.as_dict()}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"drift v{version.version}") as run:
        mlflow.log_params({"registered_model": args.registered_model, "version": version.version, "rows": report.rows,
                           "window_start": window[0] if window else "", "window_end": window[-1] if window else "",
                           "psi_threshold": args.psi_threshold, "alpha": args.alpha})
        mlflow.log_metrics({f"psi_{c.column}": c.psi for c in report.columns}
                           | {f"p_value_{c.column}": c.p_value for c in report.columns}
                           | {"drifted_columns": len(report.drifted)})
        mlflow.set_tags({"verdict": report.verdict, "drifted": str(bool(report.drifted)).lower()})
        if report.columns and report.rows:
            mlflow.log_figure(drift_figure(report), "drift.png")
        mlflow.log_dict(result, "drift_report.json")
        result["run_id"] = run.info.run_id
    if args.publish:
        try:
            s3.put_object(Bucket=bucket, Key=report_key(folder), Body=json.dumps(result).encode(),
                          ContentType="application/json")
        except Exception as error:  # noqa: BLE001 - botocore's and the network's errors, named
            raise MonitorError(f"the report could not be published to s3://{bucket}/{report_key(folder)}: "
                               f"{type(error).__name__}: {error}") from None
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m train_job.monitor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("MLFLOW_ROUTE"),
                        help="MLflow (env MLFLOW_TRACKING_URI or MLFLOW_ROUTE)")
    parser.add_argument("--registered-model", required=True)
    parser.add_argument("--alias", required=True, help="the alias serving follows: its version is the one checked")
    parser.add_argument("--payload-prefix", required=True, help="the model server's --payload-log-prefix")
    parser.add_argument("--model-name", required=True, help="the served model's name (the payload log's folder)")
    parser.add_argument("--rows", type=int, default=5000, help="newest rows compared (default: %(default)s)")
    parser.add_argument("--psi-threshold", type=float, default=drift.PSI_THRESHOLD)
    parser.add_argument("--alpha", type=float, default=drift.ALPHA)
    parser.add_argument("--ca-bundle", default=os.environ.get("TRAIN_CA_BUNDLE"),
                        help="CA bundle for MLflow and the bucket (env TRAIN_CA_BUNDLE)")
    parser.add_argument("--report-file", type=Path, help="write the report there as JSON")
    parser.add_argument("--publish", action="store_true",
                        help=f"also write it to the payload log's folder as {REPORT_NAME} (the app reads it there)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.tracking_uri:
        parser.error("--tracking-uri (or MLFLOW_TRACKING_URI) is required")
    if args.rows < drift.MIN_ROWS:
        parser.error(f"--rows {args.rows}: at least {drift.MIN_ROWS} rows are needed for a verdict")
    if not 0 < args.psi_threshold or not 0 < args.alpha < 1:
        parser.error(f"--psi-threshold {args.psi_threshold} must be above 0 and --alpha {args.alpha} within (0, 1)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from mlflow.exceptions import MlflowException

    try:
        result = monitor(args, os.environ)
    except (MonitorError, MlflowException) as error:
        LOG.error("%s", error)
        return 1
    LOG.info("%s version %s, %d served rows: %s (%s)", result["registered_model"], result["version"], result["rows"],
             result["verdict"], ", ".join(f"{c['column']} PSI {c['psi']:.3f}" for c in result["columns"]))
    if args.report_file:
        args.report_file.parent.mkdir(parents=True, exist_ok=True)
        args.report_file.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))  # one line, the last of the log: what the OpenShift CronJob's reader takes
    return 0


if __name__ == "__main__":
    sys.exit(main())
