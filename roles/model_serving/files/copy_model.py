"""Check the registered model.onnx against its digest and copy it to the folder KServe's OVMS runtime needs.

Runs in a Job of the model_serving role: the data connection's five ``AWS_*`` variables come from its Secret
(envFrom), ``SOURCE_KEY`` (and ``TARGET_KEY``, ``<path>/1/model.onnx`` on OpenShift AI 3.x) are keys inside
``AWS_S3_BUCKET``, an optional ``AWS_CA_BUNDLE`` trusts a private CA, and ``EXPECTED_SHA256`` is the registered
version's ``model_sha256`` tag. Without ``TARGET_KEY`` (ModelMesh, which pulls the source folder itself) the Job only
checks the digest. The bytes written to the target are the bytes whose digest was checked; a target that already
holds them is left alone. Exit status 0: checked (and copied or already there); 1: a clear error on stderr (no
model.onnx, another digest, access denied, ...).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Mapping

import boto3
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

REQUIRED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT", "AWS_S3_BUCKET", "SOURCE_KEY")
SHA256 = re.compile(r"[0-9a-f]{64}")


class CopyError(RuntimeError):
    """The copy cannot be done; the message says why and names the object."""


def s3_client(env: Mapping[str, str]) -> BaseClient:
    """An S3 client for the data connection in ``env`` (TLS verified; AWS_CA_BUNDLE is honoured by botocore)."""
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_S3_ENDPOINT"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_DEFAULT_REGION") or "us-east-1",
    )


def _read(client: BaseClient, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when there is no such object."""
    try:
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def copy_model(client: BaseClient, bucket: str, source: str, target: str | None,
               expected_sha256: str | None = None) -> bool:
    """Check ``source`` against ``expected_sha256`` (when given) and write its bytes to ``target`` (when given)
    unless ``target`` already holds them.

    Returns True when it wrote ``target``. Raises CopyError when ``source`` does not exist or has another digest.
    """
    model = _read(client, bucket, source)
    if model is None:
        raise CopyError(f"s3://{bucket}/{source} does not exist: the registered model folder has no model.onnx")
    actual = hashlib.sha256(model).hexdigest()
    if expected_sha256 is not None and actual != expected_sha256:
        raise CopyError(
            f"s3://{bucket}/{source} has SHA-256 {actual}, not {expected_sha256} (the registered version's "
            "model_sha256): the file in the bucket is not the model that was trained and registered; refusing to "
            "serve it"
        )
    if target is None:
        return False
    existing = _read(client, bucket, target)
    if existing is not None and hashlib.sha256(existing).hexdigest() == actual:
        return False
    client.put_object(Bucket=bucket, Key=target, Body=model)
    return True


def main(env: Mapping[str, str] | None = None) -> int:
    """Check the environment, check and copy, and report; returns the exit status."""
    env = os.environ if env is None else env
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        print(f"copy_model: missing environment variables: {', '.join(missing)}", file=sys.stderr)
        return 1
    expected = env.get("EXPECTED_SHA256", "").strip().lower() or None
    if expected is not None and not SHA256.fullmatch(expected):
        print(f"copy_model: EXPECTED_SHA256 {expected!r} is not a SHA-256 (64 hexadecimal digits)", file=sys.stderr)
        return 1
    bucket, source, target = env["AWS_S3_BUCKET"], env["SOURCE_KEY"], env.get("TARGET_KEY") or None
    try:
        copied = copy_model(s3_client(env), bucket, source, target, expected)
    except CopyError as error:
        print(f"copy_model: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"copy_model: reading s3://{bucket}/{source} or writing {target} failed: {error}", file=sys.stderr)
        return 1
    checked = f"SHA-256 {expected} checked: " if expected else ""
    if target is None:
        print(f"{checked or 'present (no digest to check): '}s3://{bucket}/{source}")
    else:
        print(f"{checked}{'copied' if copied else 'already there:'} s3://{bucket}/{source} -> s3://{bucket}/{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
