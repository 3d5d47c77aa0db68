"""`--workers N`: N server processes on the REST port, each with a listening socket its parent bound, which stops
them all on SIGTERM, and stops the rest (exiting non-zero, for its supervisor to restart) when one dies."""

import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests
from support.model_server import run_model_server, start_model_server, upload_model
from support.onnx_models import INPUT_NAME, NORMAL_TRANSACTION
from support.ports import LOOPBACK
from support.processes import listening_addresses, log_tail, stop_process_tree
from support.s3 import S3Server

WORKERS = ("--workers", "2")


def _infer(url: str) -> int:
    """One single-row request on a new connection; its status."""
    body = {"inputs": [{"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32", "data": NORMAL_TRANSACTION}]}
    return requests.post(url, json=body, timeout=10).status_code


def test_workers_share_the_port_and_stop_together_on_sigterm(
    s3_server: S3Server, v2_model_file: Path, tmp_path: Path
) -> None:
    storage_path = upload_model(s3_server, v2_model_file)
    with run_model_server(s3_server.env, storage_path, tmp_path, extra_args=WORKERS) as server:
        workers = psutil.Process(server.process.pid).children()
        assert len(workers) == 2, log_tail(server.log_file)
        port = int(server.base_url.rsplit(":", 1)[1])
        for worker in workers:  # each listens on the port
            assert listening_addresses(worker.pid) == {(LOOPBACK, port)}
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(_infer, [server.infer_url] * 200)) == {200}
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, log_tail(server.log_file)
        assert not any(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE for worker in workers)
    assert "2 workers serve the REST port" in server.log_file.read_text()


def test_a_dead_worker_takes_the_server_down_for_its_supervisor(
    s3_server: S3Server, v2_model_file: Path, tmp_path: Path
) -> None:
    storage_path = upload_model(s3_server, v2_model_file)
    with run_model_server(s3_server.env, storage_path, tmp_path, extra_args=WORKERS) as server:
        first, second = psutil.Process(server.process.pid).children()
        os.kill(first.pid, signal.SIGKILL)
        assert server.process.wait(timeout=30) != 0
        second.wait(timeout=10)
    assert f"worker {first.pid} exited with status -9: stopping the others" in server.log_file.read_text()


@pytest.mark.parametrize("reuse_port", [False, True], ids=["plain listener", "SO_REUSEPORT listener"])
def test_a_taken_port_fails_once_with_status_3(
    s3_server: S3Server, v2_model_file: Path, tmp_path: Path, reuse_port: bool
) -> None:
    """Taken by anything, also by a listener with SO_REUSEPORT (another --workers server), which must not be joined."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, int(reuse_port))
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = start_model_server(s3_server.env, upload_model(s3_server, v2_model_file), tmp_path,
                                    extra_args=(*WORKERS, "--http-port", str(port)))
        try:
            assert server.process.wait(timeout=60) == 3
        finally:
            stop_process_tree(server.process)
    log = server.log_file.read_text()
    assert f"cannot bind {LOOPBACK}:{port}" in log and "address already in use" in log.lower()
