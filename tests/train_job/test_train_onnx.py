"""ONNX export: the serving contract (input name, shape, type; one output), one self-contained file, parity."""

import numpy as np
import onnx
import pytest

from train_job.onnx_export import OnnxExportError, PARITY_TOLERANCE, check_contract, check_parity, onnx_predict, to_onnx
from train_job.training import predict


@pytest.fixture(scope="module")
def exported(trained) -> onnx.ModelProto:
    """The session's small model converted to ONNX."""
    return to_onnx(trained.model)


def test_input_and_output_contract(exported: onnx.ModelProto) -> None:
    """One input ``dense_input`` FP32 [batch, 7], one output ``probability`` FP32 [batch, 1]."""
    (graph_input,) = exported.graph.input
    (graph_output,) = exported.graph.output
    for value, name, width in ((graph_input, "dense_input", 7), (graph_output, "probability", 1)):
        tensor = value.type.tensor_type
        assert value.name == name
        assert tensor.elem_type == onnx.TensorProto.FLOAT
        assert [(dim.dim_param, dim.dim_value) for dim in tensor.shape.dim] == [("batch", 0), ("", width)]


def test_model_is_one_self_contained_file(exported: onnx.ModelProto, tmp_path) -> None:
    """Every weight is embedded: no initializer points at external data; a saved copy loads by itself."""
    assert all(tensor.data_location != onnx.TensorProto.EXTERNAL for tensor in exported.graph.initializer)
    path = tmp_path / "model.onnx"
    path.write_bytes(exported.SerializeToString())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    onnx.checker.check_model(onnx.load(str(path)))


def test_parity_with_keras_on_held_out_rows(trained, exported: onnx.ModelProto) -> None:
    """onnxruntime matches Keras within 1e-4 on every test row, including a batch of one."""
    features = trained.split.test.features
    keras_probabilities = predict(trained.model, features)
    difference = check_parity(exported, features, keras_probabilities)
    assert difference < PARITY_TOLERANCE
    assert onnx_predict(exported, features[:1]).shape == (1,)


def test_parity_failure_fails_loudly(trained, exported: onnx.ModelProto) -> None:
    """A disagreement at the tolerance raises with the measured difference and the row count."""
    features = trained.split.test.features[:100]
    shifted = predict(trained.model, features) + np.float32(2e-4)
    with pytest.raises(OnnxExportError, match=r"differ by 0\.000[12]\d* on 100 held-out rows \(limit 0\.0001\)"):
        check_parity(exported, features, shifted)


def test_contract_check_names_a_wrong_input(exported: onnx.ModelProto) -> None:
    """A graph whose input was renamed is refused, naming what it found."""
    renamed = onnx.ModelProto()
    renamed.CopyFrom(exported)
    old = renamed.graph.input[0].name
    renamed.graph.input[0].name = "input_1"
    for node in renamed.graph.node:
        node.input[:] = ["input_1" if name == old else name for name in node.input]
    with pytest.raises(OnnxExportError, match=r"expected input \[dense_input\] and output \[probability\], got "
                                              r"inputs \['input_1'\]"):
        check_contract(renamed, 7)
    with pytest.raises(OnnxExportError, match=r"dense_input: expected FP32 \[batch, 8\]"):
        check_contract(exported, 8)
