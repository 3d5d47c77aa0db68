"""The ``s3_server`` fixture is a real S3 store: keys enforced, loopback only, bucket present."""

import stat
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from support.processes import listening_addresses
from support.s3 import S3Server


def test_put_and_get_with_the_generated_keys(s3_server: S3Server) -> None:
    key = f"fixture-check/{uuid.uuid4().hex}.txt"
    client = s3_server.client()
    client.put_object(Bucket=s3_server.bucket, Key=key, Body=b"real bytes")
    assert client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == b"real bytes"


def test_data_connection_contract(s3_server: S3Server) -> None:
    env = s3_server.env
    assert sorted(env) == [
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_S3_BUCKET",
        "AWS_S3_ENDPOINT",
        "AWS_SECRET_ACCESS_KEY",
    ]
    assert env["AWS_S3_ENDPOINT"].startswith("http://127.0.0.1:")
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert len(env["AWS_SECRET_ACCESS_KEY"]) >= 32
    assert env["AWS_SECRET_ACCESS_KEY"] not in repr(s3_server)


def test_anonymous_requests_are_denied(s3_server: S3Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{s3_server.endpoint}/{s3_server.bucket}/", timeout=5)
    assert denied.value.code == 403
    unsigned = boto3.client(
        "s3", endpoint_url=s3_server.endpoint, region_name=s3_server.region, config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as refused:
        unsigned.put_object(Bucket=s3_server.bucket, Key="anonymous.txt", Body=b"x")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_wrong_secret_is_rejected(s3_server: S3Server) -> None:
    client = s3_server.client(secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as refused:
        client.list_objects_v2(Bucket=s3_server.bucket)
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_every_listener_is_on_loopback_and_on_a_chosen_port(s3_server: S3Server) -> None:
    listeners = listening_addresses(s3_server.pid)
    assert {address for address, _ in listeners} == {"127.0.0.1"}
    assert {port for _, port in listeners} == set(s3_server.ports.values())


def test_identity_file_is_private(s3_server: S3Server) -> None:
    mode = stat.S_IMODE((s3_server.workdir / "s3-identities.json").stat().st_mode)
    assert mode == 0o600
