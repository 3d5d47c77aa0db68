"""KServe's agent sidecar as the inference logger (`quay.io/opendatahub/kserve-agent`, injected by KServe's pod webhook
for `spec.predictor.logger`): `python -m tests.cluster.runtimes.kserve_agent --log-url URL --component-port 8888 ...`.

As upstream (opendatahub-io/kserve 3cf0a0416662e3db328f6ddf4755ce730f41c747: cmd/agent/main.go, pkg/logger/
handler.go, worker.go, dispatcher.go; knative.dev/pkg network/handlers/drain.go and network/network.go,
knative.dev/serving pkg/queue/health/handler.go and probe.go for the probe path):
- upstream's flag names (spf13/pflag: `--name value` or `--name=value`; a bool flag takes its value only as
  `--name=value`, so the webhook's `--logger-tls-skip-verify false` sets it true and leaves `false` as an argument);
  SERVING_READINESS_PROBE must be set (envconfig `required`: "required key SERVING_READINESS_PROBE missing value",
  status 1); a `--log-mode` other than all/request/response or a `--metadata-annotations` pair without `=` ends it
  with status 255 (`os.Exit(-1)`);
- listens on `--port` (9081, plain HTTP) and proxies every request to 127.0.0.1:`--component-port` (method, path,
  headers less hop-by-hop ones plus X-Forwarded-For, body; the answer's status, headers and body streamed back; 502
  with the dial error when the component does not answer);
- kubelet probes (User-Agent `kube-probe/`, a `K-Kubelet-Probe` header, or the activator's user agent) are answered
  by probing the component as SERVING_READINESS_PROBE says (tcpSocket or httpGet on 127.0.0.1 unless it names a
  host): `K-Network-Probe` must be `queue` (else 400 "unexpected probe header value: ..."), a failed probe is 503,
  a passed one 200 `queue`; they are never logged;
- with `--log-url`: the request body is read whole; for mode all/request a CloudEvent of type
  `org.kubeflow.serving.inference.request` is queued before the request is proxied, and for all/response, after a 200
  answer, one of type `org.kubeflow.serving.inference.response` with the answer's body. Both carry the request's
  `Ce-Id` header (or one new UUID), the request's Content-Type and are sent in binary mode (cloudevents sdk-go v2:
  POST to the log URL with `Ce-Specversion: 1.0`, `Ce-Id`, `Ce-Source` (`--source-uri`, default
  `http://localhost:<port>/`), `Ce-Type`, `Ce-Time` (arrival / answer time, RFC 3339 in UTC), and the extensions
  `Ce-Recordedtime`, `Ce-Inferenceservicename`, `Ce-Namespace`, `Ce-Component`, `Ce-Endpoint`, `Ce-Metadata` (JSON of
  the `--metadata-headers` the request had) and `Ce-Annotations` (JSON of the `--metadata-annotations` pairs, when
  there are any)). A queue of 100 (LoggerWorkerQueueSize) feeds `--workers` (5) threads; a failed delivery is logged
  ("Failed to send cloud event"), never the request's failure; an answer other than 200 is logged as such;
- an https log URL trusts only /etc/tls/logger/`--logger-ca-cert-file` (default service-ca.crt) when that file
  exists, and then skips verification with `--logger-tls-skip-verify`; without the file it warns and uses the system
  CAs (and verifies). Log URLs of other schemes are blob storage upstream (`--log-store-path`): not run here, each
  event is logged as not stored.
Not run: the model puller, the batcher, the blob-storage marshaller and the unix socket for exec probes.
"""

from __future__ import annotations

import argparse
import email.utils
import http.client
import http.server
import json
import logging
import os
import queue
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from .http_body import read_body

log = logging.getLogger("agent")
JSONDict = dict[str, Any]
QUEUE_SIZE = 100  # pkg/logger/worker.go LoggerWorkerQueueSize
CA_DIR = Path("/etc/tls/logger")  # constants.LoggerCaCertMountPath
REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
MODES = ("all", "request", "response")
BOOL_FLAGS = ("enable-puller", "enable-batcher", "logger-tls-skip-verify")
GO_TRUE, GO_FALSE = ("1", "t", "T", "TRUE", "true", "True"), ("0", "f", "F", "FALSE", "false", "False")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}
SEND_TIMEOUT_S = 30.0


class ExitError(RuntimeError):
    """A configuration upstream's agent refuses at start: the message and its exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# --- flags ---------------------------------------------------------------------------------------------------------


def _go_bool(value: str) -> bool:
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    raise argparse.ArgumentTypeError(f'invalid argument "{value}": strconv.ParseBool: parsing "{value}": invalid syntax')


def _pflag_bools(argv: list[str]) -> list[str]:
    """pflag's bool flags: a bare `--name` is `--name=true` (NoOptDefVal); the next word is not its value."""
    return [f"{word}=true" if word.startswith("--") and word[2:] in BOOL_FLAGS else word for word in argv]


def parse_flags(argv: list[str]) -> argparse.Namespace:
    """cmd/agent/main.go's flags, with their defaults."""
    parser = argparse.ArgumentParser(prog="agent", allow_abbrev=False)
    add = parser.add_argument
    add("--port", default="9081")
    add("--component-port", type=int, default=8080)
    add("--enable-puller", type=_go_bool, default=False)
    add("--config-dir", default="/mnt/configs")
    add("--model-dir", default="/mnt/models")
    add("--log-url", default="")
    add("--workers", type=int, default=5)
    add("--source-uri", default="")
    add("--log-mode", default="all")
    add("--log-store-path", default="")
    add("--log-store-format", default="json")
    add("--log-marshaller-url", default="http://localhost:9083/marshal")
    add("--log-marshaller-port", type=int, default=9083)
    add("--log-batch-size", type=int, default=1)
    add("--log-batch-interval", default="0s")
    add("--inference-service", default="")
    add("--namespace", default="")
    add("--endpoint", default="")
    add("--component", default="")
    add("--metadata-headers", action="append", default=[])
    add("--metadata-annotations", action="append", default=[])
    add("--enable-batcher", type=_go_bool, default=False)
    add("--max-batchsize", default="32")
    add("--max-latency", default="5000")
    add("--probe-period", default="-1ns")
    add("--logger-ca-cert-file", default="service-ca.crt")
    add("--logger-tls-skip-verify", type=_go_bool, default=False)
    add("arguments", nargs="*", help=argparse.SUPPRESS)  # pflag keeps non-flag words as flag.Args()
    return parser.parse_intermixed_args(_pflag_bools(argv))


def _slice(values: list[str]) -> list[str]:
    """A pflag StringSlice given once or more: comma-separated values, an empty one adds none."""
    return [item for value in values if value for item in value.split(",")]


# --- logger configuration and events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggerConfig:
    """main.go's loggerArgs."""

    url: str
    source_uri: str
    mode: str
    inference_service: str
    namespace: str
    endpoint: str
    component: str
    metadata_headers: list[str]
    annotations: dict[str, str]
    cert_name: str
    tls_skip_verify: bool


@dataclass(frozen=True)
class LogRequest:
    """One event to send (pkg/logger/types.go LogRequest)."""

    body: bytes
    content_type: str
    kind: str
    event_id: str
    occurred_ns: int
    metadata: dict[str, list[str]] = field(default_factory=dict)


def logger_config(args: argparse.Namespace) -> LoggerConfig:
    """startLogger's checks (raises ExitError) and defaults."""
    if args.log_mode not in MODES:
        raise ExitError(f"Malformed log-mode {args.log_mode}", 255)
    annotations = {}
    for pair in _slice(args.metadata_annotations):
        key, found, value = pair.partition("=")
        if not found:
            raise ExitError(f"annotation does not adhere to desired format got key: {key} value: {value}", 255)
        annotations[key] = value
    return LoggerConfig(
        url=args.log_url, source_uri=args.source_uri or f"http://localhost:{args.port}/", mode=args.log_mode,
        inference_service=args.inference_service, namespace=args.namespace, endpoint=args.endpoint, component=args.component,
        metadata_headers=_slice(args.metadata_headers), annotations=annotations, cert_name=args.logger_ca_cert_file,
        tls_skip_verify=args.logger_tls_skip_verify,
    )


def rfc3339(ns: int) -> str:
    """Go's time.RFC3339Nano in UTC (sdk-go's types.Format of a time)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return stamp + (f".{fraction:09d}".rstrip("0") if fraction else "") + "Z"


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)  # Go's encoding/json sorts map keys


def event_headers(config: LoggerConfig, request: LogRequest) -> dict[str, str]:
    """The binary-mode CloudEvent headers worker.go sendHttpCloudEvent makes."""
    headers = {
        "Ce-Specversion": "1.0", "Ce-Id": request.event_id, "Ce-Source": config.source_uri, "Ce-Type": request.kind,
        "Ce-Time": rfc3339(request.occurred_ns), "Ce-Recordedtime": rfc3339(time.time_ns()),
        "Ce-Inferenceservicename": config.inference_service, "Ce-Namespace": config.namespace,
        "Ce-Component": config.component, "Ce-Endpoint": config.endpoint, "Ce-Metadata": _json(request.metadata),
    }
    if config.annotations:
        headers["Ce-Annotations"] = _json(config.annotations)
    if request.content_type:
        headers["Content-Type"] = request.content_type
    return headers


def tls_context(config: LoggerConfig) -> ssl.SSLContext:
    """The CA file when it exists (with --logger-tls-skip-verify honoured), else the system CAs."""
    ca_file = CA_DIR / config.cert_name
    if not ca_file.is_file():
        log.warning("using https endpoint but could not find CA cert file %s", ca_file)
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except ssl.SSLError:
        raise ssl.SSLError("while parsing CA certificate") from None
    if config.tls_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _connection(target: SplitResult, config: LoggerConfig) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return http.client.HTTPSConnection(target.hostname or "", target.port or 443, timeout=SEND_TIMEOUT_S, context=tls_context(config))
    return http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=SEND_TIMEOUT_S)


def send_event(config: LoggerConfig, request: LogRequest) -> int:
    """POST one event to the log URL; its HTTP status (raises OSError or HTTPException when undelivered)."""
    target = urlsplit(config.url)
    connection = _connection(target, config)
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    try:
        connection.request("POST", path, body=request.body, headers=event_headers(config, request))
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class Dispatcher:
    """The work queue and its workers (dispatcher.go StartDispatcher, worker.go Worker)."""

    def __init__(self, config: LoggerConfig, workers: int) -> None:
        self.config = config
        self.queue: queue.Queue[LogRequest] = queue.Queue(maxsize=QUEUE_SIZE)
        for number in range(1, workers + 1):
            log.info("Starting worker %d", number)
            threading.Thread(target=self._work, args=(number,), name=f"worker-{number}", daemon=True).start()

    def put(self, request: LogRequest) -> None:
        self.queue.put(request)  # a full queue holds up the request, as a send on upstream's channel does

    def _work(self, number: int) -> None:
        while True:
            request = self.queue.get()
            log.info("Received work request %d, url: %s, requestId: %s", number, self.config.url, request.event_id)
            if urlsplit(self.config.url).scheme not in ("http", "https"):
                log.error("Logger store not configured, cannot store batch")
                continue
            try:
                status = send_event(self.config, request)
            except (OSError, http.client.HTTPException) as error:
                log.error("Failed to send cloud event, url: %s: while sending event: %s", self.config.url, error)
                continue
            log.info("Sent with status code %d, error: %s", status, "<nil>" if status == 200 else f"{status}")


# --- the component's readiness ---------------------------------------------------------------------------------


def _probe_port(value: int | str) -> int:
    return int(value) if str(value).isdigit() else socket.getservbyname(str(value))  # Go dials a named port as a service


def _tcp_ready(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _http_ready(action: JSONDict, timeout: float) -> bool:
    host, port = action.get("host") or "127.0.0.1", _probe_port(action["port"])
    if str(action.get("scheme", "HTTP")).lower() == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # knative's HTTPProbe: InsecureSkipVerify
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"User-Agent": "kube-probe/1.36", **{h["name"]: h["value"] for h in action.get("httpHeaders") or []}}
    try:
        connection.request("GET", action.get("path") or "/", headers=headers)
        return 200 <= connection.getresponse().status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def component_prober(probe_json: str) -> Callable[[], bool]:
    """SERVING_READINESS_PROBE as a check of the component (one attempt within timeoutSeconds)."""
    if not probe_json:
        return lambda: True
    try:
        probe = json.loads(probe_json)
    except ValueError as error:
        raise ExitError(f"Agent failed to parse readiness probe: {error}", 1) from None
    timeout = float(probe.get("timeoutSeconds") or 1)
    if "tcpSocket" in probe:
        host, port = probe["tcpSocket"].get("host") or "127.0.0.1", _probe_port(probe["tcpSocket"]["port"])
        return lambda: _tcp_ready(host, port, timeout)
    if "httpGet" in probe:
        return lambda: _http_ready(probe["httpGet"], timeout)
    log.error("unsupported readiness probe for the agent: %s", probe_json)
    return lambda: False


# --- the HTTP server ---------------------------------------------------------------------------------------------


@dataclass
class Agent:
    component_port: int
    prober: Callable[[], bool]
    logger: LoggerConfig | None = None
    dispatcher: Dispatcher | None = None


def _canonical(name: str) -> str:
    """Go's http.CanonicalHeaderKey."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _health_check(headers: Any) -> bool:
    """knative's Drainer: kubelet probes and the activator's are health checks, on any path."""
    agent = headers.get("User-Agent", "")
    return agent.startswith(("kube-probe/", "Knative-Activator-Probe")) or bool(headers.get("K-Kubelet-Probe"))


class Handler(http.server.BaseHTTPRequestHandler):
    agent: Agent
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return

    def _answer(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response_only(status)
        for key, value in {"Content-Type": "text/plain; charset=utf-8", **(extra or {}), "Content-Length": str(len(body)), "Date": self.date_time_string()}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        return read_body(self)

    def _health(self) -> None:
        value = self.headers.get("K-Network-Probe", "")
        if value != "queue":
            return self._answer(400, f"unexpected probe header value: {value}\n".encode())
        if not self.agent.prober():
            return self._answer(503, b"")
        return self._answer(200, b"queue")

    def _kprobe(self) -> None:
        digest = self.headers.get("K-Network-Hash", "")
        if not digest:
            return self._answer(400, b'a probe request must contain a non-empty "K-Network-Hash" header\n')
        return self._answer(200, b"", {"K-Network-Hash": digest})

    def _serve(self) -> None:
        if _health_check(self.headers):
            return self._health()
        if self.headers.get("K-Network-Probe") == "probe":
            return self._kprobe()
        body = self._body()
        if self.agent.logger is None:
            self._proxy(body)
            return None
        return self._log_and_proxy(body, self.agent.logger)

    def _log_and_proxy(self, body: bytes, config: LoggerConfig) -> None:
        """pkg/logger/handler.go ServeHTTP."""
        arrived = time.time_ns()
        metadata = {_canonical(k): self.headers.get_all(k) or [] for k in dict.fromkeys(self.headers.keys()) if _canonical(k) in config.metadata_headers}
        event_id = self.headers.get("Ce-Id") or str(uuid.uuid4())
        content_type = self.headers.get("Content-Type", "")
        dispatcher = self.agent.dispatcher
        assert dispatcher is not None
        if config.mode in ("all", "request"):
            dispatcher.put(LogRequest(body, content_type, REQUEST_TYPE, event_id, arrived, metadata))
        status, answer = self._proxy(body)
        if status != 200:
            log.info("Failed to proxy request, status code: %d", status)
        elif config.mode in ("all", "response"):
            dispatcher.put(LogRequest(answer, content_type, RESPONSE_TYPE, event_id, time.time_ns(), metadata))

    def _proxy(self, body: bytes) -> tuple[int, bytes]:
        """The component's answer, streamed back; (status, body) for the logger."""
        port = self.agent.component_port
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
        headers["X-Forwarded-For"] = ", ".join(filter(None, [self.headers.get("X-Forwarded-For"), self.client_address[0]]))
        connection = http.client.HTTPConnection("127.0.0.1", port)
        try:
            connection.request(self.command, self.path, body=body if body or self.command in ("POST", "PUT", "PATCH") else None, headers=headers)
            answer = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            log.error("error reverse proxying request: %s", error)
            self._answer(502, f"dial tcp 127.0.0.1:{port}: {error}\n".encode(), {"X-Content-Type-Options": "nosniff"})
            return 502, b""
        try:
            return answer.status, self._relay(answer)
        finally:
            connection.close()

    def _relay(self, answer: http.client.HTTPResponse) -> bytes:
        length = answer.getheader("Content-Length")
        chunked = length is None and self.command != "HEAD" and answer.status not in (204, 304)
        self.send_response_only(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        if answer.getheader("Date") is None:
            self.send_header("Date", email.utils.formatdate(usegmt=True))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        kept = bytearray()
        while chunk := answer.read1(65536):
            kept += chunk
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        return bytes(kept)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


def build_agent(args: argparse.Namespace) -> Agent:
    """main(): the readiness probe from the environment, then the logger when --log-url is given (raises ExitError)."""
    probe_json = os.environ.get("SERVING_READINESS_PROBE")
    if probe_json is None:
        raise ExitError("required key SERVING_READINESS_PROBE missing value", 1)
    agent = Agent(component_port=args.component_port, prober=component_prober(probe_json))
    if args.log_url:
        log.info("Starting logger")
        agent.logger = logger_config(args)
        log.info("Starting the log dispatcher")
        agent.dispatcher = Dispatcher(agent.logger, args.workers)
    return agent


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = parse_flags(argv)
    try:
        agent = build_agent(args)
    except ExitError as error:
        log.error("%s", error)
        return error.status
    log.info("Starting agent http server...")
    log.info("Building server user port %d port %s", args.component_port, args.port)
    server = http.server.ThreadingHTTPServer(("", int(args.port)), type("AgentHandler", (Handler,), {"agent": agent}))
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
