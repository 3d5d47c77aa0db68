"""Open a CSV data source as a byte stream: a local path, an http(s) URL, or ``s3://bucket/key``.

Nothing is read into memory here: the caller parses the stream in chunks. ``s3://`` sources use the
data-connection environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_S3_ENDPOINT``,
``AWS_DEFAULT_REGION``; ``s3:///key`` reads from ``AWS_S3_BUCKET``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

HTTP_TIMEOUT_SECONDS = (10.0, 300.0)
"""(connect, read) timeouts for http(s) sources."""

S3_ENVIRONMENT = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT")
"""Data-connection variables an ``s3://`` source cannot do without."""


def with_system_cas(ca_bundle: str | None, directory: str | None = None) -> str | None:
    """A CA file trusting ``ca_bundle``'s certificates besides the system's, for clients that take one file.

    The extra CA (e.g. the cluster's service CA for the ODF bucket) must not stop public https sources from
    verifying; the file is written to ``directory`` (default: the temp folder). None stays None."""
    if not ca_bundle:
        return None
    import ssl  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    system = ssl.get_default_verify_paths().cafile
    if not system or not os.path.exists(system):
        import certifi  # noqa: PLC0415

        system = certifi.where()
    combined = Path(system).read_text() + "\n" + Path(ca_bundle).read_text()
    handle, path = tempfile.mkstemp(prefix="train-job-ca-", suffix=".pem", dir=directory)
    with os.fdopen(handle, "w") as output:
        output.write(combined)
    return path


class SourceError(ValueError):
    """A data source cannot be opened; the message names the (redacted) source and the reason."""


def redact(source: str) -> str:
    """Return ``source`` without credentials or query string, safe for logs and MLflow (presigned URLs)."""
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https", "s3"):
        return source
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@contextlib.contextmanager
def open_source(
    source: str, *, ca_bundle: str | None = None, environ: Mapping[str, str] | None = None
) -> Iterator[BinaryIO]:
    """Yield a binary stream over ``source``; raise `SourceError` when it cannot be opened.

    ``ca_bundle`` replaces the system trust store for https and S3 (verification is always on).
    """
    scheme = urlsplit(source).scheme
    if scheme in ("http", "https"):
        with _open_http(source, ca_bundle) as stream:
            yield stream
    elif scheme == "s3":
        with _open_s3(source, ca_bundle, os.environ if environ is None else environ) as stream:
            yield stream
    elif scheme in ("", "file"):
        path = Path(urlsplit(source).path if scheme == "file" else source)
        if not path.is_file():
            raise SourceError(f"data source {source!r} is not a readable file")
        with path.open("rb") as stream:
            yield stream
    else:
        raise SourceError(f"data source {redact(source)!r} has unsupported scheme {scheme!r}: use a path, "
                          "http(s)://, s3://bucket/key or 'synthetic'")


@contextlib.contextmanager
def _open_http(url: str, ca_bundle: str | None) -> Iterator[BinaryIO]:
    import requests

    try:
        response = requests.get(url, stream=True, timeout=HTTP_TIMEOUT_SECONDS, verify=ca_bundle or True)
    except requests.RequestException as error:
        raise SourceError(f"data source {redact(url)!r} cannot be fetched: {type(error).__name__}") from None
    with response:
        if response.status_code != 200:
            raise SourceError(f"data source {redact(url)!r} answered HTTP {response.status_code}")
        response.raw.decode_content = True
        yield response.raw


def s3_client(environ: Mapping[str, str], ca_bundle: str | None, what: str) -> Any:
    """A boto3 S3 client of the data-connection variables; SourceError naming ``what`` needs them when one is
    missing."""
    import boto3

    missing = [name for name in S3_ENVIRONMENT if not environ.get(name)]
    if missing:
        raise SourceError(f"{what} needs the data-connection variables {', '.join(missing)}")
    return boto3.client(
        "s3",
        endpoint_url=environ["AWS_S3_ENDPOINT"],
        region_name=environ.get("AWS_DEFAULT_REGION") or None,
        aws_access_key_id=environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
        verify=ca_bundle or True,
    )


@contextlib.contextmanager
def _open_s3(uri: str, ca_bundle: str | None, environ: Mapping[str, str]) -> Iterator[BinaryIO]:
    import botocore.exceptions

    parts = urlsplit(uri)
    bucket = parts.netloc or environ.get("AWS_S3_BUCKET", "")
    key = parts.path.lstrip("/")
    if not bucket or not key:
        raise SourceError(f"data source {uri!r} must be s3://bucket/key (or s3:///key with AWS_S3_BUCKET set)")
    client = s3_client(environ, ca_bundle, f"data source {uri!r}")
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "unknown")
        raise SourceError(f"data source s3://{bucket}/{key} cannot be read: {code}") from None
    except botocore.exceptions.BotoCoreError as error:
        raise SourceError(f"data source s3://{bucket}/{key} cannot be read: {type(error).__name__}") from None
    with contextlib.closing(body):
        yield body
