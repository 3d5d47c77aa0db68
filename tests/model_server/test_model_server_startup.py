"""Start-up of the V2 model server: clear failures for a missing model, wrong keys and bad options."""

import hashlib
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests
from support.model_server import SERVING_PYTHON, model_is_ready, start_model_server, upload_model
from support.ports import LOOPBACK, free_port
from support.processes import listening_addresses, log_tail, stop_process_tree, wait_until_ready
from support.s3 import S3Server


def exit_status_and_log(
    s3_env: dict[str, str], storage_path: str, workdir: Path, extra_args: tuple[str, ...] = (), timeout_s: float = 90
) -> tuple[int, str]:
    """Run the server until it exits by itself; return its exit status and log."""
    server = start_model_server(s3_env, storage_path, workdir, extra_args=extra_args)
    try:
        status = server.process.wait(timeout=timeout_s)
    finally:
        stop_process_tree(server.process)
    return status, server.log_file.read_text()


def test_missing_model_file_fails_naming_the_path(s3_server: S3Server, tmp_path: Path) -> None:
    status, log = exit_status_and_log(s3_server.env, "models/never-uploaded", tmp_path)
    assert status == 1
    assert f"s3://{s3_server.bucket}/models/never-uploaded/model.onnx does not exist" in log


def test_wrong_keys_fail_without_leaking_them(s3_server: S3Server, v2_model_file: Path, tmp_path: Path) -> None:
    folder = upload_model(s3_server, v2_model_file)
    wrong = {**s3_server.env, "AWS_SECRET_ACCESS_KEY": "wrong-secret-value-0123456789"}
    status, log = exit_status_and_log(wrong, folder, tmp_path)
    assert status == 1
    assert f"access to s3://{s3_server.bucket}/{folder}/model.onnx" in log
    assert "denied for the data connection's keys" in log
    assert "wrong-secret-value-0123456789" not in log


def test_file_that_is_not_onnx_fails_naming_it(s3_server: S3Server, tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    folder = upload_model(s3_server, junk)
    status, log = exit_status_and_log(s3_server.env, folder, tmp_path / "run")
    assert status == 1
    assert "model.onnx as an ONNX model" in log


def test_a_model_file_with_another_digest_is_refused_naming_both(s3_server: S3Server, v2_model_file: Path,
                                                                  tmp_path: Path) -> None:
    """--expected-sha256 (the registered version's model_sha256): a file in the bucket that is not the registered
    model (replaced there) is refused, both digests named, and nothing is left to serve; the right digest serves."""
    folder = upload_model(s3_server, v2_model_file)
    actual = hashlib.sha256(v2_model_file.read_bytes()).hexdigest()
    registered = hashlib.sha256(b"the registered model").hexdigest()
    status, log = exit_status_and_log(s3_server.env, folder, tmp_path / "wrong",
                                      extra_args=("--expected-sha256", registered.upper()))
    assert status == 1, log
    assert f"model.onnx at {s3_server.env['AWS_S3_ENDPOINT']} has SHA-256 {actual}, not {registered}" in log
    assert not any((tmp_path / "wrong" / "model").iterdir())
    server = start_model_server(s3_server.env, folder, tmp_path / "right", extra_args=("--expected-sha256", actual))
    try:
        wait_until_ready(server.process, lambda: model_is_ready(server), "V2 model server", server.log_file, 90)
    finally:
        stop_process_tree(server.process)


@pytest.mark.parametrize("option", ["--http-port", "--grpc-port"])
def test_port_in_use_fails_naming_the_address(
    s3_server: S3Server, v2_model_file: Path, tmp_path: Path, option: str
) -> None:
    folder = upload_model(s3_server, v2_model_file)
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, log = exit_status_and_log(s3_server.env, folder, tmp_path, extra_args=(option, str(port)))
    assert status == 3
    assert str(port) in log
    assert "address already in use" in log.lower() or "failed to bind" in log.lower()


def test_data_connection_file_s3_uri_grpc_and_clean_stop(
    s3_server: S3Server, v2_model_file: Path, tmp_path: Path
) -> None:
    folder = upload_model(s3_server, v2_model_file)
    env_file = tmp_path / "data-connection.env"
    env_file.write_text("# data connection\n" + "".join(f"{key}={value}\n" for key, value in s3_server.env.items()))
    env_file.chmod(0o600)
    grpc_port = free_port()
    server = start_model_server(
        {},  # no AWS_* in the environment: everything comes from the file
        f"s3://{s3_server.bucket}/{folder}",
        tmp_path,
        model_name="fraud-v2",
        extra_args=["--data-connection-file", str(env_file), "--grpc-port", str(grpc_port)],
    )
    try:
        wait_until_ready(server.process, lambda: model_is_ready(server), "V2 model server", server.log_file, 90)
        http_port = int(server.base_url.rsplit(":", 1)[1])
        assert listening_addresses(server.process.pid) == {("127.0.0.1", http_port), ("127.0.0.1", grpc_port)}
        assert requests.get(server.model_url, timeout=5).json()["name"] == "fraud-v2"
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0, log_tail(server.log_file)
    finally:
        stop_process_tree(server.process)
    assert s3_server.secret_access_key not in server.log_file.read_text()


BAD_OPTIONS = {
    "public host": (["--host", "0.0.0.0"], {}, "not a loopback address"),
    "port zero": (["--http-port", "0"], {}, "invalid port '0'"),
    "port not a number": (["--http-port", "80a"], {}, "invalid port '80a'"),
    "grpc on the http port": (["--http-port", "9000", "--grpc-port", "9000"], {}, "both 9000"),
    "no model name": ([], {}, "the following arguments are required: --model-name"),
    "model name with a slash": (["--model-name", "fraud/v2"], {}, "invalid model name 'fraud/v2'"),
    "path escaping the bucket": (["--storage-path", "models/../../etc"], {}, "no '.' or '..'"),
    "foreign URI scheme": (["--storage-path", "gs://bucket/models"], {}, "only s3:// URIs"),
    "missing endpoint": ([], {"AWS_S3_ENDPOINT": ""}, "AWS_S3_ENDPOINT not set"),
    "endpoint without scheme": ([], {"AWS_S3_ENDPOINT": "127.0.0.1:8333"}, "must be an http(s) URL"),
    "no bucket for a relative path": ([], {"AWS_S3_BUCKET": ""}, "AWS_S3_BUCKET is not set"),
    "missing CA bundle": (["--ca-bundle", "/nonexistent/ca.pem"], {}, "'/nonexistent/ca.pem' is not a readable file"),
    "zero threads": (["--onnx-threads", "0"], {}, "from 1 to 64"),
    "zero workers": (["--workers", "0"], {}, "from 1 to 32"),
    "digest not hexadecimal": (["--expected-sha256", "abc"], {}, "expected a SHA-256 of 64 hexadecimal digits"),
}


@pytest.mark.parametrize("case", BAD_OPTIONS, ids=list(BAD_OPTIONS))
def test_bad_options_are_rejected_before_anything_changes(tmp_path: Path, case: str) -> None:
    options, env_changes, fragment = BAD_OPTIONS[case]
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "AWS_ACCESS_KEY_ID": "AKEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example-secret",
        "AWS_S3_ENDPOINT": "http://127.0.0.1:1",
        "AWS_S3_BUCKET": "fraud-demo",
        **env_changes,
    }
    workdir = tmp_path / "workdir"
    command = [str(SERVING_PYTHON), "-m", "fraud_model_server", "--storage-path", "models/1", "--workdir", str(workdir)]
    if case != "no model name":  # a later --model-name in options wins
        command += ["--model-name", "credit-card-fraud"]
    result = subprocess.run([*command, *options], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert not workdir.exists()


def test_help_documents_the_protocol_and_the_data_connection() -> None:
    result = subprocess.run(
        [str(SERVING_PYTHON), "-m", "fraud_model_server", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for fragment in ("POST /v2/models/<name>/infer", "AWS_S3_ENDPOINT", "--storage-path", "--grpc-port", "--ca-bundle"):
        assert fragment in result.stdout
