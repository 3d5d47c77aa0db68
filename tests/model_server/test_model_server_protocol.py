"""The V2 model server answers the KServe V2 REST protocol as ModelMesh does, with the model pulled from S3."""

import numpy as np
import requests
from support.model_server import V2ModelServer
from support.onnx_models import (
    FRAUDULENT_TRANSACTION,
    INPUT_NAME,
    NORMAL_TRANSACTION,
    OUTPUT_NAME,
    expected_probabilities,
)
from support.processes import listening_addresses


def infer(server: V2ModelServer, rows: list[list[float]], **extra: object) -> requests.Response:
    """POST one FP32 [n, 7] tensor (nested rows) to the infer endpoint."""
    body = {"inputs": [{"name": INPUT_NAME, "shape": [len(rows), 7], "datatype": "FP32", "data": rows}], **extra}
    return requests.post(server.infer_url, json=body, timeout=10)


def test_health_endpoints(v2_model_server: V2ModelServer) -> None:
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{v2_model_server.model_name}/ready"):
        assert requests.get(v2_model_server.base_url + path, timeout=5).status_code == 200, path


def test_metadata_comes_from_the_onnx_graph(v2_model_server: V2ModelServer) -> None:
    metadata = requests.get(v2_model_server.model_url, timeout=5).json()
    assert metadata["name"] == "credit-card-fraud"
    assert metadata["inputs"] == [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, 7]}]
    assert metadata["outputs"] == [{"name": OUTPUT_NAME, "datatype": "FP32", "shape": [-1, 1]}]


def test_single_rows_get_the_expected_labels(v2_model_server: V2ModelServer) -> None:
    fraud = infer(v2_model_server, [FRAUDULENT_TRANSACTION]).json()
    normal = infer(v2_model_server, [NORMAL_TRANSACTION]).json()
    assert fraud["model_name"] == "credit-card-fraud"
    assert fraud["outputs"][0]["name"] == OUTPUT_NAME
    assert fraud["outputs"][0]["shape"] == [1, 1]
    assert fraud["outputs"][0]["datatype"] == "FP32"
    assert fraud["outputs"][0]["data"][0] > 0.995
    assert normal["outputs"][0]["data"][0] < 0.5


def test_request_without_id_gets_one_and_a_given_id_is_echoed(v2_model_server: V2ModelServer) -> None:
    generated = infer(v2_model_server, [NORMAL_TRANSACTION])
    assert generated.status_code == 200
    assert generated.json()["id"]
    assert infer(v2_model_server, [NORMAL_TRANSACTION], id="txn-42").json()["id"] == "txn-42"


def test_batch_of_1000_rows_matches_onnx_semantics(v2_model_server: V2ModelServer) -> None:
    rows = np.random.default_rng(7).uniform(0, 20, size=(1000, 7)).astype(np.float32)
    response = infer(v2_model_server, rows.tolist())
    assert response.status_code == 200, response.text
    output = response.json()["outputs"][0]
    assert output["shape"] == [1000, 1]
    np.testing.assert_allclose(np.array(output["data"]).reshape(1000, 1), expected_probabilities(rows), atol=1e-6)


def test_flat_row_major_data_is_accepted(v2_model_server: V2ModelServer) -> None:
    body = {
        "inputs": [
            {
                "name": INPUT_NAME,
                "shape": [2, 7],
                "datatype": "FP32",
                "data": FRAUDULENT_TRANSACTION + NORMAL_TRANSACTION,
            }
        ],
        "outputs": [{"name": OUTPUT_NAME}],
    }
    data = requests.post(v2_model_server.infer_url, json=body, timeout=10).json()["outputs"][0]["data"]
    assert data[0] > 0.995
    assert data[1] < 0.5


def test_unknown_model_is_404_with_a_v2_error(v2_model_server: V2ModelServer) -> None:
    response = requests.get(f"{v2_model_server.base_url}/v2/models/no-such-model", timeout=5)
    assert response.status_code == 404
    assert "no-such-model" in response.json()["error"]


def test_the_served_model_cannot_be_unloaded_or_replaced(v2_model_server: V2ModelServer) -> None:
    repository = f"{v2_model_server.base_url}/v2/repository/models/{v2_model_server.model_name}"
    for action in ("unload", "load"):
        response = requests.post(f"{repository}/{action}", timeout=5)
        assert response.status_code == 403
        assert f"cannot {action} 'credit-card-fraud'" in response.json()["error"]
    assert requests.get(f"{v2_model_server.model_url}/ready", timeout=5).status_code == 200


def test_listens_on_loopback_only(v2_model_server: V2ModelServer) -> None:
    listeners = listening_addresses(v2_model_server.process.pid)
    port = int(v2_model_server.base_url.rsplit(":", 1)[1])
    assert listeners == {("127.0.0.1", port)}
