# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Find one version of an MLflow registered model (by number, alias, or the latest) and say where its files are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ansible_collections.fraud_demo.mlops.plugins.module_utils.artifact_location import (
    artifact_location,
    model_id_from_source,
    normalize_prefix,
    validate_bucket,
)
from ansible_collections.fraud_demo.mlops.plugins.module_utils.mlflow_api import (
    MlflowClient,
    MlflowError,
    MlflowHttpError,
)


@dataclass(frozen=True)
class ModelQuery:
    """Which model version to describe, and how to map its files onto the bucket."""

    name: str
    version: Optional[str] = None
    alias: Optional[str] = None
    artifacts_prefix: str = ""
    bucket: Optional[str] = None
    include_metrics: bool = True


def validate_query(query: ModelQuery) -> None:
    """Raise ``ValueError`` naming the first bad value, before any request is made."""
    if not query.name.strip():
        raise ValueError("name must be a registered model name, got %r" % query.name)
    if query.version is not None and query.alias is not None:
        raise ValueError("version %r and alias %r are mutually exclusive" % (query.version, query.alias))
    if query.version is not None and not (query.version.isdigit() and int(query.version) > 0):
        raise ValueError("version must be a positive whole number, got %r" % query.version)
    if query.alias is not None and not query.alias.strip():
        raise ValueError("alias must not be empty, got %r" % query.alias)
    normalize_prefix(query.artifacts_prefix)
    if query.bucket is not None:
        validate_bucket(query.bucket)


def describe_model_version(client: MlflowClient, query: ModelQuery) -> tuple[dict[str, Any], list[str]]:
    """Return the facts about the selected version and any warnings; raise ``MlflowError`` when it is missing."""
    validate_query(query)
    registered = _registered_model(client, query.name)
    if query.alias is not None:
        version = _version_by_alias(client, registered, query.alias)
    else:
        number = query.version if query.version is not None else _latest_version_number(client, registered)
        version = _version_by_number(client, registered, number)
    download_uri = client.get(
        "model-versions/get-download-uri", {"name": query.name, "version": version["version"]}, "artifact_uri"
    )
    location = artifact_location(download_uri, query.artifacts_prefix, query.bucket)
    warnings: list[str] = []
    if version.get("status") != "READY":
        warnings.append(
            "version %s of %r has status %s: %s"
            % (version["version"], query.name, version.get("status"), version.get("status_message", ""))
        )
    metrics: dict[str, float] = {}
    if query.include_metrics and version.get("run_id"):
        metrics = _run_metrics(client, version["run_id"], warnings)
    facts = {
        "name": query.name,
        "version": str(version["version"]),
        "status": version.get("status"),
        "run_id": version.get("run_id") or None,
        "model_id": version.get("model_id") or model_id_from_source(version.get("source")),
        "source": version.get("source"),
        "download_uri": download_uri,
        "artifact_path": location.path,
        "bucket": location.bucket,
        "s3_uri": location.s3_uri,
        "aliases": sorted(version.get("aliases", [])),
        "tags": {tag["key"]: tag.get("value", "") for tag in version.get("tags", [])},
        "metrics": metrics,
        "creation_timestamp": version.get("creation_timestamp"),
    }
    return facts, warnings


def _registered_model(client: MlflowClient, name: str) -> dict[str, Any]:
    """The registered model document, or a clear error when there is no such model."""
    try:
        return client.get("registered-models/get", {"name": name}, "registered_model")
    except MlflowHttpError as error:
        if error.not_found:
            raise MlflowError("registered model %r does not exist at %s" % (name, client.base_url)) from None
        raise


def _version_numbers(registered: dict[str, Any]) -> list[int]:
    """Version numbers in ``latest_versions`` (the newest version of each stage), so the highest is the latest."""
    return sorted(int(entry["version"]) for entry in registered.get("latest_versions", []))


def _latest_version_number(client: MlflowClient, registered: dict[str, Any]) -> str:
    """The highest version number of the model, or a clear error when it has none."""
    numbers = _version_numbers(registered)
    if not numbers:
        raise MlflowError("registered model %r at %s has no versions" % (registered["name"], client.base_url))
    return str(numbers[-1])


def _version_by_number(client: MlflowClient, registered: dict[str, Any], number: str) -> dict[str, Any]:
    """The model version document, or an error that names the versions that do exist."""
    try:
        return client.get("model-versions/get", {"name": registered["name"], "version": number}, "model_version")
    except MlflowHttpError as error:
        if error.not_found:
            raise MlflowError(
                "version %s of registered model %r does not exist at %s (latest version: %s)"
                % (number, registered["name"], client.base_url, (_version_numbers(registered) or ["none"])[-1])
            ) from None
        raise


def _version_by_alias(client: MlflowClient, registered: dict[str, Any], alias: str) -> dict[str, Any]:
    """The model version an alias points at, or an error that lists the aliases that are set."""
    try:
        return client.get("registered-models/alias", {"name": registered["name"], "alias": alias}, "model_version")
    except MlflowHttpError as error:
        # MLflow 3 answers an unknown alias with 400 INVALID_PARAMETER_VALUE, older servers with 404.
        known = sorted(entry["alias"] for entry in registered.get("aliases", []))
        if alias not in known and (error.not_found or error.error_code == "INVALID_PARAMETER_VALUE"):
            raise MlflowError(
                "alias %r is not set on registered model %r at %s (aliases set: %s)"
                % (alias, registered["name"], client.base_url, ", ".join(known) or "none")
            ) from None
        raise


def _run_metrics(client: MlflowClient, run_id: str, warnings: list[str]) -> dict[str, float]:
    """Latest value of each metric of the run that produced the version (one request)."""
    try:
        run = client.get("runs/get", {"run_id": run_id}, "run")
    except MlflowHttpError as error:
        if error.not_found:
            warnings.append("run %s no longer exists, so metrics are empty" % run_id)
            return {}
        raise
    return {metric["key"]: metric["value"] for metric in run.get("data", {}).get("metrics", [])}
