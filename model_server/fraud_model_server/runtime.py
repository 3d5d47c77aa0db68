"""MLServer runtime that serves one ONNX file with onnxruntime and checks every request against the graph."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

from .tensors import TensorSpec, decode_tensor, encode_output

# Extra model parameter (ModelSettings.parameters.extra) read by this runtime.
THREADS_PARAMETER = "onnx_threads"


def session_options(threads: int) -> ort.SessionOptions:
    """Options for a small model on a small machine: ``threads`` intra-op threads, sequential, no spinning."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


# Sessions opened ahead of MLServer's load (a rollout opens the new model in a thread, so that the event loop
# keeps answering), by model file: the next load of that file takes its session instead of opening it again.
_PRELOADED: dict[str, ort.InferenceSession] = {}


def open_session(model_file: Path, threads: int) -> ort.InferenceSession:
    """An onnxruntime session of ``model_file`` on the CPU."""
    return ort.InferenceSession(str(model_file), sess_options=session_options(threads),
                                providers=["CPUExecutionProvider"])


def preload(model_file: Path, session: ort.InferenceSession) -> None:
    """Hand the next load of ``model_file`` the ``session`` already opened from it."""
    _PRELOADED[str(model_file)] = session


class OnnxRuntimeModel(MLModel):
    """Loads ``parameters.uri`` (a local ``model.onnx``) and publishes its inputs/outputs as V2 metadata."""

    # Called with (the model, its inputs, the score output: the graph's first) after every run that computed the
    # score: the metrics (metrics.py) and the payload log (payload.py).
    observers: ClassVar[list[Callable[["OnnxRuntimeModel", dict[str, np.ndarray], np.ndarray], None]]] = []

    async def load(self) -> bool:
        """Create the onnxruntime session and derive the model's metadata from the graph."""
        parameters = self.settings.parameters
        if parameters is None or not parameters.uri:
            raise ValueError(f"model {self.name!r} has no uri parameter pointing at its model.onnx")
        extra = parameters.extra or {}
        threads = int(extra.get(THREADS_PARAMETER, 1))
        self._session = _PRELOADED.pop(parameters.uri, None) or open_session(Path(parameters.uri), threads)
        self._input_specs = [TensorSpec.from_onnx(arg.name, arg.type, arg.shape) for arg in self._session.get_inputs()]
        self._output_specs = {
            arg.name: TensorSpec.from_onnx(arg.name, arg.type, arg.shape) for arg in self._session.get_outputs()
        }
        self._score_name = next(iter(self._output_specs))
        self.inputs = [spec.metadata() for spec in self._input_specs]
        self.outputs = [spec.metadata() for spec in self._output_specs.values()]
        return True

    @property
    def session(self) -> ort.InferenceSession:
        """The onnxruntime session."""
        return self._session

    @property
    def output_specs(self) -> dict[str, TensorSpec]:
        """The graph's outputs by name."""
        return self._output_specs

    def decode(self, tensors: Sequence[tuple[str, str, list[int], Any]]) -> dict[str, np.ndarray]:
        """Map request tensors ``(name, datatype, shape, data)`` to graph inputs; InferenceError on any mismatch."""
        given = {tensor[0]: tensor for tensor in tensors}
        expected = {spec.name: spec for spec in self._input_specs}
        unknown = sorted(set(given) - set(expected))
        missing = sorted(set(expected) - set(given))
        if unknown or missing or len(given) != len(tensors):
            wanted = ", ".join(spec.describe() for spec in self._input_specs)
            problems = [
                f"unknown input(s) {unknown}" if unknown else "",
                f"missing input(s) {missing}" if missing else "",
            ]
            if len(given) != len(tensors):
                problems.append("an input is given more than once")
            raise InferenceError(f"{'; '.join(p for p in problems if p)}; model {self.name!r} expects {wanted}")
        return {name: decode_tensor(spec, *given[name][1:]) for name, spec in expected.items()}

    def output_names(self, requested: Sequence[str]) -> list[str]:
        """Names of the outputs to return: ``requested``, else all of them; InferenceError for unknown ones."""
        if not requested:
            return list(self._output_specs)
        unknown = sorted(set(requested) - set(self._output_specs))
        if unknown:
            raise InferenceError(f"unknown output(s) {unknown}; model {self.name!r} has {list(self._output_specs)}")
        return list(requested)

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run the session; an input the graph rejects is an InferenceError."""
        try:
            results = self._session.run(names, feeds)
        except InvalidArgument as error:
            raise InferenceError(f"the model rejected the input: {error}") from None
        if OnnxRuntimeModel.observers and self._score_name in names:
            scores = results[names.index(self._score_name)]
            for observe in OnnxRuntimeModel.observers:
                observe(self, feeds, scores)
        return results

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """Validate the request, run the session, return the requested outputs."""
        feeds = self.decode(
            [
                (tensor.name, getattr(tensor.datatype, "value", tensor.datatype), list(tensor.shape), tensor.data.root)
                for tensor in payload.inputs
            ]
        )
        names = self.output_names([output.name for output in payload.outputs or ()])
        results = self.run(names, feeds)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[
                encode_output(self._output_specs[name], result) for name, result in zip(names, results, strict=True)
            ],
        )
