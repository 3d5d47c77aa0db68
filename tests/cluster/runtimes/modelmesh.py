"""ModelMesh's runtime-pod containers: `python -m tests.cluster.runtimes.modelmesh mm|rest-proxy|adapter`.

- `adapter` (kserve/modelmesh-runtime-adapter: puller + OVMS adapter, on ADAPTER_PORT): loads a model the way
  upstream's does (model-serving-puller/puller, pullman/storageproviders/s3, model-mesh-ovms-adapter):
  the storage config is only `$STORAGE_CONFIG_DIR/<storage key>` (the `storage-config` Secret that
  odh-model-controller writes); `bucket` falls back to `default_bucket`; access_key_id, secret_access_key,
  endpoint_url and region are required; `certificate`, when present, is the only CA trusted (system CAs
  otherwise); path-style requests; every object under the path goes to `$ROOT_MODEL_DIR/<model id>/<basename of
  the path>`; then `_ovms_models/<model id>/1` links to it, `model_config_list.json` lists every loaded model and
  OVMS is asked to `POST /v1/config/reload` on RUNTIME_PORT. Errors carry upstream's wording ("Failed to pull
  model from storage due to error: unable to list objects in bucket '...': ...", "Failed to load model due to
  error: OVMS model load failed. ..."); TLS errors are worded by Python's ssl module, not Go's.
- `mm` (kserve/modelmesh, on MM_MANAGEMENT_PORT): takes the simulator's load and unload requests (ModelMesh's
  controller and mesh) to the adapter and remembers which model id serves each InferenceService.
- `rest-proxy` (kserve/rest-proxy, on REST_PROXY_LISTEN_PORT): the V2 REST API of the InferenceService name,
  served by the model id that is loaded for it.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import ssl
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path
from typing import Any

JSONDict = dict[str, Any]


class LoadFailure(RuntimeError):
    """What ModelMesh reports as the model's lastFailureInfo.message."""


def _post(port: int, path: str, body: JSONDict, timeout: float = 120) -> tuple[int, JSONDict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data or b"{}")
    finally:
        connection.close()


# --- adapter: puller + OVMS adapter --------------------------------------------------------------------------------


def storage_config(key: str) -> JSONDict:
    path = Path(os.environ.get("STORAGE_CONFIG_DIR", "/storage-config")) / key
    if not path.is_file():
        raise LoadFailure(f"Did not find storage config for key {key}: Storage secretKey not found: {key}")
    config = json.loads(path.read_text())
    if config.get("type") == "s3" and "default_bucket" in config and "bucket" not in config:
        config["bucket"] = config["default_bucket"]
    return config


def pull(model_id: str, key: str, path: str) -> Path:
    """Download every object under `path` as upstream's S3 provider does; returns the local folder."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    config = storage_config(key)
    for name in ("access_key_id", "secret_access_key", "endpoint_url", "region"):
        if not isinstance(config.get(name), str):
            raise LoadFailure(f"Failed to pull model from storage due to error: missing required string configuration '{name}'")
    bucket = config.get("bucket") or ""
    if not bucket:
        raise LoadFailure("Failed to pull model from storage due to error: required configuration 'bucket' missing from command")
    if not config["region"]:
        raise LoadFailure("Failed to pull model from storage due to error: MissingRegion: could not find region configuration")
    endpoint = config["endpoint_url"]
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    verify: str | bool = ssl.get_default_verify_paths().cafile or True
    ca_file = None
    if config.get("certificate"):
        ca_file = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115
        ca_file.write(config["certificate"])
        ca_file.close()
        verify = ca_file.name
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=config["access_key_id"],
        aws_secret_access_key=config["secret_access_key"],
        region_name=config["region"],
        verify=verify,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    prefix = path.strip("/")
    target = Path(os.environ.get("ROOT_MODEL_DIR", "/models")) / model_id / (Path(prefix).name or "_model")
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [o["Key"] for page in pages for o in page.get("Contents") or [] if not o["Key"].endswith("/") and o.get("Size", 0) > 0]
    except (ClientError, BotoCoreError) as error:
        raise LoadFailure(f"Failed to pull model from storage due to error: unable to list objects in bucket '{bucket}': {error}") from None
    finally:
        if ca_file is not None:
            os.unlink(ca_file.name)
    keys = [k for k in keys if k == prefix or k.startswith(prefix + "/")]
    if not keys:
        raise LoadFailure(f"Failed to pull model from storage due to error: no objects found for path '{prefix}'")
    shutil.rmtree(target.parent, ignore_errors=True)
    try:
        for item in keys:
            relative = item[len(prefix) :].lstrip("/") or Path(item).name
            local = target / relative if item != prefix else target
            local.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, item, str(local))
    except (ClientError, BotoCoreError) as error:
        raise LoadFailure(f"Failed to pull model from storage due to error: unable to download objects in bucket '{bucket}': {error}") from None
    return target


class Adapter:
    """The models this runtime pod serves (model id -> base path)."""

    def __init__(self) -> None:
        self.models: dict[str, str] = {}
        self.lock = threading.Lock()
        self.root = Path(os.environ.get("ROOT_MODEL_DIR", "/models"))

    def _reload(self) -> JSONDict:
        entries = [{"config": {"name": m, "base_path": p, "target_device": "CPU"}} for m, p in sorted(self.models.items())]
        (self.root / "model_config_list.json").write_text(json.dumps({"model_config_list": entries}))
        status, answer = _post(int(os.environ.get("RUNTIME_PORT", "8888")), "/v1/config/reload", {})
        if status != 200:
            raise LoadFailure(f"Failed to update model configuration with OVMS: HTTP {status}")
        return answer

    def load(self, model_id: str, key: str, path: str) -> None:
        pulled = pull(model_id, key, path)
        layout = self.root / "_ovms_models" / model_id
        shutil.rmtree(layout, ignore_errors=True)
        layout.mkdir(parents=True)
        numeric = sorted((int(p.name) for p in pulled.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True) if pulled.is_dir() else []
        if numeric:
            (layout / str(numeric[0])).symlink_to(pulled / str(numeric[0]))
        elif pulled.is_file():
            (layout / "1").mkdir()
            (layout / "1" / "model.onnx").symlink_to(pulled)
        else:
            (layout / "1").symlink_to(pulled)
        with self.lock:
            self.models[model_id] = str(layout)
            status = self._reload()
        versions = (status.get(model_id) or {}).get("model_version_status") or []
        if not versions:
            raise LoadFailure("Failed to load model due to error: Expected model to load, but no status entry found in the config")
        if versions[0]["state"] != "AVAILABLE":
            with self.lock:
                self.models.pop(model_id, None)
                self._reload()
            info = versions[0]["status"]
            raise LoadFailure(f"Failed to load model due to error: OVMS model load failed. code: '{info['error_code']}' reason: '{info['error_message']}'")

    def unload(self, model_id: str) -> None:
        with self.lock:
            if self.models.pop(model_id, None) is not None:
                self._reload()
        shutil.rmtree(self.root / model_id, ignore_errors=True)
        shutil.rmtree(self.root / "_ovms_models" / model_id, ignore_errors=True)


# --- the HTTP servers ------------------------------------------------------------------------------------------------


def _server(port: int, handle: Any) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, code: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            code, body = handle("GET", self.path, b"")
            self._answer(code, body)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            code, body = handle("POST", self.path, self.rfile.read(length) if length else b"")
            self._answer(code, body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()  # noqa: S104 - the pod's own address


def run_adapter() -> None:
    adapter = Adapter()

    def handle(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method == "GET":
            return 200, b"{}"
        request = json.loads(body or b"{}")
        try:
            if path == "/load":
                adapter.load(request["modelId"], request["storageKey"], request["path"])
            elif path == "/unload":
                adapter.unload(request["modelId"])
            else:
                return 404, b"{}"
        except LoadFailure as error:
            print(f"model {request.get('modelId')}: {error}", file=sys.stderr, flush=True)
            return 200, json.dumps({"ok": False, "message": str(error)}).encode()
        return 200, json.dumps({"ok": True}).encode()

    _server(int(os.environ.get("ADAPTER_PORT", "8085")), handle)


def run_mm() -> None:
    adapter_port = int(os.environ.get("ADAPTER_PORT", "8085"))
    vmodels: dict[str, str] = {}
    lock = threading.Lock()

    def handle(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method == "GET" and path.startswith("/vmodels/"):
            with lock:
                model_id = vmodels.get(urllib.parse.unquote(path.split("/", 2)[2]))
            return (200, json.dumps({"modelId": model_id}).encode()) if model_id else (404, b"{}")
        if method == "GET":  # ready once the adapter answers
            connection = http.client.HTTPConnection("127.0.0.1", adapter_port, timeout=2)
            try:
                connection.request("GET", "/")
                connection.getresponse().read()
            except OSError:
                return 503, b'{"ready": false}'
            finally:
                connection.close()
            return 200, b'{"ready": true}'
        request = json.loads(body or b"{}")
        status, answer = _post(adapter_port, path, request)
        if path == "/load" and answer.get("ok"):
            with lock:
                previous = vmodels.get(request["vModelId"])
                vmodels[request["vModelId"]] = request["modelId"]
            if previous and previous != request["modelId"]:
                _post(adapter_port, "/unload", {"modelId": previous})
        return status, json.dumps(answer).encode()

    _server(int(os.environ.get("MM_MANAGEMENT_PORT", "8090")), handle)


def run_rest_proxy() -> None:
    mm_port = int(os.environ.get("MM_MANAGEMENT_PORT", "8090"))
    runtime_port = int(os.environ.get("RUNTIME_REST_PORT", "8888"))

    def handle(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) < 3 or parts[:2] != ["v2", "models"]:
            return 404, b'{"error": "Not Found"}'
        connection = http.client.HTTPConnection("127.0.0.1", mm_port, timeout=5)
        connection.request("GET", f"/vmodels/{parts[2]}")
        found = connection.getresponse()
        model_id = json.loads(found.read() or b"{}").get("modelId")
        if not model_id:
            return 404, json.dumps({"code": 5, "message": f"InferenceService {parts[2]} not found"}).encode()
        parts[2] = model_id
        upstream = http.client.HTTPConnection("127.0.0.1", runtime_port, timeout=30)
        upstream.request(method, "/" + "/".join(parts), body or None, {"Content-Type": "application/json"})
        response = upstream.getresponse()
        return response.status, response.read()

    _server(int(os.environ.get("REST_PROXY_LISTEN_PORT", "8008")), handle)


def main() -> None:
    part = sys.argv[1] if len(sys.argv) > 1 else ""
    runner = {"adapter": run_adapter, "mm": run_mm, "rest-proxy": run_rest_proxy}.get(part)
    if runner is None:
        sys.exit(f"usage: python -m tests.cluster.runtimes.modelmesh mm|rest-proxy|adapter (got {part!r})")
    runner()


if __name__ == "__main__":
    main()
