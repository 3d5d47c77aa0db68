"""Pure tests of the download-URI to bucket-path arithmetic in module_utils/artifact_location.py."""

import pytest

from ansible_collections.fraud_demo.mlops.plugins.module_utils.artifact_location import (
    ArtifactLocation,
    artifact_location,
    model_id_from_source,
    normalize_prefix,
    validate_bucket,
)

MODEL_FOLDER = "1/models/m-0123456789abcdef0123456789abcdef/artifacts"


@pytest.mark.parametrize(
    ("download_uri", "prefix", "bucket", "expected"),
    [
        (f"mlflow-artifacts:/{MODEL_FOLDER}", "mlflow", "fraud", ArtifactLocation(f"mlflow/{MODEL_FOLDER}", "fraud")),
        (f"mlflow-artifacts:/{MODEL_FOLDER}", "", "fraud", ArtifactLocation(MODEL_FOLDER, "fraud")),
        (f"mlflow-artifacts:/{MODEL_FOLDER}", "/a/b/", None, ArtifactLocation(f"a/b/{MODEL_FOLDER}", None)),
        (
            f"mlflow-artifacts://127.0.0.1:5000/{MODEL_FOLDER}/",
            "mlflow",
            None,
            ArtifactLocation(f"mlflow/{MODEL_FOLDER}", None),
        ),
        (f"s3://fraud/mlflow/{MODEL_FOLDER}", "", None, ArtifactLocation(f"mlflow/{MODEL_FOLDER}", "fraud")),
        (f"s3://fraud/mlflow/{MODEL_FOLDER}", "ignored", "fraud", ArtifactLocation(f"mlflow/{MODEL_FOLDER}", "fraud")),
        (f"S3A://fraud/{MODEL_FOLDER}", "", None, ArtifactLocation(MODEL_FOLDER, "fraud")),
    ],
)
def test_download_uri_maps_onto_the_bucket(download_uri, prefix, bucket, expected):
    """Proxied URIs get the prefix and the caller's bucket; S3 URIs carry both themselves."""
    assert artifact_location(download_uri, prefix, bucket) == expected


def test_s3_uri_joins_bucket_and_path():
    """``s3_uri`` is only known with a bucket."""
    assert ArtifactLocation("mlflow/x", "fraud").s3_uri == "s3://fraud/mlflow/x"
    assert ArtifactLocation("mlflow/x", None).s3_uri is None


@pytest.mark.parametrize(
    ("download_uri", "prefix", "bucket", "message"),
    [
        (
            "file:///tmp/mlruns/1/models/m-1/artifacts",
            "",
            None,
            "'file:///tmp/mlruns/1/models/m-1/artifacts' is not in an object store (scheme 'file'",
        ),
        ("/tmp/mlruns/1/models/m-1/artifacts", "", None, "is not in an object store (scheme ''"),
        ("runs:/abc/model", "", None, "scheme 'runs'"),
        ("s3:///only/a/path", "", None, "'s3:///only/a/path' names no bucket"),
        ("s3://other/mlflow/x", "", "fraud", "is in bucket 'other', not in the bucket 'fraud' given"),
        ("mlflow-artifacts:/", "mlflow", None, "'mlflow-artifacts:/' points at the bucket root"),
        ("s3://fraud/", "", None, "'s3://fraud/' points at the bucket root"),
        ("mlflow-artifacts:/1/../../etc", "", None, "'/1/../../etc' has an empty, '.' or '..' segment"),
        ("mlflow-artifacts:/1//models", "", None, "'/1//models' has an empty"),
    ],
)
def test_unusable_download_uri_is_named(download_uri, prefix, bucket, message):
    """A URI outside the object store, or one that escapes it, is refused with the URI in the message."""
    with pytest.raises(ValueError, match="download URI") as raised:
        artifact_location(download_uri, prefix, bucket)
    assert message in str(raised.value)


@pytest.mark.parametrize(("prefix", "expected"), [("", ""), ("/", ""), ("mlflow", "mlflow"), ("/a/b/", "a/b")])
def test_prefix_is_normalized(prefix, expected):
    """Surrounding slashes do not matter."""
    assert normalize_prefix(prefix) == expected


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("s3://fraud/mlflow", "artifacts_prefix 's3://fraud/mlflow' must be the folder inside the bucket"),
        ("a/../b", "artifacts_prefix 'a/../b' has an empty, '.' or '..' segment"),
        ("a//b", "artifacts_prefix 'a//b' has an empty"),
    ],
)
def test_bad_prefix_is_named(prefix, message):
    """A URI or a path that escapes the bucket is refused, naming the value."""
    with pytest.raises(ValueError) as raised:
        normalize_prefix(prefix)
    assert message in str(raised.value)


@pytest.mark.parametrize("bucket", ["abc", "fraud-demo", "my.bucket.1", "a" * 63])
def test_valid_bucket_names_pass(bucket):
    """S3 bucket names are returned unchanged."""
    assert validate_bucket(bucket) == bucket


@pytest.mark.parametrize("bucket", ["ab", "a" * 64, "Fraud", "fraud_demo", "-fraud", "fraud-", "a..b", "s3://fraud"])
def test_invalid_bucket_names_are_named(bucket):
    """Names S3 would refuse are refused here first, with the name in the message."""
    with pytest.raises(ValueError, match="is not a valid S3 bucket name") as raised:
        validate_bucket(bucket)
    assert repr(bucket) in str(raised.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("models:/m-0123456789abcdef0123456789abcdef", "m-0123456789abcdef0123456789abcdef"),
        ("models:/m-abc/", "m-abc"),
        ("models:/DNN-credit-card-fraud/3", None),
        ("runs:/0123/model", None),
        ("mlflow-artifacts:/1/0123/artifacts/model", None),
        ("", None),
        (None, None),
    ],
)
def test_model_id_comes_only_from_a_logged_model_source(source, expected):
    """MLflow 3 sources name the logged model; registry and run URIs do not."""
    assert model_id_from_source(source) == expected
