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
  (JSON tensors; errors as `{"error": "..."}`); `/v1/config` and `/v1/config/reload` for the config file mode;
- `GET /metrics` on the REST port only with `--metrics_enable` (else 404 "Invalid request URL"), Prometheus text
  as prometheus-cpp's TextSerializer writes it (model_server 7e4df0c7, docs/metrics.md, src/model_metric_reporter.cpp,
  src/metrics/metric_config.{hpp,cpp}, http_rest_api_handler.cpp processMetrics / processInferKFSRequest): per model
  version, counters `ovms_requests_success` / `ovms_requests_fail` {api="KServe", interface="gRPC"|"REST",
  method="ModelInfer"|"ModelMetadata"|"ModelReady", name, version (not for ModelReady)}, histograms
  `ovms_request_time_us` {interface, name, version} (successful inferences, whole REST request),
  `ovms_inference_time_us` and `ovms_wait_for_infer_req_time_us` {name, version}, buckets floor(10 * 1.8^i),
  i < 33, gauges `ovms_streams` (the compiled model's NUM_STREAMS), `ovms_infer_req_queue_size` (nireq =
  OPTIMAL_NUMBER_OF_INFER_REQUESTS), `ovms_infer_req_active`, `ovms_current_requests` {name, version}. Default
  families: all but `ovms_infer_req_queue_size` and `ovms_infer_req_active`; `--metrics_list a,b` enables exactly
  those (an unknown name stops the server). Counted for real from the REST requests served: a malformed infer
  request counts as a ModelInfer failure, one for a model that is not there counts nowhere (no reporter); gRPC
  is not served, so its series stay 0. The MediaPipe families (`ovms_current_graphs`, `ovms_requests_accepted`,
  ...) have no series for plain models.
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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("ovms")
DATATYPES = {"FP32": "float32", "FP64": "float64", "INT64": "int64", "INT32": "int32", "BOOL": "bool"}


BUCKETS = [float(int(10 * 1.8**i)) for i in range(33)]  # NUMBER_OF_BUCKETS, BUCKET_MULTIPLIER, BUCKET_POWER_BASE
COUNTERS = {"ovms_requests_success": "Number of successful requests to a model or a DAG.",
            "ovms_requests_fail": "Number of failed requests to a model or a DAG."}
HISTOGRAMS = {"ovms_request_time_us": "Processing time of requests to a model or a DAG.",
              "ovms_inference_time_us": "Inference execution time in the OpenVINO backend.",
              "ovms_wait_for_infer_req_time_us": "Request waiting time in the scheduling queue."}
GAUGES = {"ovms_streams": "Number of OpenVINO execution streams.",
          "ovms_infer_req_queue_size": "Inference request queue size (nireq).",
          "ovms_infer_req_active": "Number of currently consumed inference request from the processing queue.",
          "ovms_current_requests": "Number of inference requests currently in process."}
# ModelMetricReporter's order of createFamily (prometheus-cpp serialises families in registration order)
FAMILIES = ["ovms_requests_success", "ovms_requests_fail", "ovms_request_time_us", "ovms_inference_time_us",
            "ovms_wait_for_infer_req_time_us", "ovms_streams", "ovms_infer_req_queue_size", "ovms_infer_req_active",
            "ovms_current_requests"]
MEDIAPIPE_FAMILIES = ["ovms_current_graphs", "ovms_requests_accepted", "ovms_requests_rejected", "ovms_graph_error",
                      "ovms_graph_processing_time_us", "ovms_responses"]
DEFAULT_FAMILIES = {f for f in FAMILIES if f not in ("ovms_infer_req_queue_size", "ovms_infer_req_active")} | set(MEDIAPIPE_FAMILIES)


def _value(number: float) -> str:
    """prometheus-cpp's WriteValue: classic locale, precision max_digits10 - 1."""
    return "+Inf" if number == float("inf") else f"{number:.16g}"


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1


class Metrics:
    """MetricRegistry with the ModelMetricReporters of the loaded model versions."""

    def __init__(self, enabled: bool, families: set[str]) -> None:
        self.enabled = enabled
        self.families = families
        self.lock = threading.Lock()
        self.series: dict[str, list[tuple[tuple[tuple[str, str], ...], Any]]] = {}
        self.created: list[str] = []

    def _family(self, name: str) -> None:
        if name not in self.created:
            self.created.append(name)
            self.series[name] = []

    def _add(self, family: str, labels: dict[str, str], value: Any) -> Any:
        self.series[family].append((tuple(sorted(labels.items())), value))
        return value

    def register(self, name: str, version: int, compiled: Any) -> None:
        """The ModelMetricReporter constructor for one model version."""
        if not self.enabled:
            return
        with self.lock:
            v = str(version)
            for family in COUNTERS:  # created whether or not enabled, as upstream does
                self._family(family)
                if family in self.families:
                    for interface in ("gRPC", "REST"):
                        for method in ("ModelInfer", "ModelMetadata", "ModelReady"):
                            labels = {"name": name, "api": "KServe", "method": method, "interface": interface}
                            if method != "ModelReady":
                                labels["version"] = v
                            self._add(family, labels, [0.0])
            self._family("ovms_request_time_us")
            if "ovms_request_time_us" in self.families:
                for interface in ("gRPC", "REST"):
                    self._add("ovms_request_time_us", {"name": name, "version": v, "interface": interface}, Histogram())
            for family in ("ovms_inference_time_us", "ovms_wait_for_infer_req_time_us"):
                if family in self.families:
                    self._family(family)
                    self._add(family, {"name": name, "version": v}, Histogram())
            properties = {"ovms_streams": "NUM_STREAMS", "ovms_infer_req_queue_size": "OPTIMAL_NUMBER_OF_INFER_REQUESTS"}
            for family in ("ovms_streams", "ovms_infer_req_queue_size", "ovms_infer_req_active", "ovms_current_requests"):
                if family in self.families:
                    self._family(family)
                    value = float(int(compiled.get_property(properties[family]))) if family in properties else 0.0
                    self._add(family, {"name": name, "version": v}, [value])

    def _find(self, family: str, labels: dict[str, str]) -> Any:
        wanted = tuple(sorted(labels.items()))
        return next((value for key, value in self.series.get(family, []) if key == wanted), None)

    def add(self, family: str, labels: dict[str, str], amount: float = 1.0) -> None:
        """INCREMENT_IF_ENABLED / DECREMENT_IF_ENABLED on a counter or gauge."""
        with self.lock:
            value = self._find(family, labels)
            if value is not None:
                value[0] += amount

    def observe(self, family: str, labels: dict[str, str], sample: float) -> None:
        """OBSERVE_IF_ENABLED."""
        with self.lock:
            value = self._find(family, labels)
            if value is not None:
                value.observe(sample)

    def text(self) -> str:
        """prometheus::TextSerializer::Serialize of the registry."""
        lines = []
        kinds = {**dict.fromkeys(COUNTERS, "counter"), **dict.fromkeys(HISTOGRAMS, "histogram"), **dict.fromkeys(GAUGES, "gauge")}
        helps = {**COUNTERS, **HISTOGRAMS, **GAUGES}
        with self.lock:
            for family in self.created:
                lines.append(f"# HELP {family} {helps[family]}")
                lines.append(f"# TYPE {family} {kinds[family]}")
                for labels, value in self.series[family]:
                    joined = ",".join(f'{k}="{v}"' for k, v in labels)
                    if isinstance(value, Histogram):
                        lines.append(f"{family}_count{{{joined}}} {value.count}")
                        lines.append(f"{family}_sum{{{joined}}} {_value(value.total)}")
                        for bound, count in zip([*BUCKETS, float("inf")], [*value.counts, value.count], strict=True):
                            lines.append(f'{family}_bucket{{{joined},le="{_value(bound)}"}} {count}')
                    else:
                        lines.append(f"{family}{{{joined}}} {_value(value[0])}")
        return "\n".join(lines) + "\n"


class LoadError(RuntimeError):
    """A model version that OpenVINO cannot read or compile."""


@dataclass
class Version:
    number: int
    compiled: Any = None
    state: str = "LOADING"
    error: str = ""
    queue: threading.BoundedSemaphore | None = None  # the infer request queue (nireq)


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


def infer(model: Model, body: dict[str, Any], metrics: Metrics | None = None) -> dict[str, Any]:
    """A KServe V2 inference on the served version; raises ValueError with the message OVMS gives."""
    import numpy  # noqa: PLC0415

    version = model.serving()
    if version is None:
        raise LookupError("Model with requested version is not found")
    metrics = metrics or Metrics(False, set())
    series = {"name": model.name, "version": str(version.number)}
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
    metrics.add("ovms_current_requests", series)
    try:
        waited = time.monotonic()
        if version.queue is None:
            version.queue = threading.BoundedSemaphore(max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))))
        with version.queue:
            metrics.observe("ovms_wait_for_infer_req_time_us", series, int((time.monotonic() - waited) * 1e6))
            metrics.add("ovms_infer_req_active", series)
            try:
                started = time.monotonic()
                results = compiled.create_infer_request().infer(feed)
                metrics.observe("ovms_inference_time_us", series, int((time.monotonic() - started) * 1e6))
            finally:
                metrics.add("ovms_infer_req_active", series, -1)
    finally:
        metrics.add("ovms_current_requests", series, -1)
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

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or Metrics(False, set())
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
                self.register(models[entry["name"]])
            except (LoadError, FileNotFoundError) as error:
                failed = Model(entry["name"], entry["base_path"], {1: Version(1, state="LOADING", error=str(error))})
                models[entry["name"]] = failed
                log.error("%s", error)
        with self.lock:
            self.models = models
        return self.status()

    def register(self, model: Model) -> None:
        """The metric reporter of each version that loaded."""
        for version in model.versions.values():
            if version.compiled is not None:
                self.metrics.register(model.name, version.number, version.compiled)

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

        def _send(self, code: int, body: dict[str, Any] | str | None) -> None:
            text = isinstance(body, str)
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
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
            elif path.endswith("/metrics") and re.fullmatch(r"(.?)/metrics", path):
                if server.metrics.enabled:
                    self._send(200, server.metrics.text())
                else:
                    self._send(404, {"error": "Invalid request URL"})
            elif match := re.fullmatch(r"/v2/models/([^/]+)(/versions/\d+)?(/ready)?", path):
                model = self._model(match.group(1))
                if model is None:
                    self._send(404, {"error": "Model with requested name is not found"})
                elif model.serving() is None:
                    self._send(404, {"error": "Model with requested version is not found"})
                elif match.group(3):
                    server.metrics.add("ovms_requests_success", {"name": model.name, "api": "KServe", "method": "ModelReady", "interface": "REST"})
                    self._send(200, None)
                else:
                    version = model.serving()
                    server.metrics.add("ovms_requests_success", {"name": model.name, "api": "KServe", "method": "ModelMetadata", "interface": "REST", "version": str(version.number)})  # type: ignore[union-attr]
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
            started = time.monotonic()
            version = model.serving()
            series = {"name": model.name, "api": "KServe", "method": "ModelInfer", "interface": "REST", "version": str(version.number if version else 0)}
            try:
                body = json.loads(raw or b"{}")
                answer = infer(model, body, server.metrics)
            except LookupError as error:
                self._send(404, {"error": str(error)})
                return
            except (ValueError, TypeError) as error:
                server.metrics.add("ovms_requests_fail", series)
                self._send(400, {"error": str(error)})
                return
            server.metrics.add("ovms_requests_success", series)
            timing = {k: series[k] for k in ("name", "version", "interface")}
            server.metrics.observe("ovms_request_time_us", timing, int((time.monotonic() - started) * 1e6))
            self._send(200, answer)

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
    parser.add_argument("--metrics_list", default="")
    parser.add_argument("--log_level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] %(message)s", stream=sys.stderr)
    if not (args.model_path or args.config_path):
        log.error("Use either config_path or model_path with model_name")
        return 1
    families = DEFAULT_FAMILIES
    if args.metrics_list:
        families = {name.strip() for name in args.metrics_list.split(",")}
        unknown = sorted(families - set(FAMILIES) - set(MEDIAPIPE_FAMILIES))
        if unknown:
            log.warning("Metrics family name not supported: %s", unknown[0])
            log.error("Invalid metrics family name")
            return 1
    server = Server(Metrics(args.metrics_enable, families))
    httpd = http.server.ThreadingHTTPServer((args.rest_bind_address, args.rest_port), handler(server))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    log.info("REST server listening on port %d", args.rest_port)
    try:
        if args.config_path:
            server.config_path = args.config_path
            server.reload()
        else:
            server.models = {args.model_name: load(args.model_name, args.model_path)}
            server.register(server.models[args.model_name])
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
