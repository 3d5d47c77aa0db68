"""OpenShift's service CA (openshift/service-ca-operator and kube-controller-manager's service-ca-cert-publisher).

- Every namespace gets ConfigMap `openshift-service-ca.crt` annotated `service.beta.openshift.io/inject-cabundle:
  "true"`, and every ConfigMap with that annotation gets the CA as its only key `service-ca.crt` (the injector
  replaces `data` as a whole).
- A Service annotated `service.beta.openshift.io/serving-cert-secret-name: <name>` gets Secret `<name>` (type
  kubernetes.io/tls, `tls.crt`/`tls.key` for `<svc>.<ns>.svc` and `<svc>.<ns>.svc.cluster.local`, `*.` forms
  too for a headless Service), owned by the Service, and the annotation `service.beta.openshift.io/
  serving-cert-signed-by` on the Service.
"""

from __future__ import annotations

import base64

from ..kube import JSON, object_path
from ..pki import Authority
from .engine import Kind, Simulator
from .objects import annotation, apply, owner_reference

NAMESPACES = Kind("v1", "namespaces", "Namespace", namespaced=False)
CONFIG_MAPS = Kind("v1", "configmaps", "ConfigMap")
SECRETS = Kind("v1", "secrets", "Secret")
INJECT = "service.beta.openshift.io/inject-cabundle"
SERVING_CERT = "service.beta.openshift.io/serving-cert-secret-name"
SIGNED_BY = "service.beta.openshift.io/serving-cert-signed-by"
PUBLISHED = "openshift-service-ca.crt"
SIGNER = "openshift-service-serving-signer"


class ServiceCA:
    """The controllers of the service CA `authority`."""

    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.pem = authority.pem()

    def namespace(self, sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        """Publish the CA ConfigMap in a (new) namespace."""
        if obj is None or (obj.get("status") or {}).get("phase") == "Terminating":
            return None
        if sim.kube.get(object_path("v1", "configmaps", PUBLISHED, name)) is None:
            config_map = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": PUBLISHED, "namespace": name, "annotations": {INJECT: "true"}},
                "data": {"service-ca.crt": self.pem},
            }
            apply(sim.kube, config_map, "configmaps")
        return None

    def config_map(self, sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        """Inject the CA into an annotated ConfigMap."""
        if obj is None or annotation(obj, INJECT) != "true" or obj["metadata"].get("deletionTimestamp"):
            return None
        if (obj.get("data") or {}) != {"service-ca.crt": self.pem}:
            sim.kube.request(
                "PATCH",
                CONFIG_MAPS.path(name, namespace),
                [{"op": "replace" if "data" in obj else "add", "path": "/data", "value": {"service-ca.crt": self.pem}}],
                content_type="application/json-patch+json",
            )
        return None

    def service(self, sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> None:
        """Issue a Service's serving certificate Secret once."""
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        secret_name = annotation(obj, SERVING_CERT)
        if not secret_name or sim.kube.get(SECRETS.path(secret_name, namespace)) is not None:
            return
        names = [f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]
        if obj["spec"].get("clusterIP") == "None":
            names += [f"*.{n}" for n in names]
        cert, key = self.authority.issue(names[0], names)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {
                "name": secret_name,
                "namespace": namespace,
                "annotations": {
                    "service.beta.openshift.io/originating-service-name": name,
                    "service.beta.openshift.io/originating-service-uid": obj["metadata"]["uid"],
                },
                "ownerReferences": [owner_reference(obj, controller=False)],
            },
            "data": {"tls.crt": base64.b64encode(cert + self.pem.encode()).decode(), "tls.key": base64.b64encode(key).decode()},
        }
        apply(sim.kube, secret, "secrets")
        sim.kube.merge_patch(object_path("v1", "services", name, namespace), {"metadata": {"annotations": {SIGNED_BY: SIGNER}}})
