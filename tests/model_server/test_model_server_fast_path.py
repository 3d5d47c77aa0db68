"""The inference hot path (fast_infer) answers exactly as MLServer's REST path would, and reads the V2 binary
tensor data extension; whatever it does not take is answered by MLServer as before."""

import json

import numpy as np
import pytest
import requests
from support.model_server import V2ModelServer
from support.onnx_models import INPUT_NAME, NORMAL_TRANSACTION, OUTPUT_NAME, expected_probabilities

ROWS = np.random.default_rng(11).uniform(0, 20, size=(1000, 7)).astype(np.float32)


def binary_request(rows: np.ndarray, **parameters: object) -> tuple[bytes, dict[str, str]]:
    """A V2 binary-extension request: JSON header, then the rows as little-endian FP32 bytes."""
    raw = rows.astype("<f4").tobytes()
    header = json.dumps({"inputs": [{"name": INPUT_NAME, "shape": list(rows.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw), **parameters}}]}).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header)),
                          "Content-Type": "application/octet-stream"}


def test_fast_and_framework_paths_give_the_same_answer(v2_model_server: V2ModelServer) -> None:
    fast = {"id": "same", "inputs": [{"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32",
                                      "data": NORMAL_TRANSACTION}]}
    framework = {**fast, "inputs": [{**fast["inputs"][0], "shape": [1.0, 7.0]}]}  # floats: left to MLServer
    answers = [requests.post(v2_model_server.infer_url, json=body, timeout=10) for body in (fast, framework)]
    assert [answer.status_code for answer in answers] == [200, 200]
    bodies = [answer.json() for answer in answers]
    assert bodies[0].keys() == bodies[1].keys() == {"model_name", "id", "parameters", "outputs"}
    assert bodies[0]["id"] == bodies[1]["id"] == "same"
    assert bodies[0]["outputs"][0]["data"] == pytest.approx(bodies[1]["outputs"][0]["data"], abs=1e-6)
    assert {key: value for key, value in bodies[0]["outputs"][0].items() if key != "data"} == {
        key: value for key, value in bodies[1]["outputs"][0].items() if key not in ("data", "parameters")}
    for answer in answers:
        assert answer.headers["ce-id"] == answer.headers["ce-requestid"] == "same"
        assert answer.headers["ce-modelid"] == v2_model_server.model_name
        assert answer.headers["content-type"] == "application/json"


def test_binary_batch_matches_the_json_answer(v2_model_server: V2ModelServer) -> None:
    body, headers = binary_request(ROWS)
    response = requests.post(v2_model_server.infer_url, data=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    output = response.json()["outputs"][0]
    assert output["name"] == OUTPUT_NAME and output["shape"] == [1000, 1]
    np.testing.assert_allclose(np.array(output["data"]).reshape(1000, 1), expected_probabilities(ROWS), atol=1e-6)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"header_length": "999999"}, "Inference-Header-Content-Length"),
        ({"header_length": "12"}, "not valid JSON"),
        ({"extra_bytes": b"\0" * 4}, "4 bytes of binary data belong to no input"),
        ({"missing_bytes": 4}, "declares 28000 bytes"),
        ({"size": 27999}, "multiple of its item size"),
        ({"shape": [1000, 8]}, "expected [-1, 7]"),
    ],
    ids=["header longer than body", "header cut", "extra bytes", "missing bytes", "odd size", "wrong shape"],
)
def test_bad_binary_requests_get_a_400_and_the_server_keeps_serving(
    v2_model_server: V2ModelServer, change: dict[str, object], fragment: str
) -> None:
    body, headers = binary_request(ROWS)
    header_length = int(headers["Inference-Header-Content-Length"])
    header = json.loads(body[:header_length])
    if "size" in change:
        header["inputs"][0]["parameters"]["binary_data_size"] = change["size"]
    if "shape" in change:
        header["inputs"][0]["shape"] = change["shape"]
    encoded = json.dumps(header).encode()
    raw = body[header_length:]
    raw = raw + change.get("extra_bytes", b"")
    raw = raw[: len(raw) - int(change.get("missing_bytes", 0))]
    headers["Inference-Header-Content-Length"] = str(change.get("header_length", len(encoded)))
    response = requests.post(v2_model_server.infer_url, data=encoded + raw, headers=headers, timeout=10)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert requests.get(f"{v2_model_server.base_url}/v2/health/ready", timeout=5).status_code == 200
