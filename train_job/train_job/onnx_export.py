"""Convert the Keras model to one self-contained ONNX graph and prove it computes what Keras computes."""

from __future__ import annotations

import keras
import numpy as np
import onnx
import onnxruntime
import tensorflow as tf
import tf2onnx

from .model import INPUT_NAME, OUTPUT_NAME

OPSET = 17
"""ONNX opset: supported by tf2onnx 1.17, onnxruntime, OpenVINO Model Server and MLServer's onnxruntime."""

PARITY_TOLERANCE = 1e-4
"""Largest allowed absolute difference between onnxruntime and Keras probabilities."""

BATCH_DIMENSION = "batch"


class OnnxExportError(RuntimeError):
    """The ONNX graph is not the serving contract, or it disagrees with the Keras model."""


def to_onnx(model: keras.Model) -> onnx.ModelProto:
    """Convert ``model`` with an explicit input signature: input ``dense_input`` [batch, n] FP32, one output.

    Weights are embedded in the graph (no external ``.data`` file); `check_contract` is applied.
    """
    features = int(model.input_shape[-1])
    signature = [tf.TensorSpec([None, features], tf.float32, name=INPUT_NAME)]
    proto, external_storage = tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET)
    if external_storage is not None:
        raise OnnxExportError("tf2onnx produced external tensor storage; the model must be one file")
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIMENSION
    check_contract(proto, features)
    return proto


def check_contract(proto: onnx.ModelProto, features: int) -> None:
    """Raise `OnnxExportError` unless the graph has one input ``dense_input`` of shape [batch, features] FP32
    and one output ``probability`` of shape [batch, 1] FP32."""
    onnx.checker.check_model(proto)
    inputs, outputs = list(proto.graph.input), list(proto.graph.output)
    if [value.name for value in inputs] != [INPUT_NAME] or [value.name for value in outputs] != [OUTPUT_NAME]:
        raise OnnxExportError(f"expected input [{INPUT_NAME}] and output [{OUTPUT_NAME}], got inputs "
                              f"{[value.name for value in inputs]} and outputs {[value.name for value in outputs]}")
    for value, width in ((inputs[0], features), (outputs[0], 1)):
        tensor = value.type.tensor_type
        dims = [dim.dim_param or dim.dim_value for dim in tensor.shape.dim]
        if tensor.elem_type != onnx.TensorProto.FLOAT or dims != [BATCH_DIMENSION, width]:
            raise OnnxExportError(f"{value.name}: expected FP32 [{BATCH_DIMENSION}, {width}], got element type "
                                  f"{onnx.TensorProto.DataType.Name(tensor.elem_type)} shape {dims}")


def onnx_predict(proto: onnx.ModelProto, features: np.ndarray) -> np.ndarray:
    """Return onnxruntime's probabilities for ``features`` (float32 rows) as a flat array."""
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {INPUT_NAME: np.ascontiguousarray(features, dtype=np.float32)})
    return np.asarray(probabilities).reshape(-1)


def check_parity(proto: onnx.ModelProto, features: np.ndarray, keras_probabilities: np.ndarray,
                 tolerance: float = PARITY_TOLERANCE) -> float:
    """Return the max absolute onnxruntime-vs-Keras difference on ``features``; raise if it reaches ``tolerance``."""
    difference = float(np.max(np.abs(onnx_predict(proto, features) - keras_probabilities.reshape(-1))))
    if not difference < tolerance:
        raise OnnxExportError(f"ONNX parity check failed: onnxruntime and Keras differ by {difference:.3g} "
                              f"on {len(features)} held-out rows (limit {tolerance:g})")
    return difference
