"""Put models in a bucket for the role scenarios whose earlier roles do not run (molecule `model_serving`).

    python -m tests.support.seed_models BUCKET good=KEY corrupt=KEY ...

`good` is the logistic fraud model of onnx_models (a genuine ONNX file the real OpenVINO runtime loads), `corrupt`
bytes that are not ONNX. The bucket is created when missing. The connection comes from the environment only
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_ENDPOINT, AWS_DEFAULT_REGION), never from the command line.
"""

from __future__ import annotations

import os
import sys

import boto3
from botocore.exceptions import ClientError

from .onnx_models import logistic_model

CONTENTS = {"good": lambda: logistic_model().SerializeToString(), "corrupt": lambda: b"this is not an ONNX model\n"}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in arg or arg.split("=", 1)[0] not in CONTENTS for arg in argv[1:]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    missing = [name for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT") if not os.environ.get(name)]
    if missing:
        print(f"seed_models: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    bucket = argv[0]
    client = boto3.client("s3", endpoint_url=os.environ["AWS_S3_ENDPOINT"], region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket)
    for arg in argv[1:]:
        kind, key = arg.split("=", 1)
        client.put_object(Bucket=bucket, Key=key, Body=CONTENTS[kind]())
        print(f"s3://{bucket}/{key}: {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
