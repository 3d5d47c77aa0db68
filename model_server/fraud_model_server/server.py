"""Assemble MLServer's V2 data plane, REST app and (optionally) gRPC server around one ONNX model."""

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from typing import Any
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from mlserver.errors import MLServerError
from mlserver.grpc import GRPCServer
from mlserver.handlers import DataPlane, ModelRepositoryHandlers
from mlserver.registry import MultiModelRegistry
from mlserver.repository.factory import ModelRepositoryFactory
from mlserver.rest.app import create_app
from mlserver.settings import ModelParameters, ModelSettings, Settings
from uvicorn.config import STARTUP_FAILURE

from .connections import connection_cap, guarded_protocol
from .fast_infer import FastInfer
from .guards import RequestLimits, install_error_handlers
from .metrics import MetricsApp, ServingMetrics
from .payload import PayloadLog, PayloadSettings
from .rollout import RolloutContext, Rollouts
from .runtime import THREADS_PARAMETER, OnnxRuntimeModel
from .spec import ServingSpec, read_statuses

logger = logging.getLogger("fraud_model_server")


class ModelLoadError(RuntimeError):
    """The model file could not be turned into a serving model; the message names the file."""


@dataclass(frozen=True)
class ServeOptions:
    """Everything the server needs once the model file is on local disk."""

    model_name: str
    model_file: Path
    host: str
    http_port: int
    grpc_port: int | None
    onnx_threads: int
    max_request_bytes: int
    workdir: Path
    max_connections: int = 1024
    header_timeout_s: float = 10.0
    model_version: str | None = None
    # Prometheus metrics on GET /metrics (metrics.py); off: not even counted
    metrics: bool = True
    # The payload log (payload.py): where, how much; and a new S3 client for its writer
    payload: PayloadSettings | None = None
    payload_client: Callable[[], Any] | None = None
    # Rollouts (SIGHUP): the spec file to reread, what is served now, and how a model is fetched.
    spec_file: Path | None = None
    serving: ServingSpec | None = None
    fetch: Callable[[ServingSpec, Path], Path] | None = None


def mlserver_settings(options: ServeOptions) -> Settings:
    """MLServer settings tuned for one small model: in-process inference, no metrics/gzip/access log."""
    return Settings(
        debug=False,
        parallel_workers=0,
        host=options.host,
        http_port=options.http_port,
        grpc_port=options.grpc_port or 0,
        grpc_max_message_length=options.max_request_bytes,
        metrics_endpoint=None,
        gzip_enabled=False,
        cors_settings=None,
        load_models_at_startup=False,
        model_repository_root=str(options.workdir),
    )


def model_settings(options: ServeOptions, model_file: Path | None = None,
                   version: str | None | bool = False) -> ModelSettings:
    """The one model: our onnxruntime runtime over the downloaded file (by default the options' file and version)."""
    version = options.model_version if version is False else version
    return ModelSettings(
        name=options.model_name,
        versions=[version] if version else [],
        implementation=OnnxRuntimeModel,
        parameters=ModelParameters(uri=str(model_file or options.model_file), version=version or None,
                                   extra={THREADS_PARAMETER: options.onnx_threads}),
    )


class FixedModelHandlers(ModelRepositoryHandlers):
    """Model repository API (REST and gRPC) of a server that has no authentication: nobody replaces the model over
    it. A rollout is asked for by the server's owner: the serving spec file and SIGHUP (rollout.py)."""

    async def load(self, name: str) -> bool:
        """Refuse: models are not loaded over the API."""
        raise MLServerError(f"cannot load {name!r} over the API: roll out with the serving spec and SIGHUP", 403)

    async def unload(self, name: str) -> bool:
        """Refuse: the served model cannot be unloaded over the API."""
        raise MLServerError(f"cannot unload {name!r}: this server serves one model", 403)


def _serving_processes(options: ServeOptions) -> dict[str, int]:
    """Server processes by the version they serve: their published statuses (this process only, without a spec)."""
    statuses = read_statuses(options.workdir) if options.spec_file is not None else {}
    versions = [str((status.get("serving") or {}).get("version") or "") for status in statuses.values()]
    if not versions:
        versions = [options.model_version or ""]
    return {version: versions.count(version) for version in set(versions)}


def _rollouts(options: ServeOptions, registry: MultiModelRegistry, fast: FastInfer,
              metrics: ServingMetrics | None) -> Rollouts | None:
    """The rollouts of this process, when it was started from a serving spec."""
    if options.spec_file is None or options.serving is None or options.fetch is None:
        return None
    context = RolloutContext(
        spec_file=options.spec_file, workdir=options.workdir, onnx_threads=options.onnx_threads,
        fetch=options.fetch, settings_for=lambda model_file, version: model_settings(options, model_file, version),
    )

    def swap(model: OnnxRuntimeModel) -> None:
        fast.model = model

    def threshold(value: float | None) -> None:
        if metrics is not None:
            metrics.threshold = value

    return Rollouts(context, registry, options.serving, served=lambda: fast.model, swap=swap, threshold=threshold)


class _RestServer(uvicorn.Server):
    """uvicorn server whose shutdown signals are handled by :func:`serve` (so gRPC stops too)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signal handling to the caller."""
        yield


async def serve(options: ServeOptions, sock: socket.socket | None = None) -> None:
    """Load the model, then serve V2 REST (and gRPC when a port is given) until SIGTERM or SIGINT.

    ``sock``: an already listening REST socket (shared by worker processes); else one is bound to the options'
    host and port.
    """
    settings = mlserver_settings(options)
    registry = MultiModelRegistry()
    data_plane = DataPlane(settings=settings, model_registry=registry)
    handlers = FixedModelHandlers(
        repository=ModelRepositoryFactory.resolve_model_repository(settings), model_registry=registry
    )
    try:
        await registry.load(model_settings(options))
    except Exception as error:
        raise ModelLoadError(f"cannot load {options.model_file} as an ONNX model: {error}") from error

    model = await registry.get_model(options.model_name)
    app = create_app(settings, data_plane=data_plane, model_repository_handlers=handlers)
    install_error_handlers(app)
    fast = FastInfer(app, model, settings)
    asgi: object = RequestLimits(fast, options.max_request_bytes)
    metrics = None
    if options.metrics:
        metrics = ServingMetrics(options.workdir, options.serving.threshold if options.serving else None)
        OnnxRuntimeModel.observers.append(lambda _model, _feeds, scores: metrics.scores(scores))
        asgi = MetricsApp(asgi, metrics, lambda: _serving_processes(options))
    payload_log = None
    if options.payload is not None and options.payload_client is not None:
        payload_log = PayloadLog(options.payload, options.payload_client,
                                 counted=metrics.payload if metrics is not None else lambda logged, dropped: None)
        record = payload_log.record
        OnnxRuntimeModel.observers.append(
            lambda model, feeds, scores: record(next(iter(feeds.values())), scores, model.version))
        logger.info("payload log: %.0f %% of the rows scored, to s3://%s/%s in batches of %d (the newest %d kept)",
                    100 * options.payload.sample, options.payload.bucket, options.payload.folder,
                    options.payload.batch_rows, options.payload.keep)
    config = uvicorn.Config(
        asgi,
        host=options.host,
        port=options.http_port,
        # httptools, bounded: idle and slow clients cannot hold every descriptor (connections.py)
        http=guarded_protocol(connection_cap(options.max_connections), options.header_timeout_s),
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,  # bound to loopback, nothing reads the client address: no X-Forwarded-* parsing
    )
    rest = _RestServer(config)
    grpc = GRPCServer(settings, data_plane, handlers) if options.grpc_port else None

    loop = asyncio.get_running_loop()
    for handled in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(handled, lambda: setattr(rest, "should_exit", True))
    rollouts = _rollouts(options, registry, fast, metrics)
    if rollouts is not None:
        loop.add_signal_handler(signal.SIGHUP, rollouts.request)
        rollouts.publish()
    grpc_task = asyncio.create_task(grpc.start()) if grpc else None
    if grpc_task:  # a gRPC failure (port taken) stops REST too, and is raised below
        grpc_task.add_done_callback(lambda _: setattr(rest, "should_exit", True))
    logger.info(
        "serving model %r on http://%s:%d%s",
        options.model_name,
        options.host,
        options.http_port,
        f" and grpc://{options.host}:{options.grpc_port}" if grpc else "",
    )
    try:
        await rest.serve(sockets=[sock] if sock is not None else None)
    finally:
        if payload_log is not None:
            await asyncio.to_thread(payload_log.close)
        if grpc and grpc_task:
            if not grpc_task.done():
                await grpc.stop()
            elif grpc_task.exception() is not None:
                logger.error("cannot serve gRPC on %s:%d: %s", options.host, options.grpc_port, grpc_task.exception())
                raise SystemExit(STARTUP_FAILURE)
