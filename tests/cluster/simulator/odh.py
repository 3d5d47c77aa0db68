"""OpenShift AI's CA bundles and `storage-config`, as opendatahub-operator and odh-model-controller write them.

Read in upstream source (opendatahub-io/odh-model-controller `internal/controller/core/secret_controller.go` and
`configmap_controller.go` at stable-2.x 242cd4f8 and odh-v3.4 d0bf7869; opendatahub-operator's
certconfigmapgenerator):
- With the DSCInitialization's `trustedCABundle.managementState: Managed`, every namespace but `kube-*`,
  `openshift*` and `default` gets ConfigMap `odh-trusted-ca-bundle`: `odh-ca-bundle.crt` = the DSCI's
  `customCABundle` (trimmed, plus a newline), `ca-bundle.crt` = the cluster's trusted bundle (the network operator
  injects it through the label `config.openshift.io/inject-trusted-cabundle`; here: the system CAs). The OpenShift
  service CA is in neither.
- `odh-kserve-custom-ca-bundle` (key `cabundle.crt`, label `opendatahub.io/managed`): odh-trusted-ca-bundle's
  `ca-bundle.crt` and `odh-ca-bundle.crt` and openshift-service-ca.crt's `service-ca.crt`, concatenated in name
  order (2.32 and later, 3.x); absent when empty. Only KServe's storage initializer reads it.
- `storage-config` (label `opendatahub.io/managed`): one key per Secret labelled `opendatahub.io/managed` and
  `opendatahub.io/dashboard`, holding JSON of strings: type (annotation `opendatahub.io/connection-type`),
  access_key_id, secret_access_key, endpoint_url, bucket, region; on 2.x also default_bucket and, for an
  `https://` endpoint with a custom CA, `certificate` = odh-ca-bundle.crt trimmed (the only CA the ModelMesh
  puller trusts); for `https://` with the KServe bundle present, `cabundle_configmap: odh-kserve-custom-ca-bundle`.
  Rewritten whenever it differs (manual edits do not last); deleted when no data connection is left.
"""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path

from ..kube import JSON, object_path
from .engine import Kind, Simulator
from .objects import apply
from .platform import rhoai_major

TRUSTED = "odh-trusted-ca-bundle"
KSERVE_BUNDLE = "odh-kserve-custom-ca-bundle"
STORAGE_CONFIG = "storage-config"
SERVICE_CA = "openshift-service-ca.crt"
MANAGED = "opendatahub.io/managed"
DASHBOARD = "opendatahub.io/dashboard"
INITIALIZATIONS_V1 = Kind("dscinitialization.opendatahub.io/v1", "dscinitializations", "DSCInitialization", namespaced=False)


def system_bundle() -> str:
    """The machine's trusted CAs, standing in for the cluster's trusted bundle."""
    path = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    return path.read_text() if path.exists() else ""


def _reserved(namespace: str) -> bool:
    return namespace.startswith(("kube-", "openshift")) or namespace == "default"


def _custom_bundle(sim: Simulator) -> tuple[bool, str]:
    """(trustedCABundle Managed, customCABundle) of the DSCInitialization."""
    listing = sim.kube.get(object_path("dscinitialization.opendatahub.io/v1", "dscinitializations")) or {}
    for item in listing.get("items") or []:
        bundle = (item.get("spec") or {}).get("trustedCABundle") or {}
        return bundle.get("managementState") == "Managed", bundle.get("customCABundle", "")
    return False, ""


def _config_data(sim: Simulator, namespace: str, name: str) -> dict[str, str]:
    return dict(((sim.kube.get(object_path("v1", "configmaps", name, namespace)) or {}).get("data")) or {})


class OpenDataHub:
    """Keeps the bundles and storage-config of each namespace as upstream does."""

    def __init__(self) -> None:
        self.trusted = system_bundle()

    def namespace(self, sim: Simulator, namespace: str) -> None:
        """Reconcile one namespace: trusted bundle, KServe bundle, storage-config."""
        if _reserved(namespace):
            return
        ns = sim.kube.get(object_path("v1", "namespaces", namespace))
        if ns is None or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        managed, custom = _custom_bundle(sim)
        if managed:
            wanted = {"odh-ca-bundle.crt": custom.strip() + "\n", "ca-bundle.crt": self.trusted}
            if _config_data(sim, namespace, TRUSTED) != wanted:
                meta = {"name": TRUSTED, "namespace": namespace, "labels": {"config.openshift.io/inject-trusted-cabundle": "true", "app.kubernetes.io/part-of": "opendatahub-operator"}}
                apply(sim.kube, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": wanted}, "configmaps")
        self._kserve_bundle(sim, namespace)
        self._storage_config(sim, namespace)

    def _kserve_bundle(self, sim: Simulator, namespace: str) -> None:
        trusted = _config_data(sim, namespace, TRUSTED)
        service = _config_data(sim, namespace, SERVICE_CA)
        parts = [trusted.get("ca-bundle.crt", ""), trusted.get("odh-ca-bundle.crt", ""), service.get("service-ca.crt", "")]
        bundle = "\n".join(p.strip() for p in parts if p.strip())
        path = object_path("v1", "configmaps", KSERVE_BUNDLE, namespace)
        current = sim.kube.get(path)
        if not bundle:
            if current is not None:
                sim.kube.request("DELETE", path)
            return
        if current is None or (current.get("data") or {}) != {"cabundle.crt": bundle}:
            meta = {"name": KSERVE_BUNDLE, "namespace": namespace, "labels": {MANAGED: "true"}}
            apply(sim.kube, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"cabundle.crt": bundle}}, "configmaps")

    def _storage_config(self, sim: Simulator, namespace: str) -> None:
        query = {"labelSelector": f"{MANAGED}=true,{DASHBOARD}=true"}
        listing = sim.kube.request("GET", object_path("v1", "secrets", namespace=namespace), query=query) or {}
        connections = [s for s in listing.get("items") or [] if s["metadata"]["name"] != STORAGE_CONFIG]
        path = object_path("v1", "secrets", STORAGE_CONFIG, namespace)
        current = sim.kube.get(path)
        if not connections:
            if current is not None and (current["metadata"].get("labels") or {}).get(MANAGED) == "true":
                sim.kube.request("DELETE", path)
            return
        version_2 = rhoai_major(sim) == 2
        custom = _config_data(sim, namespace, TRUSTED).get("odh-ca-bundle.crt", "").strip()
        kserve_bundle = _config_data(sim, namespace, KSERVE_BUNDLE).get("cabundle.crt", "")
        data = {}
        for secret in connections:
            values = {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()}
            endpoint = values.get("AWS_S3_ENDPOINT", "")
            entry = {
                "type": (secret["metadata"].get("annotations") or {}).get("opendatahub.io/connection-type", ""),
                "access_key_id": values.get("AWS_ACCESS_KEY_ID", ""),
                "secret_access_key": values.get("AWS_SECRET_ACCESS_KEY", ""),
                "endpoint_url": endpoint,
                "bucket": values.get("AWS_S3_BUCKET", ""),
                "region": values.get("AWS_DEFAULT_REGION", ""),
            }
            if version_2:
                entry["default_bucket"] = entry["bucket"]
                if custom and endpoint.startswith("https://"):
                    entry["certificate"] = custom
            if kserve_bundle and endpoint.startswith("https://"):
                entry["cabundle_configmap"] = KSERVE_BUNDLE
            data[secret["metadata"]["name"]] = base64.b64encode(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()).decode()
        if current is None or current.get("data") != data or (current["metadata"].get("labels") or {}).get(MANAGED) != "true":
            secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": STORAGE_CONFIG, "namespace": namespace, "labels": {MANAGED: "true"}}, "data": data}
            apply(sim.kube, secret, "secrets")

    # --- what wakes it ---------------------------------------------------------------------------------------------

    def secret(self, sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> None:
        if obj is None or (obj["metadata"].get("labels") or {}).get(MANAGED) == "true" or name == STORAGE_CONFIG:
            self.namespace(sim, namespace)

    def config_map(self, sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> None:
        if name in (TRUSTED, KSERVE_BUNDLE, SERVICE_CA):
            self.namespace(sim, namespace)

    def initialization(self, sim: Simulator) -> None:
        listing = sim.kube.get(object_path("v1", "namespaces")) or {}
        for item in listing.get("items") or []:
            self.namespace(sim, item["metadata"]["name"])
