"""V2 tensor metadata from the ONNX graph, and strict decoding of request tensors against it."""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from mlserver.errors import InferenceError
from mlserver.types import MetadataTensor, ResponseOutput

# onnxruntime type string -> (V2 datatype, numpy dtype, numpy kinds accepted from JSON data)
_ONNX_TYPES: dict[str, tuple[str, type[np.generic], str]] = {
    "tensor(float)": ("FP32", np.float32, "fiu"),
    "tensor(double)": ("FP64", np.float64, "fiu"),
    "tensor(float16)": ("FP16", np.float16, "fiu"),
    "tensor(int64)": ("INT64", np.int64, "iu"),
    "tensor(int32)": ("INT32", np.int32, "iu"),
    "tensor(int16)": ("INT16", np.int16, "iu"),
    "tensor(int8)": ("INT8", np.int8, "iu"),
    "tensor(uint64)": ("UINT64", np.uint64, "iu"),
    "tensor(uint32)": ("UINT32", np.uint32, "iu"),
    "tensor(uint16)": ("UINT16", np.uint16, "iu"),
    "tensor(uint8)": ("UINT8", np.uint8, "iu"),
    "tensor(bool)": ("BOOL", np.bool_, "b"),
}


# V2 datatype -> little-endian numpy dtype, for tensors sent as raw bytes (binary tensor data extension)
BINARY_DTYPES: dict[str, np.dtype] = {
    datatype: np.dtype(dtype).newbyteorder("<") for datatype, dtype, _ in _ONNX_TYPES.values()
}


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: name, V2 datatype, shape with -1 for free dimensions."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    dtype: type[np.generic]
    kinds: str

    @classmethod
    def from_onnx(cls, name: str, onnx_type: str, onnx_shape: list[Any]) -> "TensorSpec":
        """Build from an onnxruntime NodeArg; symbolic or unknown dimensions become -1."""
        if onnx_type not in _ONNX_TYPES:
            raise ValueError(f"tensor {name!r} has type {onnx_type}, which this server does not serve")
        datatype, dtype, kinds = _ONNX_TYPES[onnx_type]
        shape = tuple(dim if isinstance(dim, int) and dim >= 0 else -1 for dim in onnx_shape)
        return cls(name, datatype, shape, dtype, kinds)

    def metadata(self) -> MetadataTensor:
        """The V2 metadata entry (``name``, ``datatype``, ``shape``)."""
        return MetadataTensor(name=self.name, datatype=self.datatype, shape=list(self.shape))

    def describe(self) -> str:
        """Human-readable form for error messages, e.g. ``dense_input (FP32, shape [-1, 7])``."""
        return f"{self.name} ({self.datatype}, shape {list(self.shape)})"


def _check_shape(spec: TensorSpec, shape: list[int]) -> None:
    """Raise InferenceError unless ``shape`` fits ``spec`` (same rank, fixed dimensions equal, all >= 1)."""
    fits = len(shape) == len(spec.shape) and all(
        given >= 1 and expected in (-1, given) for given, expected in zip(shape, spec.shape, strict=True)
    )
    if not fits:
        raise InferenceError(f"input {spec.name!r} has shape {shape}, expected {list(spec.shape)} (-1: any size >= 1)")


def decode_tensor(spec: TensorSpec, datatype: str, shape: list[int], data: Any) -> np.ndarray:
    """Return ``data`` (flat or nested JSON values) as an array of the model's dtype; InferenceError on mismatch."""
    if datatype != spec.datatype:
        raise InferenceError(f"input {spec.name!r} has datatype {datatype}, expected {spec.datatype}")
    _check_shape(spec, shape)
    try:
        raw = np.asarray(data)
    except ValueError:
        raise InferenceError(f"input {spec.name!r}: data is not a regular array of numbers") from None
    if raw.dtype.kind not in spec.kinds:
        what = "booleans" if spec.kinds == "b" else "numbers"
        raise InferenceError(f"input {spec.name!r}: data must be {what} of datatype {spec.datatype}")
    expected_size = math.prod(shape)
    if raw.size != expected_size:
        raise InferenceError(f"input {spec.name!r}: shape {shape} needs {expected_size} values, data has {raw.size}")
    values = raw.reshape(shape)
    if raw.dtype != spec.dtype:  # JSON numbers, cast; binary data already has the model's type
        with np.errstate(over="ignore", invalid="ignore"):
            values = values.astype(spec.dtype)
        if values.dtype.kind in "iu" and not np.array_equal(values, raw.reshape(shape)):
            raise InferenceError(f"input {spec.name!r}: values out of {spec.datatype} range")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise InferenceError(
            f"input {spec.name!r}: data contains NaN or infinity (or values out of {spec.datatype} range)"
        )
    return values


def encode_output(spec: TensorSpec, values: np.ndarray) -> ResponseOutput:
    """Return the V2 response tensor for ``values`` (flat, row-major data)."""
    return ResponseOutput(
        name=spec.name, datatype=spec.datatype, shape=list(values.shape), data=values.ravel().tolist()
    )
