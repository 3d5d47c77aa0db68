"""A genuine small ONNX model shaped like the demo's fraud model, for tests that need one before training runs.

Logistic regression over the seven card-transaction features: input ``dense_input`` FP32 [batch, 7], output
``fraud_probability`` FP32 [batch, 1] = sigmoid(x @ WEIGHTS + BIAS).
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_NAME = "dense_input"
OUTPUT_NAME = "fraud_probability"
FEATURES = (
    "distance_from_home",
    "distance_from_last_transaction",
    "ratio_to_median_purchase_price",
    "repeat_retailer",
    "used_chip",
    "used_pin_number",
    "online_order",
)
# Far from home, far from the last transaction, far above the usual amount and online push the score up;
# a known retailer, the chip and the PIN pull it down.
WEIGHTS = np.array([[0.03], [0.05], [1.2], [-0.5], [-1.0], [-2.0], [1.5]], dtype=np.float32)
BIAS = np.array([-6.0], dtype=np.float32)

FRAUDULENT_TRANSACTION = [120.0, 15.0, 6.5, 0.0, 0.0, 0.0, 1.0]
NORMAL_TRANSACTION = [5.0, 0.5, 0.9, 1.0, 1.0, 1.0, 0.0]

OPSET = 17
IR_VERSION = 9


def logistic_model(weights: np.ndarray = WEIGHTS, bias: np.ndarray = BIAS,
                   input_name: str = INPUT_NAME, output_name: str = OUTPUT_NAME) -> onnx.ModelProto:
    """Build and check the logistic fraud model (other weights, bias or input name: a different model)."""
    graph = helper.make_graph(
        nodes=[
            helper.make_node("MatMul", [input_name, "weights"], ["logit_raw"]),
            helper.make_node("Add", ["logit_raw", "bias"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], [output_name]),
        ],
        name="logistic_fraud",
        inputs=[helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", len(FEATURES)])],
        outputs=[helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", 1])],
        initializer=[numpy_helper.from_array(np.asarray(weights, dtype=np.float32), "weights"),
                     numpy_helper.from_array(np.asarray(bias, dtype=np.float32), "bias")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION, producer_name="fraud-demo-tests"
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def write_logistic_model(path: Path, model: onnx.ModelProto | None = None) -> Path:
    """Write the logistic fraud model (or ``model``) to ``path`` (a ``model.onnx`` file) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model or logistic_model(), path)
    return path


def constant_model(output_name: str = OUTPUT_NAME) -> onnx.ModelProto:
    """A model of the same shape that scores every transaction 0.5: it loads and answers, and tells nothing apart
    (``output_name="probability"``: the trained model's output, so that a server takes it as a new version)."""
    return logistic_model(np.zeros_like(WEIGHTS), np.zeros_like(BIAS), output_name=output_name)


def expected_probabilities(rows: np.ndarray) -> np.ndarray:
    """Compute the model's output for ``rows`` ([n, 7]) with numpy, as an [n, 1] float32 array."""
    logits = rows.astype(np.float32) @ WEIGHTS + BIAS
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
