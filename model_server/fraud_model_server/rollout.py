"""A rollout inside one running server process: SIGHUP -> read the serving spec -> fetch and open the named model
beside the served one -> swap it in between two requests -> publish what this process serves.

Nothing is dropped: the listening socket stays open throughout, the new model is fetched and opened in a thread while
the event loop keeps answering with the old one, and the swap is one assignment in the event loop (a request already
running holds the model it started with). A model that cannot be fetched or opened, or whose inputs or outputs differ
from the served one's (its clients' requests would fail), is refused: the process keeps serving what it served and
publishes why (``failed`` in its status), which ``python -m fraud_model_server.switch`` reports.
"""

import asyncio
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import onnxruntime as ort
from mlserver.registry import MultiModelRegistry
from mlserver.settings import ModelSettings

from .runtime import OnnxRuntimeModel, open_session, preload
from .spec import ServingSpec, SpecError, WorkerStatus
from .storage import StorageError
from .tensors import TensorSpec

logger = logging.getLogger("fraud_model_server")


@dataclass(frozen=True)
class RolloutContext:
    """What a rollout needs besides the spec: where it reads and writes, how it fetches and describes a model."""

    spec_file: Path
    workdir: Path
    onnx_threads: int
    # (spec, destination) -> the file fetched there, checked against spec.sha256 (StorageError otherwise)
    fetch: Callable[[ServingSpec, Path], Path]
    # (model file, version) -> MLServer's settings of the model
    settings_for: Callable[[Path, str | None], ModelSettings]


def interface(session: ort.InferenceSession) -> dict[str, list[dict[str, Any]]]:
    """The inputs and outputs (name, datatype, shape) that a model's clients depend on."""
    def describe(args: list[Any]) -> list[dict[str, Any]]:
        return [TensorSpec.from_onnx(arg.name, arg.type, arg.shape).metadata().model_dump() for arg in args]

    return {"inputs": describe(session.get_inputs()), "outputs": describe(session.get_outputs())}


class Rollouts:
    """Takes the rollouts of one server process, one at a time (a SIGHUP during one runs one more after it)."""

    def __init__(self, context: RolloutContext, registry: MultiModelRegistry, current: ServingSpec,
                 served: Callable[[], OnnxRuntimeModel], swap: Callable[[OnnxRuntimeModel], None],
                 threshold: Callable[[float | None], None] = lambda _: None) -> None:
        self._context = context
        self._threshold = threshold
        self._registry = registry
        self._current = current
        self._served = served
        self._swap = swap
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self.status = WorkerStatus(pid=os.getpid(), serving=asdict(current))

    def publish(self) -> None:
        """Write this process's status."""
        self.status.write(self._context.workdir)

    def request(self) -> None:
        """SIGHUP: start a rollout, or have one more run after the one under way."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            try:
                await self._roll_out()
            except Exception as error:  # noqa: BLE001 - any failure is reported; the served model stays
                self._refuse(None, f"{type(error).__name__}: {error}")
            self.status.rollouts += 1
            self.publish()

    def _refuse(self, spec: ServingSpec | None, message: str) -> None:
        logger.error("rollout refused, still serving %s: %s", self._current.describe(), message)
        self.status.failed = {"spec": asdict(spec) if spec else None, "message": message}

    async def _roll_out(self) -> None:
        context = self._context
        try:
            spec = ServingSpec.read(context.spec_file)
        except SpecError as error:
            self._refuse(None, str(error))
            return
        if spec == self._current:
            self.status.failed = None
            logger.info("rollout: already serving %s", spec.describe())
            return
        if replace(spec, threshold=self._current.threshold) == self._current:  # the same model, another threshold
            self._current = spec
            self._threshold(spec.threshold)
            self.status.serving = asdict(spec)
            self.status.failed = None
            logger.info("rollout: %s, now with threshold %s", spec.describe(), spec.threshold)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        directory = context.workdir / f"rollout-{os.getpid()}"
        try:
            model_file = await asyncio.to_thread(context.fetch, spec, directory / "model.onnx")
            session = await asyncio.to_thread(open_session, model_file, context.onnx_threads)
            served = self._served()
            if interface(session) != interface(served.session):
                self._refuse(spec, f"{spec.describe()} has inputs/outputs {interface(session)}, the served model "
                             f"{interface(served.session)}: its clients' requests would fail")
                return
            preload(model_file, session)
            model = await self._registry.load(context.settings_for(model_file, spec.version))
        except (StorageError, ValueError) as error:
            self._refuse(spec, str(error))
            return
        finally:
            shutil.rmtree(directory, ignore_errors=True)  # the session holds the model: its file is not needed
        previous = self._current
        self._swap(model)
        self._threshold(spec.threshold)
        self._current = spec
        if previous.version != spec.version:
            await self._registry.unload_version(model.name, previous.version)
        self.status.serving = asdict(spec)
        self.status.failed = None
        logger.info("rollout: now serving %s (was %s) after %.2f s", spec.describe(), previous.describe(),
                    loop.time() - started)
