"""OpenVINO Model Server's behaviour that the demo relies on, on the real OpenVINO runtime (`openvino`, which OVMS
is built on): `python -m tests.cluster.runtimes.ovms --model_name NAME --model_path PATH --rest_port 8888 ...` or
`--config_path FILE` (ModelMesh's adapter writes it and calls `POST /v1/config/reload`).

As upstream (openvinotoolkit/model_server v2026.1, src/server.cpp, modelmanager.cpp, http_rest_api_handler.cpp):
- the REST port opens first, then models load;
- a model folder holds numeric version folders; the highest one is served (`<path>/1/model.onnx` for KServe);
  none found: "No version found for model in path" and the server keeps running without the model
  (`/v2/models/<m>/ready` answers 404 "Model with requested version is not found");
- a missing model path, or a model OpenVINO cannot read or compile, ends the server with exit code 1 at start
  ("Error occurred while loading model: ...");
- KServe V2 REST: `/v2/health/live|ready`, `/v2/models/<m>`, `/v2/models/<m>/ready`, `POST /v2/models/<m>/infer`
  (JSON tensors; errors as `{"error": "..."}`); `/v1/config` and `/v1/config/reload` for the config file mode.
"""

from __future__ import annotations

import argparse
import http.server
import json
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("ovms")
DATATYPES = {"FP32": "float32", "FP64": "float64", "INT64": "int64", "INT32": "int32", "BOOL": "bool"}


class LoadError(RuntimeError):
    """A model version that OpenVINO cannot read or compile."""


@dataclass
class Version:
    number: int
    compiled: Any = None
    state: str = "LOADING"
    error: str = ""


@dataclass
class Model:
    name: str
    base_path: str
    versions: dict[int, Version] = field(default_factory=dict)

    def serving(self) -> Version | None:
        available = [v for v in self.versions.values() if v.state == "AVAILABLE"]
        return max(available, key=lambda v: v.number) if available else None


def model_file(folder: Path) -> Path:
    """The model in a version folder: model.onnx, any *.onnx, or an OpenVINO IR *.xml."""
    for pattern in ("model.onnx", "*.onnx", "*.xml"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    raise LoadError(f"Model files not found in {folder}")


def load(name: str, base_path: str) -> Model:
    """Read and compile the highest numeric version of a model (raises LoadError, FileNotFoundError)."""
    import openvino  # noqa: PLC0415 - seconds of import, after the REST port is open

    base = Path(base_path)
    if not base.is_dir():
        raise FileNotFoundError(f"Directory does not exist: {base_path}")
    model = Model(name, base_path)
    numbers = []
    for entry in sorted(base.iterdir()):
        if entry.is_dir() and entry.name.isdigit():
            numbers.append(int(entry.name))
        elif entry.is_dir():
            log.warning("Expected version directory name to be in number format. Got: %s", entry.name)
    if not numbers:
        log.warning("No version found for model in path: %s", base_path)
        return model
    number = max(numbers)
    version = Version(number)
    try:
        core = openvino.Core()
        version.compiled = core.compile_model(core.read_model(str(model_file(base / str(number)))), "CPU")
    except (RuntimeError, LoadError) as error:
        raise LoadError(f"Error occurred while loading model: {name}; version: {number}; error: {error}") from None
    version.state = "AVAILABLE"
    model.versions[number] = version
    log.info("Loaded model %s; version: %d", name, number)
    return model


def infer(model: Model, body: dict[str, Any]) -> dict[str, Any]:
    """A KServe V2 inference on the served version; raises ValueError with the message OVMS gives."""
    import numpy  # noqa: PLC0415

    version = model.serving()
    if version is None:
        raise LookupError("Model with requested version is not found")
    compiled = version.compiled
    expected = {port.get_any_name(): port for port in compiled.inputs}
    feed = {}
    for tensor in body.get("inputs") or []:
        name = tensor.get("name")
        if name not in expected:
            raise ValueError(f"Unexpected input name: {name}")
        dtype = DATATYPES.get(tensor.get("datatype", ""))
        if dtype is None:
            raise ValueError(f"Invalid input datatype: {tensor.get('datatype')}")
        try:
            feed[name] = numpy.asarray(tensor["data"], dtype=dtype).reshape(tensor["shape"])
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"Invalid input: {error}") from None
    missing = sorted(set(expected) - set(feed))
    if missing:
        raise ValueError(f"Missing input: {', '.join(missing)}")
    results = compiled(feed)
    outputs = []
    for port in compiled.outputs:
        value = results[port]
        datatype = next((k for k, v in DATATYPES.items() if v == str(value.dtype)), "FP32")
        outputs.append({"name": port.get_any_name(), "shape": list(value.shape), "datatype": datatype, "data": value.ravel().tolist()})
    answer: dict[str, Any] = {"model_name": model.name, "model_version": str(version.number), "outputs": outputs}
    if "id" in body:
        answer["id"] = body["id"]
    return answer


class Server:
    """The models and the REST API."""

    def __init__(self) -> None:
        self.models: dict[str, Model] = {}
        self.ready = False
        self.lock = threading.Lock()
        self.config_path: str = ""

    def reload(self) -> dict[str, Any]:
        """Load what the config file lists (ModelMesh's adapter), keeping load errors per model."""
        config = json.loads(Path(self.config_path).read_text()) if Path(self.config_path).exists() else {"model_config_list": []}
        models: dict[str, Model] = {}
        for item in config.get("model_config_list") or []:
            entry = item["config"]
            try:
                models[entry["name"]] = load(entry["name"], entry["base_path"])
            except (LoadError, FileNotFoundError) as error:
                failed = Model(entry["name"], entry["base_path"], {1: Version(1, state="LOADING", error=str(error))})
                models[entry["name"]] = failed
                log.error("%s", error)
        with self.lock:
            self.models = models
        return self.status()

    def status(self) -> dict[str, Any]:
        with self.lock:
            models = dict(self.models)
        answer = {}
        for name, model in models.items():
            answer[name] = {
                "model_version_status": [
                    {
                        "version": str(v.number),
                        "state": v.state,
                        "status": {"error_code": "OK" if v.state == "AVAILABLE" else "UNKNOWN", "error_message": v.error or "OK"},
                    }
                    for v in model.versions.values()
                ]
            }
        return answer


def handler(server: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, code: int, body: dict[str, Any] | None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _model(self, name: str) -> Model | None:
            with server.lock:
                return server.models.get(name)

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?")[0].rstrip("/")
            if path == "/v2/health/live":
                self._send(200, None)
            elif path == "/v2/health/ready":
                self._send(200 if server.ready else 500, None if server.ready else {"error": "Model not loaded yet"})
            elif path == "/v1/config":
                self._send(200, server.status())
            elif match := re.fullmatch(r"/v2/models/([^/]+)(/versions/\d+)?(/ready)?", path):
                model = self._model(match.group(1))
                if model is None:
                    self._send(404, {"error": "Model with requested name is not found"})
                elif model.serving() is None:
                    self._send(404, {"error": "Model with requested version is not found"})
                elif match.group(3):
                    self._send(200, None)
                else:
                    version = model.serving()
                    compiled = version.compiled  # type: ignore[union-attr]

                    def tensors(ports: Any) -> list[dict[str, Any]]:
                        return [{"name": p.get_any_name(), "datatype": "FP32", "shape": [d.get_length() if d.is_static else -1 for d in p.get_partial_shape()]} for p in ports]

                    self._send(200, {"name": model.name, "versions": [str(version.number)], "platform": "OpenVINO", "inputs": tensors(compiled.inputs), "outputs": tensors(compiled.outputs)})  # type: ignore[union-attr]
            else:
                self._send(404, {"error": "Invalid request URL"})

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?")[0].rstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path == "/v1/config/reload":
                self._send(200, server.reload())
                return
            match = re.fullmatch(r"/v2/models/([^/]+)(/versions/\d+)?/infer", path)
            if not match:
                self._send(404, {"error": "Invalid request URL"})
                return
            model = self._model(match.group(1))
            if model is None:
                self._send(404, {"error": "Model with requested name is not found"})
                return
            try:
                body = json.loads(raw or b"{}")
                self._send(200, infer(model, body))
            except LookupError as error:
                self._send(404, {"error": str(error)})
            except (ValueError, TypeError) as error:
                self._send(400, {"error": str(error)})

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ovms", description=__doc__.splitlines()[0])
    parser.add_argument("--model_name")
    parser.add_argument("--model_path")
    parser.add_argument("--config_path")
    parser.add_argument("--port", type=int, default=0, help="gRPC port (not served here)")
    parser.add_argument("--rest_port", type=int, default=0)
    parser.add_argument("--grpc_bind_address", default="0.0.0.0")  # noqa: S104 - OVMS's default
    parser.add_argument("--rest_bind_address", default="0.0.0.0")  # noqa: S104
    parser.add_argument("--file_system_poll_wait_seconds", type=int, default=1)
    parser.add_argument("--target_device", default="CPU")
    parser.add_argument("--metrics_enable", action="store_true")
    parser.add_argument("--log_level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] %(message)s", stream=sys.stderr)
    if not (args.model_path or args.config_path):
        log.error("Use either config_path or model_path with model_name")
        return 1
    server = Server()
    httpd = http.server.ThreadingHTTPServer((args.rest_bind_address, args.rest_port), handler(server))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    log.info("REST server listening on port %d", args.rest_port)
    try:
        if args.config_path:
            server.config_path = args.config_path
            server.reload()
        else:
            server.models = {args.model_name: load(args.model_name, args.model_path)}
    except (LoadError, FileNotFoundError) as error:
        log.error("%s", error)
        log.error("Couldn't start model manager")
        httpd.shutdown()
        return 1
    server.ready = True
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OV_LOG_LEVEL", "ERROR")
    sys.exit(main())
