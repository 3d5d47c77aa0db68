"""Idle and slow clients cannot stop the server from answering (connections.py): a flood of idle connections
beyond the descriptor limit, and a client that sends its headers a byte at a time, bounded on loopback.

Before, uvicorn kept a connection that never completed a request for ever: idle connections took every
descriptor (20,000 on the default limit) and no request was served while they were held."""

import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from support.model_server import V2ModelServer, run_model_server, upload_model
from support.onnx_models import INPUT_NAME, NORMAL_TRANSACTION
from support.ports import LOOPBACK
from support.s3 import S3Server

# The server gets a descriptor limit of FD_LIMIT (so the flood is small) and a short header deadline.
FD_LIMIT = 256
HEADER_TIMEOUT_S = 2
IDLE_CONNECTIONS = 2 * FD_LIMIT


@pytest.fixture(scope="module")
def bounded_server(s3_server: S3Server, v2_model_file: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[V2ModelServer]:
    """The model server started with a soft descriptor limit of FD_LIMIT (inherited from this process for the
    moment of the start) and --header-timeout HEADER_TIMEOUT_S."""
    storage_path = upload_model(s3_server, v2_model_file)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, hard))
    try:
        servers = run_model_server(s3_server.env, storage_path, tmp_path_factory.mktemp("bounded"),
                                   extra_args=("--header-timeout", str(HEADER_TIMEOUT_S)))
        server = servers.__enter__()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield server
    finally:
        servers.__exit__(None, None, None)


def infer(server: V2ModelServer) -> int:
    body = {"inputs": [{"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32", "data": NORMAL_TRANSACTION}]}
    return requests.post(server.infer_url, json=body, timeout=10).status_code


def test_requests_are_answered_while_idle_connections_exceed_the_descriptor_limit(
        bounded_server: V2ModelServer) -> None:
    port = int(bounded_server.base_url.rsplit(":", 1)[1])
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection((LOOPBACK, port), timeout=5))
        # every idle connection is still open on this side; the server closed the oldest to stay in bounds
        assert [infer(bounded_server) for _ in range(20)] == [200] * 20
        assert psutil.Process(bounded_server.process.pid).num_fds() < FD_LIMIT
    finally:
        for connection in idle:
            connection.close()
    assert infer(bounded_server) == 200


def test_a_client_sending_its_headers_a_byte_at_a_time_is_cut_off(bounded_server: V2ModelServer) -> None:
    port = int(bounded_server.base_url.rsplit(":", 1)[1])
    request = f"POST /v2/models/{bounded_server.model_name}/infer HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode()
    with socket.create_connection((LOOPBACK, port), timeout=5) as slow:
        slow.sendall(request)
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < HEADER_TIMEOUT_S + 8:
            try:
                slow.sendall(b"a")
                slow.settimeout(0.5)
                if slow.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed, "the slow client still held its connection"
    assert infer(bounded_server) == 200
