"""Command line: check every option, fetch model.onnx from the bucket, serve it over KServe V2."""

import argparse
import ipaddress
import logging
import os
import re
import signal
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .storage import (
    MODEL_FILE,
    ModelLocation,
    StorageError,
    fetch_model,
    load_data_connection,
    resolve_location,
    s3_client,
)
from .spec import ServingSpec, reset_metrics, reset_statuses
from .workers import BIND_FAILURE, listening_sockets, run_workers

PROG = "python -m fraud_model_server"
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MODEL_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
logger = logging.getLogger("fraud_model_server")

DESCRIPTION = """\
Serve one ONNX model over the KServe V2 REST protocol, the way ModelMesh serves it on OpenShift AI:
  GET  /v2/health/live, /v2/health/ready
  GET  /v2/models/<name>, /v2/models/<name>/ready
  POST /v2/models/<name>/infer

At start the server downloads <storage path>/model.onnx from S3 with the data-connection variables
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_ENDPOINT, AWS_DEFAULT_REGION (default us-east-1) and
AWS_S3_BUCKET, read from the environment or from --data-connection-file (never from the command line).
TLS certificates are verified; AWS_CA_BUNDLE or --ca-bundle adds a CA bundle.
Inputs, outputs, datatypes and shapes come from the ONNX graph; requests that do not match get a 400.
Tensors may be sent as JSON or with the V2 binary tensor data extension (Inference-Header-Content-Length).

Rollouts: started with --serving-spec FILE (JSON: storage_path, sha256, version) instead of --storage-path, the
server rereads FILE on SIGHUP and switches every process to the model it names without dropping a request; the
model it cannot fetch or load is refused and the served one stays. `python -m fraud_model_server.switch` signals
and waits (and reports what each process serves).
"""

EPILOG = """\
exit status: 0 after SIGTERM/SIGINT, 1 when the model cannot be fetched or loaded, 2 for bad options,
3 when a port cannot be bound.
example (the data connection in a 0600 KEY=value file):
  python -m fraud_model_server --model-name credit-card-fraud --storage-path models/fraud/1 \\
    --data-connection-file .state/secrets/data-connection.env --workdir .state/model-server
"""


def _model_name(value: str) -> str:
    """A name usable in /v2/models/<name>."""
    if not MODEL_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"invalid model name {value!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _model_version(value: str) -> str:
    """A version label usable in /v2/models/<name>/versions/<version>."""
    if not MODEL_VERSION.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"invalid model version {value!r}: use 1-64 letters, digits, '.', '_' or '-' (a registry version number)"
        )
    return value


def _loopback_host(value: str) -> str:
    """A loopback IP address: the server has no authentication, so it must not listen beyond this machine."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid host {value!r}: give a loopback IP address such as 127.0.0.1"
        ) from None
    if not address.is_loopback:
        raise argparse.ArgumentTypeError(
            f"host {value!r} is not a loopback address; this server has no authentication, bind it to 127.0.0.1"
        )
    return value


def _port(value: str) -> int:
    """A TCP port number."""
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}: expected a number from 1 to 65535")
    return int(value)


def _grpc_port(value: str) -> int | None:
    """A TCP port number, or 'disabled'."""
    return None if value == "disabled" else _port(value)


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An integer in [low, high]."""

    def parse(value: str) -> int:
        if not value.isdigit() or not low <= int(value) <= high:
            raise argparse.ArgumentTypeError(f"invalid value {value!r}: expected an integer from {low} to {high}")
        return int(value)

    return parse


def _share(value: str) -> float:
    """A number above 0 and at most 1."""
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0.0 < share <= 1.0:
        raise argparse.ArgumentTypeError(f"invalid share {value!r}: expected a number above 0 and at most 1")
    return share


def _key_prefix(value: str) -> str:
    """An S3 key prefix of plain path segments."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*/?", value) or ".." in value:
        raise argparse.ArgumentTypeError(f"invalid key prefix {value!r}: expected segments of letters, digits, "
                                         "'.', '_' or '-' separated by '/'")
    return value.strip("/")


def _readable_file(value: str) -> Path:
    """An existing, readable regular file."""
    path = Path(value)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{value!r} is not a readable file")
    return path


def _sha256(value: str) -> str:
    """64 hexadecimal digits, lowercased."""
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise argparse.ArgumentTypeError(f"expected a SHA-256 of 64 hexadecimal digits, got {value!r}")
    return value.lower()


def _workdir(value: str) -> Path:
    """A directory path (created if missing) that is not an existing non-directory."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"workdir {value!r} exists and is not a directory")
    return path


def build_parser() -> argparse.ArgumentParser:
    """The documented command line."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model-name",
        type=_model_name,
        required=True,
        help="serving name in /v2/models/<name> (the model_serving role passes model_serving_model_name)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--storage-path",
        help=f"folder holding {MODEL_FILE}: s3://<bucket>/<folder>, or <folder> inside AWS_S3_BUCKET "
        "(a path ending in .onnx names the file itself)",
    )
    source.add_argument(
        "--serving-spec",
        type=Path,
        help="JSON file naming the model to serve (storage_path, sha256, version), reread on SIGHUP for a "
        "rollout; replaces --storage-path, --expected-sha256 and --model-version",
    )
    parser.add_argument("--workdir", type=_workdir, required=True, help="local directory the model is downloaded to")
    parser.add_argument(
        "--host", type=_loopback_host, default="127.0.0.1", help="loopback address to bind (default: %(default)s)"
    )
    parser.add_argument("--http-port", type=_port, default=8008, help="REST port (default: %(default)s, as ModelMesh)")
    parser.add_argument(
        "--grpc-port", type=_grpc_port, default=None, metavar="{PORT,disabled}", help="V2 gRPC port (default: disabled)"
    )
    parser.add_argument(
        "--data-connection-file",
        type=_readable_file,
        help="KEY=value file with the AWS_* variables (the environment wins)",
    )
    parser.add_argument(
        "--ca-bundle",
        type=_readable_file,
        default=os.environ.get("AWS_CA_BUNDLE") or None,
        help="CA bundle to verify the S3 endpoint's certificate (default: $AWS_CA_BUNDLE, else the system CAs)",
    )
    parser.add_argument(
        "--onnx-threads",
        type=_bounded_int(1, 64),
        default=1,
        help="onnxruntime intra-op threads (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=_bounded_int(1, 32),
        default=1,
        help="server processes sharing the REST port, each with the model loaded (about 160 MiB each); more than "
        "one helps batch-heavy loads on several cores (default: %(default)s)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=_bounded_int(1024, 1 << 30),
        default=DEFAULT_MAX_REQUEST_BYTES,
        help="largest accepted request body (default: %(default)s)",
    )
    parser.add_argument(
        "--model-version",
        type=_model_version,
        default=None,
        help="the registered version this file is (the model_serving role passes it): answers carry it as "
        "model_version, /v2/models/<name> lists it, and /v2/models/<name>/versions/<version>/infer answers",
    )
    parser.add_argument(
        "--expected-sha256",
        type=_sha256,
        default=None,
        help="SHA-256 the model file must have (the registered version's model_sha256 tag); another file is "
        "refused and nothing is served",
    )
    parser.add_argument(
        "--max-connections",
        type=_bounded_int(1, 100_000),
        default=1024,
        help="open client connections per server process; at the cap a new connection closes the one waiting "
        "longest for a request (lowered to what the descriptor limit allows; default: %(default)s)",
    )
    parser.add_argument(
        "--header-timeout",
        type=_bounded_int(1, 3600),
        default=10,
        help="seconds a connection has to send its request headers, from its opening or its previous response "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--payload-log-prefix",
        type=_key_prefix,
        default=None,
        help="log a sample of the rows scored (features, score, version, time) to the data connection's bucket under "
        "PREFIX/<model-name>/ in JSON-lines batches (payload.py; default: no payload log)",
    )
    parser.add_argument("--payload-log-sample", type=_share, default=1.0,
                        help="share of the rows scored that are logged (default: %(default)s)")
    parser.add_argument("--payload-log-batch-rows", type=_bounded_int(1, 1_000_000), default=1000,
                        help="rows per object written (or what is held every 30 s; default: %(default)s)")
    parser.add_argument("--payload-log-keep", type=_bounded_int(1, 1_000_000), default=100,
                        help="objects kept per model: older ones are removed (default: %(default)s)")
    parser.add_argument(
        "--no-metrics",
        dest="metrics",
        action="store_false",
        help="neither count nor answer GET /metrics (Prometheus: requests, latency, rows, scores, flagged share)",
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info", help="(default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Validate, fetch, serve. Returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.grpc_port is not None and args.grpc_port == args.http_port:
        parser.error(f"--grpc-port and --http-port are both {args.http_port}")
    if args.serving_spec is not None:
        given = [flag for flag, value in (("--expected-sha256", args.expected_sha256),
                                          ("--model-version", args.model_version)) if value]
        if given:
            parser.error(f"{' and '.join(given)}: the serving spec names the model, give it there")
    # A rollout's SIGHUP is taken once the model is served (server.py); until then it must not end the process.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        serving = (ServingSpec.read(args.serving_spec) if args.serving_spec is not None
                   else ServingSpec(args.storage_path, args.expected_sha256, args.model_version))
        connection = load_data_connection(args.data_connection_file)
        location: ModelLocation = resolve_location(serving.storage_path, connection.bucket)
    except ValueError as error:  # SpecError included
        parser.error(str(error))

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.workdir.mkdir(parents=True, exist_ok=True)
    verify = str(args.ca_bundle) if args.ca_bundle else True

    def fetch(spec: ServingSpec, destination: Path) -> Path:
        """The model ``spec`` names, fetched to ``destination`` with a client of its own (a process's first)."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        where = resolve_location(spec.storage_path, connection.bucket)
        return fetch_model(s3_client(connection, verify=verify), where, destination, connection.endpoint, spec.sha256)

    try:
        model_file = fetch(serving, args.workdir / MODEL_FILE)
    except StorageError as error:
        logger.error("%s", error)
        return 1
    logger.info("fetched %s from %s", location.uri, connection.endpoint)
    reset_statuses(args.workdir, os.getpid(), args.workers)
    reset_metrics(args.workdir)
    def payload_client() -> Any:
        """A client of the data connection for the payload log's writer (a thread of its own)."""
        return s3_client(connection, verify=verify)

    args.payload_bucket, args.payload_client = location.bucket, payload_client
    if args.workers == 1:
        return _serve(args, model_file, serving, fetch)
    try:
        sockets = listening_sockets(args.host, args.http_port, args.workers)
    except OSError as error:
        logger.error("cannot bind %s:%d: %s", args.host, args.http_port, error)
        return BIND_FAILURE
    return run_workers(sockets, lambda sock: _serve(args, model_file, serving, fetch, sock))


def _serve(args: argparse.Namespace, model_file: Path, serving: ServingSpec,
           fetch: Callable[[ServingSpec, Path], Path], sock: socket.socket | None = None) -> int:
    """Serve ``model_file`` (on ``sock`` when given) until SIGTERM/SIGINT, taking rollouts when started from a
    serving spec; 1 when it cannot be loaded."""
    import uvloop  # the serving stack is imported only now: --help, bad options and fetch errors stay fast

    from .payload import PayloadSettings
    from .server import ModelLoadError, ServeOptions, serve

    payload = None
    if args.payload_log_prefix:
        payload = PayloadSettings(bucket=args.payload_bucket, prefix=args.payload_log_prefix, model_name=args.model_name,
                                  sample=args.payload_log_sample, batch_rows=args.payload_log_batch_rows,
                                  keep=args.payload_log_keep)

    options = ServeOptions(
        model_name=args.model_name,
        model_file=model_file,
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        onnx_threads=args.onnx_threads,
        max_request_bytes=args.max_request_bytes,
        workdir=args.workdir,
        max_connections=args.max_connections,
        header_timeout_s=float(args.header_timeout),
        model_version=serving.version,
        metrics=args.metrics,
        payload=payload,
        payload_client=args.payload_client,
        spec_file=args.serving_spec,
        serving=serving,
        fetch=fetch,
    )
    try:
        uvloop.run(serve(options, sock))
    except ModelLoadError as error:
        logger.error("%s", error)
        return 1
    return 0
