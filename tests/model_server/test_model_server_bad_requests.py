"""Bad inference requests get a 4xx with a readable V2 error, and the server keeps serving."""

import json

import numpy as np
import pytest
import requests
from support.model_server import V2ModelServer
from support.onnx_models import INPUT_NAME, NORMAL_TRANSACTION

ROW = NORMAL_TRANSACTION


def tensor(**overrides: object) -> bytes:
    """A request body with one input tensor, fields overridden."""
    request_input = {"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32", "data": ROW, **overrides}
    return json.dumps({"inputs": [request_input]}).encode()


BAD_REQUESTS = {
    "wrong input name": (tensor(name="features"), 400, "unknown input(s) ['features']"),
    "missing input": (b'{"inputs": []}', 400, "missing input(s) ['dense_input']"),
    "input given twice": (
        json.dumps({"inputs": [json.loads(tensor())["inputs"][0]] * 2}).encode(),
        400,
        "more than once",
    ),
    "wrong shape, too many columns": (tensor(shape=[1, 8], data=ROW + [1.0]), 400, "expected [-1, 7]"),
    "wrong shape, wrong rank": (tensor(shape=[7]), 400, "has shape [7]"),
    "shape and data disagree": (tensor(shape=[2, 7]), 400, "needs 14 values, data has 7"),
    "ragged rows": (tensor(shape=[2, 7], data=[ROW, ROW[:3]]), 400, "not a regular array"),
    "wrong datatype": (tensor(datatype="FP64"), 400, "datatype FP64, expected FP32"),
    "unknown datatype": (tensor(datatype="FLOAT"), 400, "inputs.0.datatype"),
    "NaN literal": (tensor().replace(b"[5.0", b"[NaN"), 400, "not valid JSON"),
    "infinity by overflow": (tensor().replace(b"[5.0", b"[1e999"), 400, "infinity"),
    "out of FP32 range": (tensor(data=[1e39] + ROW[1:]), 400, "NaN or infinity"),
    "strings": (tensor(data=["5.0"] + ROW[1:]), 400, "must be numbers"),
    "object as data": (tensor(data={"a": 1}), 400, "must be numbers"),
    "missing shape": (
        json.dumps({"inputs": [{"name": INPUT_NAME, "datatype": "FP32", "data": ROW}]}).encode(),
        400,
        "inputs.0.shape: Field required",
    ),
    "unknown output": (
        json.dumps({**json.loads(tensor()), "outputs": [{"name": "score"}]}).encode(),
        400,
        "unknown output(s) ['score']",
    ),
    "empty body": (b"", 400, "request body is empty"),
    "not JSON": (b"inputs=1", 400, "not valid JSON"),
    "JSON array": (b"[]", 400, "valid dictionary"),
    "10 MB body": (b'{"inputs": [' + b" " * 10_000_000 + b"]}", 413, "exceeds the limit"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_request_gets_a_readable_4xx(v2_model_server: V2ModelServer, case: str) -> None:
    body, status, fragment = BAD_REQUESTS[case]
    response = requests.post(
        v2_model_server.infer_url, data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]


def test_compressed_body_is_refused(v2_model_server: V2ModelServer) -> None:
    response = requests.post(
        v2_model_server.infer_url,
        data=tensor(),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert response.status_code == 415
    assert "gzip" in response.json()["error"]


def test_oversized_chunked_body_is_refused(v2_model_server: V2ModelServer) -> None:
    chunks = (b" " * 100_000 for _ in range(60))  # 6 MB without Content-Length
    response = requests.post(
        v2_model_server.infer_url, data=chunks, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 413


UNSAFE_IDS = {"non-ASCII": "txn-\u00e9t\u00e9", "CRLF": "txn\r\nX-Injected: yes"}


@pytest.mark.parametrize("request_id", UNSAFE_IDS.values(), ids=list(UNSAFE_IDS))
@pytest.mark.parametrize("route", ["fast path", "MLServer path", "binary"])
def test_a_request_id_that_cannot_be_echoed_in_a_header_gets_a_400(v2_model_server: V2ModelServer,
                                                                  request_id: str, route: str) -> None:
    """The id is echoed in the ce-id header: MLServer answered a non-ASCII one with a 500 and dropped the
    connection on CRLF. The model's infer route answers 400 naming it, whichever layer would have answered."""
    request_input = {"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32", "data": ROW}
    url, headers = v2_model_server.infer_url, {"Content-Type": "application/json"}
    if route == "MLServer path":
        request_input["shape"] = [1.0, 7.0]  # floats: the fast path leaves it to MLServer
    body = json.dumps({"id": request_id, "inputs": [request_input]}).encode()
    if route == "binary":
        raw = np.asarray([ROW], dtype="<f4").tobytes()
        request_input = {**request_input, "parameters": {"binary_data_size": len(raw)}}
        del request_input["data"]
        header = json.dumps({"id": request_id, "inputs": [request_input]}).encode()
        body = header + raw
        headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))}
    response = requests.post(url, data=body, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    assert "the request id must be printable ASCII" in response.json()["error"]
    assert "X-Injected" not in response.headers


def test_still_serving_after_bad_requests(v2_model_server: V2ModelServer) -> None:
    assert v2_model_server.process.poll() is None
    assert requests.get(f"{v2_model_server.base_url}/v2/health/ready", timeout=5).status_code == 200
    response = requests.post(
        v2_model_server.infer_url, data=tensor(), headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"][0] < 0.5
