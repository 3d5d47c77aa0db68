"""The running local demo tried as a hostile local user would (issue 15): every listener SeaweedFS opens, TCP and
unix sockets, asked for the model and told to replace it without a key, over HTTP and gRPC; MLflow asked for its
registry and artifacts and told to move the alias, without its login or with a wrong one.

Nothing may hand out the model's bytes or take a write; the file stays the registered version's. The controls
prove the probes reach what they should: the S3 keys read the model, the object store's own certificate gets past
gRPC's TLS, and the volume server answers for the model's real file id (found with `weed shell` and that
certificate) with "key needed", not "no such file"."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import grpc
import psutil
import pytest
import requests
from support.listeners import grpc_code, http, stranger_certificate, tls
from support.playbook import mlflow_login
from support.processes import child_env, listening_addresses

pytestmark = pytest.mark.e2e

WEED = str(Path(sys.executable).parent / "weed")
HTTP_PORTS = ("s3", "master", "volume", "filer", "admin")
GRPC_PORTS = ("s3_grpc", "master_grpc", "volume_grpc", "filer_grpc")
ATTACKER_ORIGIN = "http://attacker.example"


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")


@pytest.fixture(scope="module")
def store(demo, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The object store's process, ports, TLS files, the model's key, bytes and file id, read with the keys."""
    state_dir, ports = demo["state_dir"], demo["ports"]
    marker = f"{state_dir}/supervisor/object-store"
    [pid] = [proc.pid for proc in psutil.process_iter(["name"]) if proc.info["name"] == "weed"
             and proc.environ().get("FRAUD_DEMO_PROGRAM") == marker]
    port = {name: ports[f"object_store_local_{name}_port"] for name in HTTP_PORTS + GRPC_PORTS}
    port["admin_grpc"] = port["admin"] + 10000
    keys = env_file(state_dir / "secrets" / "data-connection.env")
    s3 = boto3.client("s3", endpoint_url=keys["AWS_S3_ENDPOINT"], aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"], region_name=keys["AWS_DEFAULT_REGION"])
    bucket = keys["AWS_S3_BUCKET"]
    [key] = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"] if item["Key"].endswith("model.onnx")]
    tls_dir = state_dir / "object-store" / "tls"
    trusted = {"WEED_GRPC_CA": str(tls_dir / "ca.crt"), "WEED_GRPC_CLIENT_CERT": str(tls_dir / "node.crt"),
               "WEED_GRPC_CLIENT_KEY": str(tls_dir / "node.key")}
    shell = subprocess.run(
        [WEED, "shell", f"-master=127.0.0.1:{port['master']}.{port['master_grpc']}",
         f"-filer=127.0.0.1:{port['filer']}.{port['filer_grpc']}"],
        input=f"fs.meta.cat /buckets/{bucket}/{key}\n", capture_output=True, text=True, timeout=60,
        env=child_env(trusted), check=False)
    fids = re.findall(r'"fileId":\s*"([0-9]+,[0-9a-f]+)"', shell.stdout)
    assert len(fids) == 1, shell.stdout + shell.stderr
    return {"pid": pid, "port": port, "s3": s3, "bucket": bucket, "key": key, "fid": fids[0], "tls": tls_dir,
            "model": s3.get_object(Bucket=bucket, Key=key)["Body"].read(), "socket_dir": state_dir / "object-store",
            "stranger": stranger_certificate(tmp_path_factory.mktemp("stranger")), "demo": demo}


def test_the_keys_read_the_registered_model(store, mlflow_client) -> None:
    """Control: what the S3 keys read is the version the registry holds (so the probes below look for real bytes)."""
    names = json.loads(store["demo"]["vars"].read_text())
    version = mlflow_client.get_model_version_by_alias(names["fraud_demo_registered_model"], names["fraud_demo_model_alias"])
    assert hashlib.sha256(store["model"]).hexdigest() == version.tags["model_sha256"]


def test_only_the_configured_ports_listen_and_only_on_loopback(store) -> None:
    """No WebDAV, Iceberg, Lance or any port nobody configured (each listener is probed below)."""
    assert listening_addresses(store["pid"]) == {("127.0.0.1", number) for number in store["port"].values()}


def requests_for(store) -> list[tuple[str, str, bytes]]:
    """Reads and writes of the model in every API SeaweedFS has: filer paths, S3 paths, the volume file id, the
    master's write tickets and lookups."""
    filer, s3_path, fid = f"/buckets/{store['bucket']}/{store['key']}", f"/{store['bucket']}/{store['key']}", store["fid"]
    volume = fid.split(",")[0]
    tampered = b"\x08\x07tampered model"
    return [
        ("GET", filer, b""), ("GET", s3_path, b""), ("GET", f"/{fid}", b""), ("GET", f"/{volume}/{fid}", b""),
        ("GET", f"/dir/lookup?volumeId={volume}", b""), ("POST", "/dir/assign", b""), ("GET", "/dir/assign", b""),
        ("PUT", filer, tampered), ("POST", filer, tampered), ("PUT", s3_path, tampered), ("PUT", f"/{fid}", tampered),
        ("POST", f"/{fid}", tampered), ("DELETE", f"/{fid}", b""), ("DELETE", filer, b""), ("DELETE", s3_path, b""),
    ]


def test_no_listener_reads_or_writes_the_model_without_a_key(store) -> None:
    targets = [("127.0.0.1", number) for number in store["port"].values()]
    targets += sorted(store["socket_dir"].glob("*.sock"))
    assert len(targets) == len(store["port"]) + 2  # the filer's and S3's unix sockets
    served = []
    for target in targets:
        for method, path, body in requests_for(store):
            answer = http(target, method, path, body)
            if (answer.status is not None and answer.status < 400) or store["model"][:64] in answer.body:
                served.append(f"{method} {path} on {target}: {answer.status} {answer.body[:120]!r}")
    assert not served
    # the volume server knows the file and wants a key for it (not "no such file": the probe hit the real file id)
    answer = http(("127.0.0.1", store["port"]["volume"]), "GET", f"/{store['fid']}")
    assert answer.status == 401, answer
    # nothing changed or went: the keys still read the same bytes
    assert store["s3"].get_object(Bucket=store["bucket"], Key=store["key"])["Body"].read() == store["model"]


def test_cors_allows_only_the_s3_origin(store) -> None:
    """A web page in the user's browser cannot script the S3 or filer API (no wildcard, no reflected origin)."""
    for name in ("s3", "filer"):
        for method in ("GET", "OPTIONS"):
            answer = http(("127.0.0.1", store["port"][name]), method, f"/{store['bucket']}/{store['key']}",
                          headers={"Origin": ATTACKER_ORIGIN, "Access-Control-Request-Method": "PUT"})
            assert answer.headers.get("access-control-allow-origin") in (None, f"http://127.0.0.1:{store['port']['s3']}")


def test_grpc_answers_only_the_object_stores_certificate(store) -> None:
    """Each gRPC port and the unix socket SeaweedFS opens beside it in /tmp: plaintext, TLS without a certificate
    and TLS with a certificate of another CA are turned away; the object store's own certificate gets in."""
    ca, tls_dir = store["tls"] / "ca.crt", store["tls"]
    own = tls(ca, tls_dir / "node.crt", tls_dir / "node.key")
    strangers = {"plaintext": None, "no certificate": tls(ca), "another CA's certificate": tls(ca, *store["stranger"])}
    grpc_ports = {name: number for name, number in store["port"].items() if name.endswith("_grpc")}
    targets = [f"127.0.0.1:{number}" for number in grpc_ports.values()]
    targets += [f"unix:{path}" for number in grpc_ports.values()
                for path in Path("/tmp").glob(f"seaweedfs-*-grpc-{number}.sock")]
    assert len(targets) == 2 * len(grpc_ports), targets
    for target in targets:
        assert grpc_code(target, own) == grpc.StatusCode.UNIMPLEMENTED, target
        for stranger, credentials in strangers.items():
            assert grpc_code(target, credentials) == grpc.StatusCode.UNAVAILABLE, (target, stranger)


def test_the_object_stores_secrets_are_private_and_off_command_lines(store) -> None:
    state_dir = store["demo"]["state_dir"]
    secrets = state_dir / "secrets" / "object-store.env"
    jwt_keys = [value for name, value in env_file(secrets).items() if name.startswith("WEED_JWT_")]
    assert len(jwt_keys) == 4 and all(len(value) >= 32 for value in jwt_keys)
    for private in (secrets, store["tls"] / "ca.key", store["tls"] / "node.key"):
        assert private.stat().st_mode & 0o777 == 0o600, private
    cmdlines = [" ".join(proc.info["cmdline"] or []) for proc in psutil.process_iter(["cmdline"])]
    assert not [value for value in jwt_keys if value in store["demo"]["output"] or any(value in c for c in cmdlines)]


def mlflow_processes(demo: dict) -> list[psutil.Process]:
    marker = f"{demo['state_dir']}/supervisor/mlflow-server"
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("FRAUD_DEMO_PROGRAM") == marker:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_mlflow_refuses_anonymous_reads_and_writes(demo, mlflow_client) -> None:
    """MLflow's only listener (its basic-auth app) answers nothing but /health without the login: not the UI, the
    registry, the artifact proxy into the bucket, an alias move or a new experiment; a wrong password is no better.
    Control: the login reads the model file through the same proxy path."""
    names = json.loads(demo["vars"].read_text())
    port, model = demo["ports"]["mlflow_server_local_port"], names["fraud_demo_registered_model"]
    assert {address for proc in mlflow_processes(demo) for address in listening_addresses(proc.pid)} \
        == {("127.0.0.1", port)}
    version = mlflow_client.get_model_version_by_alias(model, names["fraud_demo_model_alias"])
    folder = mlflow_client.get_model_version_download_uri(model, version.version).split(":/", 1)[1]
    artifact = f"/api/2.0/mlflow-artifacts/artifacts/{folder}/model.onnx"
    base, login = f"http://127.0.0.1:{port}", mlflow_login(demo["state_dir"])
    assert requests.get(f"{base}{artifact}", auth=login, timeout=30).status_code == 200
    model_bytes = requests.get(f"{base}{artifact}", auth=login, timeout=30).content
    assert hashlib.sha256(model_bytes).hexdigest() == version.tags["model_sha256"]
    attempts = [
        ("GET", "/", None), ("GET", "/api/2.0/mlflow/experiments/search?max_results=10", None),
        ("GET", "/ajax-api/2.0/mlflow/experiments/search?max_results=10", None),
        ("GET", f"/api/2.0/mlflow/registered-models/get?name={model}", None),
        ("GET", f"/api/2.0/mlflow/model-versions/get-download-uri?name={model}&version={version.version}", None),
        ("GET", artifact, None), ("PUT", artifact, b"tampered"), ("DELETE", artifact, None),
        ("POST", "/api/2.0/mlflow/registered-models/alias", {"name": model, "alias": "champion", "version": "1"}),
        ("POST", "/api/2.0/mlflow/experiments/create", {"name": "intruder"}),
        ("POST", "/api/2.0/mlflow/users/create", {"username": "intruder", "password": "x" * 16}),
    ]
    served = []
    for auth in (None, (login[0], login[1][::-1])):
        for method, path, body in attempts:
            answer = requests.request(method, f"{base}{path}", auth=auth, timeout=30,
                                      **({"data": body} if isinstance(body, bytes) else {"json": body}))
            if answer.status_code != 401 or model_bytes[:64] in answer.content:
                served.append(f"{method} {path} ({'wrong password' if auth else 'anonymous'}): {answer.status_code}")
    assert not served
    # nothing moved: the same version under the alias, the same file, no new experiment
    assert mlflow_client.get_model_version_by_alias(model, names["fraud_demo_model_alias"]).version == version.version
    assert requests.get(f"{base}{artifact}", auth=login, timeout=30).content == model_bytes
    assert "intruder" not in [experiment.name for experiment in mlflow_client.search_experiments()]


def test_mlflow_login_is_private_and_off_command_lines(demo) -> None:
    secrets = demo["state_dir"] / "secrets"
    username, password = mlflow_login(demo["state_dir"])
    assert len(password) >= 32 and username == "admin"
    for private in (secrets / "mlflow.env", secrets / "mlflow-server.env", demo["state_dir"] / "mlflow" / "basic_auth.ini"):
        assert private.stat().st_mode & 0o777 == 0o600, private
    assert password not in (demo["state_dir"] / "mlflow" / "basic_auth.ini").read_text()
    cmdlines = [" ".join(proc.info["cmdline"] or []) for proc in psutil.process_iter(["cmdline"])]
    assert password not in demo["output"] and not [c for c in cmdlines if password in c]
    # the summary says where the login is (never what it is)
    assert f"MLflow login:    user admin, password in {secrets / 'mlflow.env'}" in demo["output"]
