# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Turn an MLflow artifact download URI into a bucket-relative object-store location.

With MLflow 3 a model version's files live under its logged model (``<experiment>/models/m-<id>/artifacts``),
never under a run. The registry's ``get-download-uri`` endpoint says where: either ``mlflow-artifacts:/...``
(the server proxies artifacts to ``--artifacts-destination s3://<bucket>/<prefix>``) or ``s3://<bucket>/...``
(clients write to the store directly). Nothing here guesses experiment ids or run-relative paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

LOGGED_MODEL_ID = re.compile(r"^models:/(m-[0-9a-f]+)/?$")
PROXIED_SCHEME = "mlflow-artifacts"
S3_SCHEMES = ("s3", "s3a")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class ArtifactLocation:
    """Where a model version's artifact folder lies in the object store."""

    path: str
    bucket: Optional[str]

    @property
    def s3_uri(self) -> Optional[str]:
        """``s3://<bucket>/<path>`` when the bucket is known, else ``None``."""
        if self.bucket is None:
            return None
        return "s3://%s/%s" % (self.bucket, self.path)


def _segments(path: str, what: str) -> list[str]:
    """Split a slash-separated object key path, refusing empty, ``.`` and ``..`` segments."""
    stripped = path.strip("/")
    if not stripped:
        return []
    segments = stripped.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError("%s %r has an empty, '.' or '..' segment" % (what, path))
    return segments


def normalize_prefix(artifacts_prefix: str) -> str:
    """Return the artifacts prefix without surrounding slashes, e.g. ``/mlflow/`` -> ``mlflow``."""
    if "://" in artifacts_prefix:
        raise ValueError(
            "artifacts_prefix %r must be the folder inside the bucket (e.g. 'mlflow'), not a URI" % artifacts_prefix
        )
    return "/".join(_segments(artifacts_prefix, "artifacts_prefix"))


def validate_bucket(bucket: str) -> str:
    """Return the bucket name if it follows S3 naming rules, else raise ``ValueError`` naming it."""
    if not BUCKET_NAME.match(bucket) or ".." in bucket:
        raise ValueError(
            "bucket %r is not a valid S3 bucket name (3-63 characters: lowercase letters, digits, '.' and '-')" % bucket
        )
    return bucket


def artifact_location(download_uri: str, artifacts_prefix: str = "", bucket: Optional[str] = None) -> ArtifactLocation:
    """Resolve ``download_uri`` to its bucket and bucket-relative folder.

    ``mlflow-artifacts:/1/models/m-abc/artifacts`` with prefix ``mlflow`` gives ``mlflow/1/models/m-abc/artifacts``
    (the bucket is the caller's ``bucket``); ``s3://b/x/y`` gives bucket ``b`` and path ``x/y`` (the prefix is then
    already part of the path). Raises ``ValueError`` naming the URI when it does not point into an object store.
    """
    prefix = normalize_prefix(artifacts_prefix)
    if bucket is not None:
        validate_bucket(bucket)
    parts = urlsplit(download_uri)
    scheme = parts.scheme.lower()
    if scheme == PROXIED_SCHEME:
        segments = _segments(parts.path, "download URI path of %r:" % download_uri)
        path = "/".join(([prefix] if prefix and segments else []) + segments)
        location_bucket = bucket
    elif scheme in S3_SCHEMES:
        if not parts.netloc:
            raise ValueError("download URI %r names no bucket" % download_uri)
        if bucket is not None and bucket != parts.netloc:
            raise ValueError(
                "download URI %r is in bucket %r, not in the bucket %r given" % (download_uri, parts.netloc, bucket)
            )
        path = "/".join(_segments(parts.path, "download URI path of %r:" % download_uri))
        location_bucket = parts.netloc
    else:
        raise ValueError(
            "download URI %r is not in an object store (scheme %r; expected %s)"
            % (download_uri, parts.scheme, ", ".join((PROXIED_SCHEME,) + S3_SCHEMES))
        )
    if not path:
        raise ValueError("download URI %r points at the bucket root, not at a model folder" % download_uri)
    return ArtifactLocation(path=path, bucket=location_bucket)


def model_id_from_source(source: Optional[str]) -> Optional[str]:
    """The logged-model id in an MLflow 3 source such as ``models:/m-abc``, else ``None`` (e.g. ``runs:/...``)."""
    match = LOGGED_MODEL_ID.match(source or "")
    return match.group(1) if match else None
