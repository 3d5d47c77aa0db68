"""The ``mlflow_server`` fixture is a real tracking server whose artifacts land in the S3 bucket."""

import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from support.s3 import S3Server


def test_health(mlflow_server: str) -> None:
    with urllib.request.urlopen(f"{mlflow_server}/health", timeout=5) as response:
        assert response.status == 200


def test_logged_artifact_lands_in_the_bucket(
    mlflow_server: str, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)  # the client needs no S3 keys: the server proxies artifacts
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment_id = client.create_experiment("fixture-check")
    run = client.create_run(experiment_id)
    note = tmp_path / "note.txt"
    note.write_text("stored through the tracking server")
    client.log_artifact(run.info.run_id, str(note), artifact_path="notes")
    client.set_terminated(run.info.run_id)

    listing = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix="mlflow/")
    keys = [entry["Key"] for entry in listing.get("Contents", [])]
    matching = [key for key in keys if key.endswith(f"{run.info.run_id}/artifacts/notes/note.txt")]
    assert matching, f"artifact not found in the bucket; keys under mlflow/: {keys}"
    body = s3_server.client().get_object(Bucket=s3_server.bucket, Key=matching[0])["Body"].read()
    assert body == b"stored through the tracking server"
