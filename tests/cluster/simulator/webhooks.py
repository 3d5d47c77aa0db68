"""Admission webhooks of OpenShift AI 3.x that change what the roles apply, served to the API server for real
(MutatingWebhookConfigurations pointing at this process, failurePolicy Fail as upstream):

- KServe's InferenceService defaulting (opendatahub-io/kserve odh-v3.4 `inference_service_defaults.go`): on 3.4 and
  later the annotation `serving.kserve.io/deploymentMode: RawDeployment` becomes `Standard`.
- The hardware profile webhook (opendatahub-operator `internal/webhook/hardwareprofile/mutating.go`): a Notebook
  with `opendatahub.io/hardware-profile-name` gets the profile's `defaultCount` as the requests it does not set;
  limits: 3.0-3.3 the `maxCount` (when the profile has one) of every container, 3.4 and later the request value
  of the container named like the Notebook (v3.0.0 b26c1237, v3.4.0 dc18fa85). `hardware-profile-namespace` is
  written back when missing; a missing profile is refused.
"""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..kube import JSON, Kube, object_path
from ..pki import Authority
from .platform import release_version

PROFILE = "opendatahub.io/hardware-profile-name"
PROFILE_NAMESPACE = "opendatahub.io/hardware-profile-namespace"
MODE = "serving.kserve.io/deploymentMode"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def isvc_patch(obj: JSON, version: tuple[int, int]) -> list[JSON]:
    annotations = obj["metadata"].get("annotations") or {}
    if version >= (3, 4) and annotations.get(MODE) == "RawDeployment":
        return [{"op": "replace", "path": f"/metadata/annotations/{_escape(MODE)}", "value": "Standard"}]
    return []


def notebook_patch(kube: Kube, obj: JSON, version: tuple[int, int]) -> tuple[list[JSON], str]:
    """(JSON patch, refusal message) for a Notebook."""
    annotations = obj["metadata"].get("annotations") or {}
    name = annotations.get(PROFILE)
    if not name or version[0] < 3:
        return [], ""
    namespace = annotations.get(PROFILE_NAMESPACE) or obj["metadata"].get("namespace", "")
    profile = kube.get(object_path("infrastructure.opendatahub.io/v1", "hardwareprofiles", name, namespace))
    if profile is None:
        return [], f"failed to get hardware profile '{name}' from namespace '{namespace}': hardwareprofiles.infrastructure.opendatahub.io \"{name}\" not found"
    patch: list[JSON] = []
    if PROFILE_NAMESPACE not in annotations:
        patch.append({"op": "add", "path": f"/metadata/annotations/{_escape(PROFILE_NAMESPACE)}", "value": namespace})
    containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    if version >= (3, 4):
        chosen = [i for i, c in enumerate(containers) if len(containers) == 1 or c["name"] == obj["metadata"]["name"]][:1]
    else:
        chosen = list(range(len(containers)))
    for index in chosen:
        resources = json.loads(json.dumps(containers[index].get("resources") or {}))
        requests, limits = resources.setdefault("requests", {}), resources.setdefault("limits", {})
        for identifier in profile["spec"].get("identifiers") or []:
            key = identifier["identifier"]
            if key not in requests:
                requests[key] = str(identifier["defaultCount"])
            if key not in limits:
                if version >= (3, 4):
                    limits[key] = requests[key]
                elif identifier.get("maxCount") is not None:
                    limits[key] = str(identifier["maxCount"])
        if not limits:
            resources.pop("limits")
        patch.append({"op": "add", "path": f"/spec/template/spec/containers/{index}/resources", "value": resources})
    return patch, ""


class Webhooks:
    """The HTTPS endpoint the API server calls, and its registration."""

    def __init__(self, kube: Kube, authority: Authority, workdir: Path) -> None:
        self.kube = kube
        self.authority = authority
        self.workdir = workdir
        self.port = 0

    def serve(self) -> None:
        kube = self.kube

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                review = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                request = review["request"]
                obj = request["object"]
                version = release_version(kube)
                response: JSON = {"uid": request["uid"], "allowed": True}
                if self.path.split("?", 1)[0] == "/inferenceservices":  # the API server adds ?timeout=
                    patch, refusal = isvc_patch(obj, version), ""
                else:
                    patch, refusal = notebook_patch(kube, obj, version)
                if refusal:
                    response = {"uid": request["uid"], "allowed": False, "status": {"code": 400, "message": refusal}}
                elif patch:
                    response |= {"patchType": "JSONPatch", "patch": base64.b64encode(json.dumps(patch).encode()).decode()}
                body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cert, key = self.authority.issue("fraud-demo-webhooks", ["localhost"], ["127.0.0.1"])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.NamedTemporaryFile(dir=self.workdir, suffix=".pem") as pem:
            Path(pem.name).write_bytes(cert + b"\n" + key)
            context.load_cert_chain(pem.name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True, name="webhooks").start()
        self._register()

    def _register(self) -> None:
        ca = base64.b64encode(self.authority.cert.read_bytes()).decode()
        for name, group, version, plural in (
            ("fraud-demo-kserve-defaulting", "serving.kserve.io", "v1beta1", "inferenceservices"),
            ("fraud-demo-hardwareprofile", "kubeflow.org", "v1", "notebooks"),
        ):
            config = {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": name},
                "webhooks": [
                    {
                        "name": f"{plural}.{name}.fraud-demo.test",
                        "clientConfig": {"url": f"https://127.0.0.1:{self.port}/{plural}", "caBundle": ca},
                        "rules": [{"apiGroups": [group], "apiVersions": [version], "operations": ["CREATE", "UPDATE"], "resources": [plural], "scope": "Namespaced"}],
                        "admissionReviewVersions": ["v1"],
                        "sideEffects": "None",
                        "failurePolicy": "Fail",
                        "timeoutSeconds": 10,
                    }
                ],
            }
            self.kube.apply(object_path("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", name), config, "fraud-demo-simulator")
