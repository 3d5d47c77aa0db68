"""Pure tests of the request helpers (URI checks, backoff, error wording) and of the query validation."""

import io
import json
from email.message import Message
from urllib.error import HTTPError

import pytest

from ansible_collections.fraud_demo.mlops.plugins.module_utils.mlflow_api import (
    BACKOFF_MAX_SECONDS,
    MlflowHttpError,
    _http_error,
    backoff_delays,
    describe_error_body,
    normalize_tracking_uri,
)
from ansible_collections.fraud_demo.mlops.plugins.module_utils.model_info import ModelQuery, validate_query


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://127.0.0.1:5000/", "http://127.0.0.1:5000"),
        ("https://mlflow.apps.example.com/prefix/", "https://mlflow.apps.example.com/prefix"),
    ],
)
def test_tracking_uri_is_normalized(uri, expected):
    """A trailing slash is dropped; a path prefix (behind a proxy) is kept."""
    assert normalize_tracking_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("127.0.0.1:5000", "tracking_uri '127.0.0.1:5000' must be an http:// or https:// URL"),
        ("file:///tmp/mlruns", "tracking_uri 'file:///tmp/mlruns' must be an http:// or https:// URL"),
        ("databricks", "tracking_uri 'databricks' must be"),
        ("http://", "tracking_uri 'http://' must be"),
        ("http://h:5000/?x=1", "tracking_uri 'http://h:5000/?x=1' must not have a query or fragment"),
    ],
)
def test_bad_tracking_uri_is_named(uri, message):
    """Anything but an http(s) server URL is refused before a request, naming the value."""
    with pytest.raises(ValueError) as raised:
        normalize_tracking_uri(uri)
    assert message in str(raised.value)


def test_backoff_doubles_up_to_its_cap():
    """Delays grow 1, 2, 4, 8 and then stay at the cap; no retries means no delays."""
    assert backoff_delays(0) == []
    assert backoff_delays(6) == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert max(backoff_delays(50)) == BACKOFF_MAX_SECONDS


def test_error_body_from_mlflow_gives_code_and_message():
    """MLflow's JSON error document is taken apart."""
    body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=x not found"})
    assert describe_error_body(body.encode()) == ("RESOURCE_DOES_NOT_EXIST", "Registered Model with name=x not found")


def test_error_body_from_something_else_is_quoted_shortly():
    """A non-MLflow answer (an HTML error page) is quoted, cut to a readable length."""
    code, message = describe_error_body(b"<html>" + b"x" * 1000 + b"</html>")
    assert code is None
    assert message.startswith("<html>xxx")
    assert message.endswith("...")
    assert len(message) == 303
    assert describe_error_body(b"") == (None, "(empty body)")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (ModelQuery(name=" "), "name must be a registered model name, got ' '"),
        (ModelQuery(name="m", version="1", alias="c"), "version '1' and alias 'c' are mutually exclusive"),
        (ModelQuery(name="m", version="latest"), "version must be a positive whole number, got 'latest'"),
        (ModelQuery(name="m", version="0"), "version must be a positive whole number, got '0'"),
        (ModelQuery(name="m", version="-2"), "got '-2'"),
        (ModelQuery(name="m", alias=""), "alias must not be empty, got ''"),
        (ModelQuery(name="m", artifacts_prefix="../up"), "artifacts_prefix '../up'"),
        (ModelQuery(name="m", bucket="Not_A_Bucket"), "bucket 'Not_A_Bucket' is not a valid S3 bucket name"),
    ],
)
def test_bad_query_is_named(query, message):
    """Every bad argument is refused before any request, naming the value."""
    with pytest.raises(ValueError) as raised:
        validate_query(query)
    assert message in str(raised.value)


def test_good_query_passes():
    """A complete, consistent query raises nothing."""
    validate_query(ModelQuery(name="DNN-credit-card-fraud", version="12", artifacts_prefix="mlflow", bucket="fraud"))


def _error(status: int, body: bytes) -> HTTPError:
    """A urllib HTTPError as open_url raises it, with ``body`` to read."""
    return HTTPError("http://h/api", status, "reason", Message(), io.BytesIO(body))


def test_auth_failure_points_at_the_token():
    """401/403 are permanent and say what to check."""
    error = _http_error("http://h/api", _error(401, b'{"error_code": "UNAUTHENTICATED", "message": "no"}'))
    assert isinstance(error, MlflowHttpError)
    assert str(error) == "HTTP 401 UNAUTHENTICATED from http://h/api: no (check the token or login and its permissions)"
    assert not error.not_found


def test_not_found_needs_mlflows_error_code():
    """Only MLflow's RESOURCE_DOES_NOT_EXIST counts as a missing resource, not any 404."""
    mlflow_404 = _http_error("http://h/api", _error(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "x"}'))
    other_404 = _http_error("http://h/api", _error(404, b"<html>Not Found</html>"))
    assert isinstance(mlflow_404, MlflowHttpError) and mlflow_404.not_found
    assert isinstance(other_404, MlflowHttpError) and not other_404.not_found


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_overload_and_server_errors_are_transient(status):
    """These statuses are retried, so they do not come back as a final MlflowHttpError."""
    assert not isinstance(_http_error("http://h/api", _error(status, b"")), MlflowHttpError)
