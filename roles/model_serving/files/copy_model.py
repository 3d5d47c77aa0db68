"""Copy the registered model.onnx to the versioned folder KServe's OVMS runtime needs (``<path>/1/model.onnx``).

Runs in a Job of the model_serving role (OpenShift AI 3.x): the data connection's five ``AWS_*`` variables come
from its Secret (envFrom), ``SOURCE_KEY`` and ``TARGET_KEY`` are keys inside ``AWS_S3_BUCKET``, and an optional
``AWS_CA_BUNDLE`` trusts a private CA. The copy is server-side and skipped when the target already holds the same
bytes. Exit status 0: copied or already there; 1: a clear error on stderr (no model.onnx, access denied, ...).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import boto3
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

REQUIRED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT", "AWS_S3_BUCKET", "SOURCE_KEY", "TARGET_KEY")


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


def _etag(client: BaseClient, bucket: str, key: str) -> str | None:
    """The object's ETag, or None when there is no such object."""
    try:
        return str(client.head_object(Bucket=bucket, Key=key)["ETag"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def copy_model(client: BaseClient, bucket: str, source: str, target: str) -> bool:
    """Copy ``source`` to ``target`` in ``bucket`` unless ``target`` already has the same ETag.

    Returns True when it copied. Raises CopyError when ``source`` does not exist.
    """
    source_etag = _etag(client, bucket, source)
    if source_etag is None:
        raise CopyError(f"s3://{bucket}/{source} does not exist: the registered model folder has no model.onnx")
    if _etag(client, bucket, target) == source_etag:
        return False
    client.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
    return True


def main(env: Mapping[str, str] | None = None) -> int:
    """Check the environment, copy, and report; returns the exit status."""
    env = os.environ if env is None else env
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        print(f"copy_model: missing environment variables: {', '.join(missing)}", file=sys.stderr)
        return 1
    bucket, source, target = env["AWS_S3_BUCKET"], env["SOURCE_KEY"], env["TARGET_KEY"]
    try:
        copied = copy_model(s3_client(env), bucket, source, target)
    except CopyError as error:
        print(f"copy_model: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"copy_model: copying s3://{bucket}/{source} to {target} failed: {error}", file=sys.stderr)
        return 1
    print(f"{'copied' if copied else 'already there:'} s3://{bucket}/{source} -> s3://{bucket}/{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
