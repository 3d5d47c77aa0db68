"""Full runs against a real MLflow server (SQLite, artifacts proxied to a real SeaweedFS S3): registration, the
bucket layout, the alias rule, and every way a run can fail without leaving anything half-done."""

import functools
import hashlib
import http.client
import http.server
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import onnxruntime
import pytest
from mlflow import MlflowClient
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository
from support.mlflow_server import ARTIFACTS_PREFIX

from train_job import drift, onnx_export, pipeline, registry
from train_job.config import DEFAULT_THRESHOLD_POLICY
from train_job.data import TransactionData, load, split
from train_job.evaluation import evaluate
from train_job.task import main
from train_job.threshold import choose_threshold

FRAUD = [480.0, 350.0, 9.0, 0, 0, 0, 1]
"""Far from home and from the last purchase, 9x the usual price, online, no chip, no PIN."""
NORMAL = [2.0, 0.5, 0.9, 1, 1, 1, 0]
"""Near home, usual price, chip and PIN at a known shop."""
SMALL_RUN = ["--rows", "8000", "--epochs", "4", "--batch-size", "256", "--seed", "11",
             "--validation-fraction", "0.15", "--test-fraction", "0.25", "--alias", "champion"]


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    """An experiment and registered model of this module's own (the MLflow server is shared by the session)."""
    suffix = uuid.uuid4().hex[:8]
    return {"experiment": f"train-job-test-{suffix}", "model": f"train-job-test-{suffix}"}


@pytest.fixture(scope="module")
def client(mlflow_server: str) -> MlflowClient:
    """A client of the session's MLflow server."""
    return MlflowClient(tracking_uri=mlflow_server)


@pytest.fixture
def tracked(mlflow_server: str, s3_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment of an in-process run: tracking URI and artifacts destination, and no S3 keys at all.
    The process-wide MLflow tracking URI that the run sets is reset afterwards."""
    for name in (*s3_server.env, "MLFLOW_TRACKING_URI", "MLFLOW_ROUTE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", f"s3://{s3_server.bucket}/{ARTIFACTS_PREFIX}")
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    yield mlflow_server
    mlflow.set_tracking_uri(None)


def flags(names: dict[str, str], *extra: str) -> list[str]:
    """The small run's flags for this module's experiment and model."""
    return [*SMALL_RUN, "--experiment", names["experiment"], "--registered-model", names["model"], *extra]


@pytest.fixture(scope="module")
def first_run(mlflow_server: str, s3_server, names: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``python -m train_job`` as Ansible runs it: the demo's MLFLOW_ROUTE variable, no S3 keys; its summary."""
    summary_file = tmp_path_factory.mktemp("first-run") / "out" / "summary.json"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "MLFLOW_"))}
    env.update(MLFLOW_ROUTE=mlflow_server, MLFLOW_ARTIFACTS_DESTINATION=f"s3://{s3_server.bucket}/{ARTIFACTS_PREFIX}",
               TRAIN_SUMMARY_FILE=str(summary_file), TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-m", "train_job", *flags(names)], env=env, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch 1/4:" in result.stderr and "epoch 4/4:" in result.stderr
    return json.loads(summary_file.read_text())


def test_first_run_registers_the_model_and_moves_the_alias(first_run: dict, names: dict[str, str],
                                                           client: MlflowClient) -> None:
    """Version 1 is registered from the run, READY, holds the alias; the summary says so."""
    assert (first_run["registered_model"], first_run["version"], first_run["alias"]) == (names["model"], "1", "champion")
    assert first_run["alias_moved"] is True and first_run["alias_reason"].startswith("no version holds the alias")
    assert first_run["gate"]["gate_decision"] == "promoted" and first_run["gate"]["gate_champion_version"] == ""
    assert first_run["model_uri"] == f"models:/{names['model']}/1"
    version = client.get_model_version_by_alias(names["model"], "champion")
    assert (version.version, version.run_id, version.status) == ("1", first_run["run_id"], "READY")
    assert version.tags["threshold"] == str(first_run["threshold"])
    assert float(version.tags["threshold"]) == first_run["threshold"]
    assert version.tags["threshold_policy"] == first_run["threshold_policy"] == str(DEFAULT_THRESHOLD_POLICY) == "f1"
    assert client.get_experiment_by_name(names["experiment"]).experiment_id == first_run["experiment_id"]


def test_run_records_params_metrics_data_and_images(first_run: dict, client: MlflowClient) -> None:
    """Parameters, per-epoch and final metrics, the data source and row count, code tags and both images."""
    run = client.get_run(first_run["run_id"])
    assert run.info.status == "FINISHED"
    params, metrics = run.data.params, run.data.metrics
    assert (params["batch_size"], params["epochs"]) == ("256", "4")
    assert (params["threshold_policy"], params["threshold"]) == ("f1", str(first_run["threshold"]))
    assert first_run["params"]["threshold"] == first_run["threshold"]
    assert (params["data_source"], params["data_rows"]) == ("synthetic:rows=8000,seed=11", "8000")
    assert {"tn", "fp", "fn", "tp", "roc_auc", "pr_auc", "precision", "recall", "f1", "onnx_max_abs_diff",
            "validation_precision", "validation_recall", "validation_f1"} <= set(metrics)
    assert metrics["tn"] + metrics["fp"] + metrics["fn"] + metrics["tp"] == 2_000
    assert {name: metrics[name] for name in first_run["metrics"]} == pytest.approx(first_run["metrics"])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_pr_auc")] == [1, 2, 3, 4]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2, 3, 4]
    assert run.data.tags["train_job.version"] == "0.1.0"
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "card_transdata"
    assert json.loads(dataset_input.dataset.profile)["features_shape"] == [8000, 7]
    artifacts = {info.path for info in client.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix.png", "precision_recall_curve.png"} <= artifacts


def test_the_run_stores_the_reference_profile_of_its_training_split(first_run: dict, s3_server, client: MlflowClient,
                                                                   tmp_path: Path) -> None:
    """The training split's profile (drift.py) is a run artifact the version names; its columns are the split's own
    and its score column is what the registered model scores on those rows."""
    version = client.get_model_version(first_run["registered_model"], first_run["version"])
    assert version.tags[drift.PROFILE_TAG] == drift.PROFILE_ARTIFACT
    stored = json.loads(Path(client.download_artifacts(first_run["run_id"], drift.PROFILE_ARTIFACT, str(tmp_path)))
                        .read_text())
    train = split(load("synthetic", rows=8000, seed=11), validation_fraction=0.15, test_fraction=0.25, seed=11).train
    session = served_model(s3_server, first_run["artifact_path"])
    scores = session.run(None, {session.get_inputs()[0].name: train.features})[0]
    expected = drift.reference_profile(train.features, scores)
    assert stored["rows"] == train.rows == 4_800
    assert {k: v for k, v in stored["columns"].items() if k != drift.SCORE_COLUMN} == json.loads(json.dumps(
        {k: v for k, v in expected["columns"].items() if k != drift.SCORE_COLUMN}))
    assert stored["columns"][drift.SCORE_COLUMN]["quantiles"] == pytest.approx(
        expected["columns"][drift.SCORE_COLUMN]["quantiles"], abs=1e-4)  # Keras in training, ONNX here
    assert drift.compare(stored, train.features, scores).verdict == "no drift"


def small_validation() -> TransactionData:
    """The validation split of `SMALL_RUN`, recomputed from its seed."""
    return split(load("synthetic", rows=8000, seed=11), validation_fraction=0.15, test_fraction=0.25,
                 seed=11).validation


def served_model(s3_server, folder: str) -> onnxruntime.InferenceSession:
    """The model.onnx of a bucket folder, read with boto3, in ONNX Runtime."""
    body = s3_server.client().get_object(Bucket=s3_server.bucket, Key=f"{folder}/model.onnx")["Body"].read()
    return onnxruntime.InferenceSession(body, providers=["CPUExecutionProvider"])


def test_bucket_folder_holds_one_self_contained_model_that_scores(first_run: dict, s3_server,
                                                                  client: MlflowClient) -> None:
    """The summary's bucket folder (listed with boto3) holds model.onnx and no external data; the model scores
    a clearly fraudulent transaction at or above the threshold and a clearly normal one below it."""
    assert first_run["artifact_bucket"] == s3_server.bucket
    folder = first_run["artifact_path"]
    assert folder.startswith(f"{ARTIFACTS_PREFIX}/{first_run['experiment_id']}/models/{first_run['model_id']}/")
    assert first_run["artifact_uri"].endswith(folder.removeprefix(f"{ARTIFACTS_PREFIX}/"))
    s3 = s3_server.client()
    listing = s3.list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{folder}/")["Contents"]
    files = {item["Key"].removeprefix(f"{folder}/") for item in listing}
    assert "model.onnx" in files and "MLmodel" in files
    assert not [name for name in files if name.endswith(".data")]
    stored = s3.get_object(Bucket=s3_server.bucket, Key=f"{folder}/model.onnx")["Body"].read()
    version = client.get_model_version(first_run["registered_model"], first_run["version"])
    assert version.tags["model_sha256"] == hashlib.sha256(stored).hexdigest()  # the tag vouches for the bucket's file
    session = served_model(s3_server, folder)
    (graph_input,) = session.get_inputs()
    assert (graph_input.name, graph_input.shape[1], graph_input.type) == ("dense_input", 7, "tensor(float)")
    (scores,) = session.run(None, {"dense_input": np.array([FRAUD, NORMAL], dtype=np.float32)})
    assert scores.shape == (2, 1)
    assert scores[0, 0] >= first_run["threshold"] > scores[1, 0]


def test_threshold_meets_its_policy_on_the_recomputed_validation_split(first_run: dict, s3_server,
                                                                      client: MlflowClient) -> None:
    """The run's validation split, recomputed from its seed, scored by the registered model: at the registered
    threshold its F1 is the best any threshold reaches there, and the logged validation metrics are those at it
    (within a row: ONNX Runtime and Keras differ by ~1e-7, and the threshold is one row's score)."""
    validation = small_validation()
    assert validation.rows == first_run["params"]["validation_rows"]
    session = served_model(s3_server, first_run["artifact_path"])
    (scores,) = session.run(None, {"dense_input": validation.features})
    at = evaluate(validation.labels, scores[:, 0], first_run["threshold"])
    one_row = 2 / (at["tp"] + at["fp"] + at["fn"])
    assert at["f1"] >= choose_threshold(validation.labels, scores[:, 0], DEFAULT_THRESHOLD_POLICY).f1 - one_row
    logged = client.get_run(first_run["run_id"]).data.metrics
    for name in ("precision", "recall", "f1"):
        assert logged[f"validation_{name}"] == pytest.approx(at[name], abs=one_row)
        assert first_run["metrics"][f"validation_{name}"] == pytest.approx(logged[f"validation_{name}"])


def test_a_challenger_short_of_the_gain_leaves_the_alias_and_force_moves_it(first_run: dict, names: dict[str, str],
                                                                            client: MlflowClient, tracked: str,
                                                                            tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate scores the champion (version 1) and the challenger on the same holdout: asked for a gain of 0.5
    PR-AUC, which no challenger reaches, the champion keeps the alias (the new version is still registered, with
    the decision and both scores on it and on its run); --force-promote moves it and says what the gate said.
    These runs declare other threshold policies (flag, then environment): the demo's fixed:0.995 and recall:0.8;
    the version tags, params and summary carry each one."""
    # A client that cannot reach the server's bucket (on OpenShift: ODF's in-cluster endpoint, signed by the service
    # CA): the champion must come through the tracking server, never from a presigned URL of the bucket.
    def no_presigned_url(*_: object, **__: object) -> None:
        raise AssertionError("the client asked for a presigned URL of the server's bucket")

    monkeypatch.setattr(MlflowArtifactsRepository, "_get_presigned_download_url", no_presigned_url)
    summary_file = tmp_path / "summary.json"
    assert main(flags(names, "--summary-file", str(summary_file), "--threshold-policy", "fixed:0.995",
                      "--promotion-min-gain", "0.5")) == 0
    second = json.loads(summary_file.read_text())
    assert (second["version"], second["alias_moved"], second["previous_alias_version"]) == ("2", False, "1")
    assert second["alias_reason"].startswith("holdout pr_auc: challenger ") and second["alias_reason"].endswith("< 0.5")
    assert client.get_model_version_by_alias(names["model"], "champion").version == "1"
    version = client.get_model_version(names["model"], "2")
    assert version.status == "READY"
    assert (version.tags["gate_decision"], version.tags["gate_champion_version"]) == ("kept", "1")
    logged = client.get_run(second["run_id"]).data
    # the champion scored on this run's holdout, not its own test split: its value differs from its run's pr_auc
    assert logged.metrics["gate_champion_pr_auc"] == pytest.approx(float(version.tags["gate_champion_pr_auc"]), abs=1e-6)
    assert logged.metrics["gate_challenger_pr_auc"] == pytest.approx(second["metrics"]["pr_auc"], abs=1e-5)
    assert logged.tags["gate_decision"] == "kept" and logged.tags["gate_reason"] == second["alias_reason"]
    assert (second["threshold"], second["threshold_policy"]) == (0.995, "fixed:0.995")
    assert (version.tags["threshold"], version.tags["threshold_policy"]) == ("0.995", "fixed:0.995")
    monkeypatch.setenv("TRAIN_THRESHOLD_POLICY", "Recall:0.80")
    assert main(flags(names, "--force-promote", "--promotion-min-gain", "0.5", "--summary-file", str(summary_file))) == 0
    third = json.loads(summary_file.read_text())
    assert (third["version"], third["alias_moved"]) == ("3", True)
    assert third["alias_reason"].startswith("forced (the gate said no: holdout pr_auc: challenger ")
    assert client.get_model_version(names["model"], "3").tags["gate_decision"] == "promoted"
    assert client.get_model_version_by_alias(names["model"], "champion").version == "3"
    params = client.get_run(third["run_id"]).data.params
    assert params["threshold_policy"] == third["threshold_policy"] == "recall:0.8"
    tags = client.get_model_version(names["model"], "3").tags
    assert (tags["threshold"], tags["threshold_policy"]) == (params["threshold"], "recall:0.8")
    assert params["threshold"] == str(third["threshold"])
    assert third["metrics"]["validation_recall"] >= 0.8


def runs_of(client: MlflowClient, experiment: str) -> list:
    """Every run of ``experiment``, newest first."""
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"]) if found else []


def versions_of(client: MlflowClient, model: str) -> list[str]:
    """The version numbers of ``model``."""
    return sorted(version.version for version in client.search_model_versions(f"name = '{model}'"))


def test_bad_data_stops_before_anything_reaches_mlflow(first_run: dict, names: dict[str, str], client: MlflowClient,
                                                       tracked: str, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A CSV with a negative distance fails with exit 1, naming the problem; no run, no version appears."""
    bad = tmp_path / "bad.csv"
    bad.write_text("distance_from_home,distance_from_last_transaction,ratio_to_median_purchase_price,"
                   "repeat_retailer,used_chip,used_pin_number,online_order,fraud\n1,2,3,1,0,0,1,0\n-4,2,3,1,0,0,1,1\n")
    before_runs, before_versions = len(runs_of(client, names["experiment"])), versions_of(client, names["model"])
    assert main(flags(names, "--data", str(bad))) == 1
    assert "column 'distance_from_home' has a negative value (-4) at data row 2" in caplog.text
    assert len(runs_of(client, names["experiment"])) == before_runs
    assert versions_of(client, names["model"]) == before_versions
    fresh = f"{names['experiment']}-never"
    assert main([*SMALL_RUN, "--data", str(bad), "--experiment", fresh, "--registered-model", fresh]) == 1
    assert client.get_experiment_by_name(fresh) is None


def test_unreachable_threshold_policy_fails_the_run_before_registering(first_run: dict, names: dict[str, str],
                                                                       client: MlflowClient, tracked: str,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A model that scores every row alike cannot reach precision 0.9 at any threshold: exit 1 with one line
    naming the policy and the best precision reachable (the fraud share); the run ends FAILED, no version."""
    monkeypatch.setattr(pipeline, "predict", lambda model, features: np.full(len(features), 0.5, np.float32))
    before = versions_of(client, names["model"])
    assert main(flags(names, "--threshold-policy", "precision:0.9")) == 1
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    validation = small_validation()
    fraud = int(validation.labels.sum())
    assert len(errors) == 1 and errors[0].startswith(
        f"threshold policy precision:0.9 cannot be met on the validation split ({validation.rows} rows, {fraud} "
        f"fraud): the highest precision reachable is {fraud / validation.rows:.4f} (threshold 0.5, recall 1.0000)")
    assert runs_of(client, names["experiment"])[0].info.status == "FAILED"
    assert versions_of(client, names["model"]) == before


def test_parity_failure_marks_the_run_failed_and_registers_nothing(first_run: dict, names: dict[str, str],
                                                                   client: MlflowClient, tracked: str,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """With a parity limit no conversion can meet, the run ends FAILED and the registry is untouched."""
    monkeypatch.setattr(pipeline, "check_parity", functools.partial(onnx_export.check_parity, tolerance=0.0))
    before = versions_of(client, names["model"])
    assert main(flags(names)) == 1
    assert "ONNX parity check failed" in caplog.text
    assert runs_of(client, names["experiment"])[0].info.status == "FAILED"
    assert versions_of(client, names["model"]) == before


def test_registration_failure_deletes_the_half_made_version(first_run: dict, names: dict[str, str],
                                                            client: MlflowClient, tracked: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the version exists (here: its folder check) deletes it; the alias does not move."""
    def missing_model(uri: str) -> None:
        raise registry.RegistryError(f"{uri} holds no model.onnx")

    monkeypatch.setattr(registry, "check_model_files", missing_model)
    before = versions_of(client, names["model"])
    holder = client.get_model_version_by_alias(names["model"], "champion").version
    assert main(flags(names, "--force-promote")) == 1
    assert versions_of(client, names["model"]) == before
    assert client.get_model_version_by_alias(names["model"], "champion").version == holder
    assert runs_of(client, names["experiment"])[0].info.status == "FAILED"


class FlakyProxy(http.server.ThreadingHTTPServer):
    """A real HTTP hop in front of the MLflow server that answers 503 to the first ``failures`` metric
    requests and forwards everything else."""

    def __init__(self, upstream: str, failures: int) -> None:
        """Listen on a free loopback port; forward to ``upstream`` (host:port)."""
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.upstream = upstream
        self.failures_left = failures
        self.failed = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    """Forward one request upstream, or fail it while the proxy still has failures to hand out."""

    server: FlakyProxy

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            fail = "log-batch" in self.path and self.server.failures_left > 0
            if fail:
                self.server.failures_left -= 1
                self.server.failed += 1
        if fail:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=60)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        response = upstream.getresponse()
        payload = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep the test output quiet."""


@pytest.fixture
def flaky_proxy(mlflow_server: str) -> Iterator[FlakyProxy]:
    """A proxy that fails the first two metric uploads with 503."""
    proxy = FlakyProxy(mlflow_server.removeprefix("http://"), failures=2)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_transient_server_errors_are_retried(first_run: dict, names: dict[str, str], client: MlflowClient,
                                             tracked: str, flaky_proxy: FlakyProxy,
                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two 503 answers to metric uploads are retried with backoff; the run finishes and registers a version."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", flaky_proxy.url)
    summary_file = tmp_path / "summary.json"
    assert main(flags(names, "--summary-file", str(summary_file))) == 0
    assert flaky_proxy.failed == 2
    summary = json.loads(summary_file.read_text())
    run = client.get_run(summary["run_id"])
    assert run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(summary["run_id"], "loss")] == [1, 2, 3, 4]
    assert client.get_model_version(names["model"], summary["version"]).status == "READY"


class SigtermAtFirstEpoch(logging.Handler):
    """Sends this process SIGTERM when the first epoch line is logged, as Kubernetes does to a stopped Job."""

    def emit(self, record: logging.LogRecord) -> None:
        """Signal on ``epoch 1/``."""
        if record.getMessage().startswith("epoch 1/"):
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_marks_the_run_failed(first_run: dict, names: dict[str, str], client: MlflowClient,
                                      tracked: str, caplog: pytest.LogCaptureFixture) -> None:
    """SIGTERM during training exits with status 143, the run FAILED, no new version, the handler restored."""
    before = versions_of(client, names["model"])
    caplog.set_level(logging.INFO, logger="train_job.training")  # the epoch line must reach the handler
    sigterm_handler_before = signal.getsignal(signal.SIGTERM)  # whatever the test process had (not always SIG_DFL)
    handler = SigtermAtFirstEpoch()
    logging.getLogger("train_job.training").addHandler(handler)
    try:
        with pytest.raises(SystemExit) as stopped:
            main(flags(names, "--epochs", "50"))
    finally:
        logging.getLogger("train_job.training").removeHandler(handler)
    assert stopped.value.code == 128 + signal.SIGTERM
    latest = runs_of(client, names["experiment"])[0]
    assert latest.info.status == "FAILED" and latest.data.params["epochs"] == "50"
    assert versions_of(client, names["model"]) == before
    assert signal.getsignal(signal.SIGTERM) == sigterm_handler_before


@pytest.fixture
def few_retries(monkeypatch: pytest.MonkeyPatch) -> int:
    """Two retries without backoff, so that a lasting failure is given up on in seconds (the job's own defaults,
    CLIENT_DEFAULTS, wait about a minute)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    return 2


def test_mlflow_down_during_the_run_fails_clearly_after_retries(names: dict[str, str], client: MlflowClient,
                                                                tracked: str, few_retries: int,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """Every upload answered 503 once the run exists: each is retried, then the job exits 1 with one line naming
    MLflow's failure; the run ends FAILED and no version (half-made or whole) is registered."""
    proxy = FlakyProxy(tracked.removeprefix("http://"), failures=10**9)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
        experiment = f"{names['experiment']}-down"
        model = f"{names['model']}-down"
        assert main([*SMALL_RUN, "--experiment", experiment, "--registered-model", model]) == 1
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert proxy.failed >= 1 + few_retries, "the failing upload was not retried"
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors and errors[-1].startswith("MLflow: "), errors
    assert "503" in errors[-1] or "too many 503" in errors[-1].lower(), errors[-1]
    assert runs_of(client, experiment)[0].info.status == "FAILED"
    assert versions_of(client, model) == []


class RefusingServer(threading.Thread):
    """A TCP port on 127.0.0.1 that accepts each connection and closes it at once, counting them: an MLflow
    server that is down behind a proxy or load balancer."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0

    def run(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


def test_mlflow_unreachable_fails_clearly_after_retries(names: dict[str, str], client: MlflowClient, tracked: str,
                                                        few_retries: int, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """No answer from the tracking server: the first request is retried, then the job exits 1 naming the server
    and the experiment; nothing reaches the real MLflow."""
    server = RefusingServer()
    server.start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        experiment = f"{names['experiment']}-unreachable"
        assert main([*SMALL_RUN, "--experiment", experiment, "--registered-model", experiment]) == 1
    finally:
        server.sock.close()
    assert server.connections >= 1 + few_retries, "the request was not retried"
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors and f"tracking server {server.url}: cannot open experiment '{experiment}'" in errors[-1], errors
    assert client.get_experiment_by_name(experiment) is None


def test_model_folder_without_model_onnx_is_refused(names: dict[str, str], tracked: str, tmp_path: Path) -> None:
    """The registry's folder check, on a real folder in the bucket (through MLflow's artifact proxy): without
    ``model.onnx`` it names the folder and what it found; with it, the folder passes."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    mlflow.set_tracking_uri(tracked)
    mlflow.set_experiment(f"{names['experiment']}-folder")
    with mlflow.start_run() as active:
        mlflow.log_artifacts(str(folder), "model")
    uri = f"{active.info.artifact_uri}/model"
    with pytest.raises(registry.RegistryError, match=r"holds no model\.onnx \(found: MLmodel\)$") as refused:
        registry.check_model_files(uri)
    assert str(refused.value).startswith(uri)
    (folder / "model.onnx").write_bytes(b"\x08\x07")
    with mlflow.start_run(run_id=active.info.run_id):
        mlflow.log_artifact(str(folder / "model.onnx"), "model")
    registry.check_model_files(uri)
