"""Fetch ``model.onnx`` from the bucket with the data-connection keys, the way ModelMesh's puller does.

The five data-connection variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_S3_ENDPOINT``,
``AWS_DEFAULT_REGION``, ``AWS_S3_BUCKET``) come from the environment or from a ``KEY=value`` file, never from
the command line.
"""

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

MODEL_FILE = "model.onnx"
DATA_CONNECTION_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_ENDPOINT",
    "AWS_DEFAULT_REGION",
    "AWS_S3_BUCKET",
)
DEFAULT_REGION = "us-east-1"
_MISSING_OBJECT_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_DENIED_CODES = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}


class StorageError(RuntimeError):
    """The model could not be fetched; the message names the location and the reason (never a secret)."""


@dataclass(frozen=True)
class DataConnection:
    """The S3 data connection of an OpenShift AI project."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    endpoint: str
    region: str
    bucket: str | None

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> "DataConnection":
        """Build from ``AWS_*`` values; raise ValueError naming what is missing or malformed."""
        missing = [key for key in DATA_CONNECTION_KEYS[:3] if not values.get(key)]
        if missing:
            raise ValueError(f"data connection incomplete: {', '.join(missing)} not set")
        endpoint = values["AWS_S3_ENDPOINT"]
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"AWS_S3_ENDPOINT must be an http(s) URL with a host, got {endpoint!r}")
        return cls(
            access_key_id=values["AWS_ACCESS_KEY_ID"],
            secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
            endpoint=endpoint,
            region=values.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            bucket=values.get("AWS_S3_BUCKET") or None,
        )


def read_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines (blank lines and ``#`` comments allowed); errors name the line, not its value."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, separator, value = stripped.partition("=")
        if not separator or not key.strip().isidentifier():
            raise ValueError(f"{path}:{number}: expected KEY=value")
        values[key.strip()] = value.strip()
    return values


def load_data_connection(env_file: Path | None, environ: Mapping[str, str] = os.environ) -> DataConnection:
    """Return the data connection from ``env_file`` (when given) overlaid by the process environment."""
    values = read_env_file(env_file) if env_file else {}
    values.update({key: environ[key] for key in DATA_CONNECTION_KEYS if environ.get(key)})
    return DataConnection.from_mapping(values)


@dataclass(frozen=True)
class ModelLocation:
    """Bucket and object key of the model file."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        """The location as an ``s3://bucket/key`` URI."""
        return f"s3://{self.bucket}/{self.key}"


def resolve_location(storage_path: str, default_bucket: str | None) -> ModelLocation:
    """Turn ``s3://bucket/folder``, or ``folder`` inside ``default_bucket``, into the model file's location.

    A path that already ends in ``.onnx`` names the file itself; otherwise ``model.onnx`` in that folder.
    """
    if storage_path.startswith("s3://"):
        bucket, _, path = storage_path[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"storage path {storage_path!r} names no bucket")
    elif "://" in storage_path:
        raise ValueError(f"storage path {storage_path!r}: only s3:// URIs or bucket-relative paths are supported")
    else:
        if not default_bucket:
            raise ValueError(f"storage path {storage_path!r} is bucket-relative but AWS_S3_BUCKET is not set")
        bucket, path = default_bucket, storage_path
    parts = PurePosixPath(path.strip("/")).parts
    if not parts or any(part in (".", "..") for part in parts):
        raise ValueError(f"storage path {storage_path!r} must name a folder inside the bucket (no '.' or '..')")
    key = "/".join(parts)
    return ModelLocation(bucket, key if key.endswith(".onnx") else f"{key}/{MODEL_FILE}")


def s3_client(connection: DataConnection, verify: bool | str = True) -> BaseClient:
    """Return an S3 client for ``connection``; ``verify`` is True, False or a CA bundle path."""
    return boto3.client(
        "s3",
        endpoint_url=connection.endpoint,
        region_name=connection.region,
        aws_access_key_id=connection.access_key_id,
        aws_secret_access_key=connection.secret_access_key,
        verify=verify,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60),
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_model(client: BaseClient, location: ModelLocation, destination: Path, endpoint: str,
                expected_sha256: str | None = None) -> Path:
    """Download the model file to ``destination`` atomically; raise StorageError naming the location, or naming
    both digests when ``expected_sha256`` is given and the file's differs (nothing is then left to serve)."""
    partial = destination.with_name(destination.name + ".part")
    try:
        client.download_file(location.bucket, location.key, str(partial))
    except ClientError as error:
        partial.unlink(missing_ok=True)
        code = str(error.response.get("Error", {}).get("Code", "unknown"))
        if code in _MISSING_OBJECT_CODES:
            raise StorageError(f"{location.uri} does not exist at {endpoint} ({code})") from None
        if code in _DENIED_CODES:
            raise StorageError(
                f"access to {location.uri} at {endpoint} denied for the data connection's keys ({code})"
            ) from None
        raise StorageError(f"cannot read {location.uri} at {endpoint}: {code}") from None
    except BotoCoreError as error:
        partial.unlink(missing_ok=True)
        raise StorageError(f"cannot read {location.uri} at {endpoint}: {error}") from None
    if expected_sha256 is not None:
        actual = file_sha256(partial)
        if actual != expected_sha256:
            partial.unlink(missing_ok=True)
            destination.unlink(missing_ok=True)
            raise StorageError(
                f"{location.uri} at {endpoint} has SHA-256 {actual}, not {expected_sha256} (the registered "
                "version's): it is not the registered model, so it is not served"
            )
    partial.replace(destination)
    return destination
