"""Model registry: register the logged model, move the alias when the gate (gate.py) says so, and say where the
version's files are in the bucket.

A registration that fails half-way (after the version exists) deletes that version before re-raising, so the
registry never keeps a version the run did not finish.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import mlflow.artifacts
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

LOG = logging.getLogger(__name__)

REGISTRATION_TIMEOUT_SECONDS = 300
READY_POLL_SECONDS = 0.5
PROXIED_SCHEME = "mlflow-artifacts"
MODEL_FILE = "model.onnx"
DIGEST_TAG = "model_sha256"
"""Version tag holding the SHA-256 of the version's ``model.onnx``: serving refuses a file with another digest."""


@dataclass(frozen=True)
class Promotion:
    """Whether the alias moved to the new version, and why."""

    moved: bool
    reason: str
    previous_version: str | None
    previous_value: float | None


@dataclass(frozen=True)
class ArtifactLocation:
    """Where a model version's files are: MLflow's download URI and the folder inside the bucket."""

    uri: str
    bucket: str
    path: str


class RegistryError(RuntimeError):
    """The registry step cannot complete; the message says which step and why."""


@dataclass(frozen=True)
class Registration:
    """The new model version, what happened to the alias, and where the version's files are."""

    version: str
    promotion: Promotion
    location: ArtifactLocation


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    """Create registered model ``name`` unless it exists."""
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise


def register(client: MlflowClient, *, name: str, model_uri: str, model_id: str | None, run_id: str, alias: str,
             promotion: Promotion, tags: dict[str, str], artifacts_destination: str | None) -> Registration:
    """Register ``model_uri`` as a new version of ``name`` (created if needed) and, once it is READY and its
    folder holds ``model.onnx``, move ``alias`` to it when ``promotion`` (the gate's decision) says so. Any failure
    after the version was created deletes it before re-raising."""
    ensure_registered_model(client, name)
    created = client.create_model_version(name, model_uri, run_id=run_id, tags=tags, model_id=model_id,
                                          await_creation_for=0)
    version = str(created.version)
    try:
        wait_until_ready(client, name, version)
        location = artifact_location(client, name, version, artifacts_destination)
        check_model_files(location.uri)
        if promotion.moved:
            client.set_registered_model_alias(name, alias, version)
    except BaseException:
        LOG.error("registration of %s version %s failed; deleting the version", name, version)
        try:
            client.delete_model_version(name, version)
        except MlflowException as error:
            LOG.error("could not delete %s version %s: %s", name, version, error.message)
        raise
    LOG.info("registered %s version %s in s3://%s/%s; alias %r %s (%s)", name, version, location.bucket,
             location.path, alias, "moved to it" if promotion.moved else "stays", promotion.reason)
    return Registration(version, promotion, location)


def wait_until_ready(client: MlflowClient, name: str, version: str,
                     timeout: float = REGISTRATION_TIMEOUT_SECONDS) -> None:
    """Poll the new version until it is READY; raise `RegistryError` when it fails or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        current = client.get_model_version(name, version)
        if current.status == "READY":
            return
        if current.status != "PENDING_REGISTRATION":
            raise RegistryError(f"model version {name} {version} is {current.status}: {current.status_message}")
        if time.monotonic() > deadline:
            raise RegistryError(f"model version {name} {version} still PENDING_REGISTRATION after {timeout:.0f} s")
        time.sleep(READY_POLL_SECONDS)


def check_model_files(uri: str) -> None:
    """Raise `RegistryError` unless the folder at ``uri`` holds ``model.onnx`` and no external tensor data."""
    names = {Path(info.path).name for info in mlflow.artifacts.list_artifacts(artifact_uri=uri)}
    if MODEL_FILE not in names:
        raise RegistryError(f"{uri} holds no {MODEL_FILE} (found: {', '.join(sorted(names)) or 'nothing'})")
    external = sorted(name for name in names if name.endswith(".data"))
    if external:
        raise RegistryError(f"{uri} holds external tensor data {', '.join(external)}; the model must be one file")


def artifact_location(client: MlflowClient, name: str, version: str, artifacts_destination: str | None) -> \
        ArtifactLocation:
    """Ask MLflow where the files of model version ``version`` are and locate that folder in its bucket."""
    uri = client.get_model_version_download_uri(name, version)
    bucket, path = bucket_location(uri, artifacts_destination)
    return ArtifactLocation(uri, bucket, path)


def bucket_location(uri: str, artifacts_destination: str | None) -> tuple[str, str]:
    """Return (bucket, folder inside it) of an artifact ``uri``.

    ``s3://bucket/path`` names both; a proxied ``mlflow-artifacts:/path`` is relative to the tracking server's
    ``artifacts_destination`` (``s3://bucket/prefix``).
    """
    parts = urlsplit(uri)
    if parts.scheme in ("s3", "s3a"):
        bucket, path = parts.netloc, parts.path
    elif parts.scheme == PROXIED_SCHEME:
        if not artifacts_destination:
            raise RegistryError(f"MLflow serves the model at {uri}; set --artifacts-destination (the server's "
                                "s3://bucket/prefix) to locate it in the bucket")
        destination = urlsplit(artifacts_destination)
        bucket, path = destination.netloc, f"{destination.path.strip('/')}/{parts.path.lstrip('/')}"
    else:
        raise RegistryError(f"{uri} is not in an object store (scheme {parts.scheme!r})")
    path = path.strip("/")
    if not bucket or not path or any(part in ("", ".", "..") for part in path.split("/")):
        raise RegistryError(f"cannot locate {uri} in a bucket (bucket {bucket!r}, path {path!r})")
    return bucket, path
