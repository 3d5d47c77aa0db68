"""A small REST client over the kubernetes package's ApiClient: JSON dicts in, JSON dicts out, and
watches as plain event dicts. Used by the control-plane helper, the simulator and the tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class KubeError(RuntimeError):
    """An API answer with an error status; `status` is the HTTP code, `body` the decoded Status."""

    def __init__(self, method: str, path: str, status: int, body: JSON) -> None:
        super().__init__(f"{method} {path}: {status} {body.get('reason', '')}: {body.get('message', body)}")
        self.status = status
        self.body = body


class Kube:
    """Talks to one API server with the credentials of a kubeconfig file."""

    def __init__(self, kubeconfig: Path, connections: int = 32) -> None:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        configuration.connection_pool_maxsize = connections  # one per open watch, plus the workers'
        self.client = kubernetes.client.ApiClient(configuration)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> JSON | None:
        """One call; returns the decoded answer, None for 404 on GET, raises KubeError otherwise."""
        response = self._send(method, path, body, query, content_type, timeout)
        data = response.read()
        if response.status == 404 and method == "GET":
            return None
        decoded = _decode(data)
        if response.status >= 400:
            raise KubeError(method, path, response.status, decoded)
        return decoded

    def text(self, path: str, query: dict[str, str] | None = None) -> str:
        """GET a plain-text answer (pods/log); raises KubeError for an error status."""
        response = self._send("GET", path, None, query, "application/json", 30)
        data = response.read()
        if response.status >= 400:
            raise KubeError("GET", path, response.status, _decode(data))
        return data.decode(errors="replace")

    def get(self, path: str) -> JSON | None:
        """GET an object or list; None when absent."""
        return self.request("GET", path)

    def merge_patch(self, path: str, patch: JSON) -> JSON | None:
        """JSON merge patch (RFC 7386)."""
        return self.request("PATCH", path, patch, content_type=MERGE_PATCH)

    def apply(self, path: str, obj: JSON, manager: str, force: bool = True) -> JSON | None:
        """Server-side apply of `obj` at `path` (the object's own URL) as field manager `manager`."""
        query = {"fieldManager": manager, "force": "true" if force else "false"}
        return self.request("PATCH", path, obj, query=query, content_type=APPLY_PATCH)

    def watch(self, path: str, resource_version: str, timeout_seconds: int = 60) -> Iterator[JSON]:
        """Events of a watch on a collection from `resource_version` until the server ends it."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        response = self._send("GET", path, None, query, "application/json", timeout_seconds + 10)
        if response.status >= 400:
            raise KubeError("WATCH", path, response.status, _decode(response.read()))
        try:
            for line in response.response:
                if line.strip():
                    yield json.loads(line)
        finally:
            response.response.release_conn()

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        query: dict[str, str] | None,
        content_type: str,
        timeout: float,
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        request = self.client.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.client.call_api(*request, _request_timeout=timeout)


def _decode(data: bytes) -> JSON:
    """A JSON answer, or the plain text some errors come as (e.g. "404 page not found")."""
    if not data:
        return {}
    try:
        decoded = json.loads(data)
    except ValueError:
        return {"message": data.decode(errors="replace").strip()}
    return decoded if isinstance(decoded, dict) else {"items": decoded}


def object_path(api_version: str, plural: str, name: str = "", namespace: str = "") -> str:
    """The URL path of a collection (no name) or an object; core kinds use apiVersion "v1"."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}{scope}/{plural}" + (f"/{name}" if name else "")
