"""The V2 client against the real local model server (MLServer + onnxruntime, `v2_model_server`)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import psutil
import pytest
from fraud_app.client import MAX_ROWS_PER_REQUEST, EndpointHTTPError, InputSignature, V2Client
from support.model_server import V2ModelServer, model_is_ready, run_model_server, start_model_server, upload_model
from support.onnx_models import (
    FRAUDULENT_TRANSACTION,
    NORMAL_TRANSACTION,
    expected_probabilities,
    logistic_model,
    write_logistic_model,
)
from support.processes import stop_process_tree, wait_until_ready
from support.s3 import S3Server

LEARNED = InputSignature("dense_input", "FP32", (-1, 7))


def test_status_reports_the_learned_input(v2_model_server: V2ModelServer) -> None:
    with V2Client(v2_model_server.base_url, v2_model_server.model_name) as client:
        status = client.status()
    assert status.ready and status.signature == LEARNED
    assert status.message == "Model 'credit-card-fraud' is ready; input dense_input FP32 [-1, 7]."


def test_probabilities_are_the_models(v2_model_server: V2ModelServer) -> None:
    rows = [FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION]
    with V2Client(v2_model_server.base_url, v2_model_server.model_name) as client:
        prediction = client.predict(rows)
        assert client.signature == LEARNED
    assert prediction.probabilities == pytest.approx(expected_probabilities(np.array(rows)).ravel(), abs=1e-6)
    assert prediction.probabilities[0] > 0.995 > prediction.probabilities[1]
    assert 0 < prediction.round_trip_s < 5


def test_a_large_batch_is_split_into_requests(v2_model_server: V2ModelServer) -> None:
    rows = np.random.default_rng(7).uniform(0, 20, size=(2 * MAX_ROWS_PER_REQUEST + 3, 7)).round(3)
    rows[:, 3:] = rows[:, 3:] > 10
    with V2Client(v2_model_server.base_url, v2_model_server.model_name) as client:
        prediction = client.predict(rows.tolist())
    assert prediction.probabilities == pytest.approx(expected_probabilities(rows).ravel(), abs=1e-6)


def test_wrong_input_name_is_reported_with_the_servers_reason(v2_model_server: V2ModelServer) -> None:
    wrong = InputSignature("wrong_input", "FP32", (-1, 7))
    client = V2Client(v2_model_server.base_url, v2_model_server.model_name)
    with client, pytest.raises(EndpointHTTPError) as raised:
        client.predict([NORMAL_TRANSACTION], wrong)
    assert raised.value.status_code == 400
    message = str(raised.value)
    assert message.startswith(f"The model server answered HTTP 400 to POST {v2_model_server.infer_url}: ")
    assert "wrong_input" in message and "dense_input" in message


def test_unknown_model_is_reported(v2_model_server: V2ModelServer) -> None:
    with V2Client(v2_model_server.base_url, "no-such-model") as client:
        status = client.status()
        with pytest.raises(EndpointHTTPError) as raised:
            client.predict([NORMAL_TRANSACTION])
    assert raised.value.status_code == 404
    assert not status.ready and "HTTP 404 to GET" in status.message and "no-such-model" in status.message


def test_a_model_redeployed_with_another_input_name_is_relearned(s3_server: S3Server, tmp_path: Path) -> None:
    """The endpoint first serves the model with input `dense_input`, then, redeployed on the same port, with input
    `transaction`: the client's next call gets a 400, reads the metadata again and retries once."""
    renamed = logistic_model()
    for node in renamed.graph.node:
        node.input[:] = ["transaction" if name == "dense_input" else name for name in node.input]
    renamed.graph.input[0].name = "transaction"
    (tmp_path / "renamed").mkdir()
    onnx.save_model(renamed, tmp_path / "renamed" / "model.onnx")
    original_path = upload_model(s3_server, write_logistic_model(tmp_path / "original" / "model.onnx"))
    renamed_path = upload_model(s3_server, tmp_path / "renamed" / "model.onnx")

    with run_model_server(s3_server.env, original_path, tmp_path / "first") as first:
        client = V2Client(first.base_url, first.model_name)
        assert client.predict([FRAUDULENT_TRANSACTION]).probabilities[0] > 0.995
        assert client.signature == LEARNED
    port = first.base_url.rsplit(":", 1)[1]
    # the helper picks a free port; a later --http-port wins (argparse), so the redeploy keeps the endpoint
    second = start_model_server(s3_server.env, renamed_path, tmp_path / "second", extra_args=["--http-port", port])
    try:
        redeployed = replace(second, base_url=first.base_url)
        wait_until_ready(second.process, lambda: model_is_ready(redeployed), "redeployed server", second.log_file)
        assert client.signature == LEARNED  # stale now
        with client:
            prediction = client.predict([FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION])
            assert client.signature == InputSignature("transaction", "FP32", (-1, 7))
    finally:
        stop_process_tree(second.process)
    expected = expected_probabilities(np.array([FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION])).ravel()
    assert prediction.probabilities == pytest.approx(expected, abs=1e-6)


def test_the_client_reuses_one_connection(v2_model_server: V2ModelServer) -> None:
    port = int(v2_model_server.base_url.rsplit(":", 1)[1])

    def local_ports() -> set[int]:
        """Local ports of this process's open connections to the model server."""
        return {c.laddr.port for c in psutil.Process().net_connections(kind="tcp")
                if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED}

    with V2Client(v2_model_server.base_url, v2_model_server.model_name) as client:
        client.predict([NORMAL_TRANSACTION])
        first = local_ports()
        for _ in range(20):
            client.predict([FRAUDULENT_TRANSACTION])
        client.status()
        assert local_ports() == first and len(first) == 1
    assert local_ports() == set()


def test_the_answering_version_reaches_the_page(s3_server: S3Server, tmp_path: Path) -> None:
    """A server started with the registered version names it in its answers; the verdict shows it (escaped)."""
    from fraud_app.ui import _verdict_html

    model = write_logistic_model(tmp_path / "model.onnx")
    with run_model_server(s3_server.env, upload_model(s3_server, model), tmp_path / "work", extra_args=["--model-version", "12"]) as server, \
            V2Client(server.base_url, server.model_name) as client:
        prediction = client.predict([FRAUDULENT_TRANSACTION])
    assert prediction.model_version == "12"
    assert "model version 12" in _verdict_html(prediction.probabilities[0], 0.5, prediction.round_trip_s, prediction.model_version)
    assert "model version &lt;b&gt;" in _verdict_html(0.1, 0.5, 0.01, "<b>")
    assert "model version" not in _verdict_html(0.1, 0.5, 0.01, None)
