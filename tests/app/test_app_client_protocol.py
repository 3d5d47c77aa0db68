"""The V2 client's reading of metadata and answers, and its failures without a model server behind it:
a refused connection, a server that never answers, and the bearer token it sends."""

import time
from pathlib import Path

import pytest
from fraud_app.client import (
    EndpointTimeoutError,
    EndpointUnreachableError,
    InputSignature,
    MalformedResponseError,
    V2Client,
    parse_probabilities,
    parse_signature,
)
from fraud_app.ui import FraudApp
from self_signed import ServerCertificate
from silent_server import SilentServer

ROW = [2.0, 0.5, 0.9, 1.0, 1.0, 1.0, 0.0]


def _metadata(**input_fields: object) -> dict[str, object]:
    return {"name": "m", "inputs": [{"name": "dense_input", "datatype": "FP32", "shape": [-1, 7], **input_fields}]}


def test_signature_is_read_from_metadata() -> None:
    assert parse_signature(_metadata(name="x", datatype="FP64", shape=[1, 7]), "m") == InputSignature(
        "x", "FP64", (1, 7))
    assert InputSignature("x", "FP32", (1, 7)).rows_per_request == 1


@pytest.mark.parametrize(("metadata", "message"), [
    ({"name": "m"}, "lists no inputs"),
    ({"inputs": [{"name": "a"}, {"name": "b"}]}, "takes 2 inputs ['a', 'b']"),
    (_metadata(datatype="BYTES"), "datatype 'BYTES'"),
    (_metadata(shape=[-1, 5]), "shape [-1, 5]"),
    (_metadata(shape=[7]), "shape [7]"),
    (_metadata(name=""), "without name or shape"),
    ("not an object", "lists no inputs"),
])
def test_unusable_metadata_is_explained(metadata: object, message: str) -> None:
    with pytest.raises(MalformedResponseError) as raised:
        parse_signature(metadata, "m")
    assert message in str(raised.value)


def test_probabilities_are_read_flat_or_nested() -> None:
    assert parse_probabilities({"outputs": [{"data": [0.25, 1]}]}, 2) == [0.25, 1.0]
    assert parse_probabilities({"outputs": [{"data": [[0.25], [0.5]]}]}, 2) == [0.25, 0.5]


@pytest.mark.parametrize(("body", "message"), [
    ({"error": "boom"}, "has no outputs"),
    ({"outputs": []}, "has no outputs"),
    ({"outputs": [{"data": [0.1, 0.2]}]}, "answered 2 values for 1 rows"),
    ({"outputs": [{"data": ["0.1"]}]}, "answered '0.1', which is not a probability"),
    ({"outputs": [{"data": [1.5]}]}, "answered 1.5, which is not a probability"),
    ({"outputs": [{"data": [float("nan")]}]}, "answered nan"),
])
def test_malformed_answers_are_explained(body: object, message: str) -> None:
    with pytest.raises(MalformedResponseError) as raised:
        parse_probabilities(body, 1)
    assert message in str(raised.value)


def test_server_down_is_a_readable_error(closed_port_url: str) -> None:
    with V2Client(closed_port_url, "credit-card-fraud") as client:
        with pytest.raises(EndpointUnreachableError) as raised:
            client.predict([ROW])
        status = client.status()
    assert f"Cannot reach the model server at {closed_port_url}/v2/models/credit-card-fraud" in str(raised.value)
    assert "refused" in str(raised.value)
    assert not status.ready and "Cannot reach" in status.message


def test_timeout_is_a_readable_error_and_bounded(silent_server: SilentServer) -> None:
    signature = InputSignature("dense_input", "FP32", (-1, 7))
    with V2Client(silent_server.url, "credit-card-fraud", timeout_s=0.5) as client:
        started = time.monotonic()
        with pytest.raises(EndpointTimeoutError, match=r"did not answer within 0.5 s \(POST .*/infer\)"):
            client.predict([ROW], signature)
    assert time.monotonic() - started < 3


def test_bearer_token_is_sent_only_when_set(silent_server: SilentServer) -> None:
    for token in ("s3cr3t-token", None):
        client = V2Client(silent_server.url, "credit-card-fraud", token=token, timeout_s=0.3)
        with client, pytest.raises(EndpointTimeoutError):
            client.read_signature()
    with_token, without_token = (request.lower() for request in silent_server.requests)
    assert b"\r\nauthorization: bearer s3cr3t-token\r\n" in with_token
    assert b"authorization" not in without_token


def test_tls_is_verified_by_default_and_the_ca_bundle_is_trusted(
    silent_tls_server: SilentServer, server_certificate: ServerCertificate
) -> None:
    client = V2Client(silent_tls_server.url, "credit-card-fraud", timeout_s=0.5)
    with client, pytest.raises(EndpointUnreachableError, match="CERTIFICATE_VERIFY_FAILED"):
        client.read_signature()
    client = V2Client(silent_tls_server.url, "credit-card-fraud", ca_bundle=str(server_certificate.ca), timeout_s=0.5)
    with client, pytest.raises(EndpointTimeoutError):  # the handshake passed; the silent server never answers
        client.read_signature()
    assert silent_tls_server.requests[-1].startswith(b"GET /v2/models/credit-card-fraud HTTP/1.1\r\n")


def test_page_handlers_turn_failures_into_messages(closed_port_url: str, tmp_path: Path) -> None:
    with V2Client(closed_port_url, "credit-card-fraud") as client:
        app = FraudApp(client, 0.995, tmp_path)
        verdict, status = app.check_transaction(2.0, 0.5, 0.9, "Yes", "Yes", "Yes", "No")
        bad_input, _ = app.check_transaction(None, 0.5, 0.9, "Yes", "Yes", "Yes", "No")
    assert "Could not check the transaction. Cannot reach the model server" in verdict
    assert "Traceback" not in verdict and "Not ready" in status
    assert "Distance from home is required." in bad_input
