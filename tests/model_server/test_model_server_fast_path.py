"""The inference hot path (fast_infer) answers exactly as MLServer's REST path would, and speaks the V2 binary
tensor data extension (binary inputs, and binary outputs when asked); whatever it does not take is answered by
MLServer as before."""

import json

import numpy as np
import pytest
import requests
from support.model_server import V2ModelServer
from support.onnx_models import INPUT_NAME, NORMAL_TRANSACTION, OUTPUT_NAME, expected_probabilities

ROWS = np.random.default_rng(11).uniform(0, 20, size=(1000, 7)).astype(np.float32)


def binary_request(rows: np.ndarray, **request_fields: object) -> tuple[bytes, dict[str, str]]:
    """A V2 binary-extension request: JSON header (plus ``request_fields``), then the rows as little-endian FP32."""
    raw = rows.astype("<f4").tobytes()
    header = json.dumps({"inputs": [{"name": INPUT_NAME, "shape": list(rows.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}], **request_fields}).encode()
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


def binary_answer(response: requests.Response) -> tuple[dict[str, object], bytes]:
    """(JSON header, binary data after it) of an answer in the binary tensor form."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["inference-header-content-length"])
    return json.loads(response.content[:length]), response.content[length:]


@pytest.mark.parametrize(
    "request_fields",
    [{"parameters": {"binary_data_output": True}},
     {"outputs": [{"name": OUTPUT_NAME, "parameters": {"binary_data": True}}]}],
    ids=["binary_data_output", "output binary_data"],
)
def test_binary_outputs_when_asked(v2_model_server: V2ModelServer, request_fields: dict[str, object]) -> None:
    body, headers = binary_request(ROWS, id="bin", **request_fields)
    header, data = binary_answer(requests.post(v2_model_server.infer_url, data=body, headers=headers, timeout=10))
    assert header["id"] == "bin" and header["model_name"] == v2_model_server.model_name
    assert header["outputs"] == [{"name": OUTPUT_NAME, "shape": [1000, 1], "datatype": "FP32",
                                  "parameters": {"binary_data_size": 4000}}]
    np.testing.assert_allclose(np.frombuffer(data, dtype="<f4").reshape(1000, 1), expected_probabilities(ROWS),
                               atol=1e-6)


def test_a_json_request_can_ask_for_binary_outputs_and_false_means_json(v2_model_server: V2ModelServer) -> None:
    rows = ROWS[:3]
    request = {"inputs": [{"name": INPUT_NAME, "shape": [3, 7], "datatype": "FP32", "data": rows.ravel().tolist()}],
               "outputs": [{"name": OUTPUT_NAME, "parameters": {"binary_data": True}}]}
    header, data = binary_answer(requests.post(v2_model_server.infer_url, json=request, timeout=10))
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 12} and "data" not in header["outputs"][0]
    np.testing.assert_allclose(np.frombuffer(data, dtype="<f4").reshape(3, 1), expected_probabilities(rows), atol=1e-6)
    request["outputs"][0]["parameters"]["binary_data"] = False
    answer = requests.post(v2_model_server.infer_url, json=request, timeout=10)
    assert answer.headers["content-type"] == "application/json"
    assert "inference-header-content-length" not in answer.headers
    np.testing.assert_allclose(np.array(answer.json()["outputs"][0]["data"]).reshape(3, 1),
                               expected_probabilities(rows), atol=1e-6)


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


def test_the_registered_version_is_in_every_answer(s3_server, v2_model_file, tmp_path) -> None:
    """--model-version (the model_serving role passes the registered version): both paths say which version
    answered, the metadata lists it, and the versioned URL answers too."""
    from support.model_server import run_model_server, upload_model

    with run_model_server(s3_server.env, upload_model(s3_server, v2_model_file), tmp_path, extra_args=["--model-version", "7"]) as server:
        fast = {"id": "v", "inputs": [{"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32", "data": NORMAL_TRANSACTION}]}
        framework = {**fast, "inputs": [{**fast["inputs"][0], "shape": [1.0, 7.0]}]}
        versioned = server.infer_url.replace("/infer", "/versions/7/infer")
        answers = [requests.post(url, json=body, timeout=10) for url, body in ((server.infer_url, fast), (server.infer_url, framework), (versioned, fast))]
        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert [answer.json()["model_version"] for answer in answers] == ["7", "7", "7"]
        assert answers[0].headers.get("ce-modelversion") == answers[1].headers.get("ce-modelversion")
        metadata = requests.get(server.infer_url.removesuffix("/infer"), timeout=10).json()
        assert metadata["versions"] == ["7"]
