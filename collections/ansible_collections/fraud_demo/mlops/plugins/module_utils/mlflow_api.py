# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Client for MLflow's REST API (``/api/2.0/mlflow/...``) built on ansible's ``open_url``: GETs, and the few
idempotent POSTs (set an alias, set a tag) that a repeated request cannot do twice.

Transient failures (connection errors, timeouts, HTTP 429/5xx) are retried with a bounded exponential backoff;
every error names the URL and, for HTTP errors, carries MLflow's own ``error_code`` and message.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Optional
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.urls import SSLValidationError, open_url

API_ROOT = "/api/2.0/mlflow/"
TRANSIENT_STATUSES = frozenset((429, 500, 502, 503, 504))
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 8.0
MAX_BODY_IN_MESSAGE = 300
USER_AGENT = "fraud_demo.mlops"


class MlflowError(Exception):
    """A failure talking to MLflow, worded for the person running the playbook."""


class MlflowHttpError(MlflowError):
    """MLflow (or something at its URL) answered with an HTTP error status."""

    def __init__(self, message: str, status: int, error_code: Optional[str]) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code

    @property
    def not_found(self) -> bool:
        """True when MLflow itself said the requested resource does not exist."""
        return self.status == 404 and self.error_code == "RESOURCE_DOES_NOT_EXIST"


def normalize_tracking_uri(tracking_uri: str) -> str:
    """Return the tracking URI without a trailing slash; raise ``ValueError`` naming it unless it is http(s)."""
    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("tracking_uri %r must be an http:// or https:// URL of an MLflow server" % tracking_uri)
    if parts.query or parts.fragment:
        raise ValueError("tracking_uri %r must not have a query or fragment" % tracking_uri)
    return tracking_uri.rstrip("/")


def backoff_delays(retries: int) -> list[float]:
    """Seconds to wait before each retry: 1, 2, 4, 8, 8, ... (``retries`` entries)."""
    return [min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2**attempt) for attempt in range(retries)]


def describe_error_body(body: bytes) -> tuple[Optional[str], str]:
    """Return MLflow's ``(error_code, message)`` from an error body, or ``(None, <start of the body>)``."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and "message" in document:
        return document.get("error_code"), str(document["message"])
    if len(text) > MAX_BODY_IN_MESSAGE:
        text = text[:MAX_BODY_IN_MESSAGE] + "..."
    return None, text or "(empty body)"


@dataclass(frozen=True)
class MlflowConnection:
    """How to reach the MLflow server; ``token`` is sent as ``Authorization: Bearer``, ``username`` and
    ``password`` as HTTP basic authentication."""

    tracking_uri: str
    token: Optional[str] = None
    username: Optional[str] = None
    password: Optional[str] = None
    validate_certs: bool = True
    ca_path: Optional[str] = None
    timeout: float = 30.0
    retries: int = 3


# The options of every module that talks to MLflow (doc fragment fraud_demo.mlops.mlflow_connection).
CONNECTION_ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    tracking_uri=dict(type="str", required=True),
    token=dict(type="str", no_log=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="float", default=30),
)
CONNECTION_MUTUALLY_EXCLUSIVE = [("token", "username")]
CONNECTION_REQUIRED_TOGETHER = [("username", "password")]


def connection_from_params(params: dict[str, Any], retries: int = 3) -> MlflowConnection:
    """The connection a module's parameters describe (the options of CONNECTION_ARGUMENT_SPEC)."""
    return MlflowConnection(
        tracking_uri=params["tracking_uri"], token=params["token"], username=params["username"],
        password=params["password"], validate_certs=params["validate_certs"], ca_path=params["ca_path"],
        timeout=params["timeout"], retries=retries,
    )


class MlflowClient:
    """Requests against ``<tracking_uri>/api/2.0/mlflow/<endpoint>``, answers decoded from JSON."""

    def __init__(self, connection: MlflowConnection) -> None:
        self.connection = connection
        self.base_url = normalize_tracking_uri(connection.tracking_uri)

    def get(self, endpoint: str, params: dict[str, str], field: str) -> Any:
        """Return ``field`` of the JSON answer, retrying transient failures; raise ``MlflowError`` otherwise."""
        url = "%s%s%s?%s" % (self.base_url, API_ROOT, endpoint, urlencode(params))
        document = self._get_with_retries(url)
        if not document.get(field):
            raise MlflowError("the answer from %s has no %r (is the tracking URI an MLflow server?)" % (url, field))
        return document[field]

    def post(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` as JSON (an idempotent request: retried like a GET); the answer, or ``MlflowError``."""
        url = "%s%s%s" % (self.base_url, API_ROOT, endpoint)
        return self._get_with_retries(url, json.dumps(payload).encode("utf-8"))

    def _get_with_retries(self, url: str, body: Optional[bytes] = None) -> dict[str, Any]:
        """``_get_once`` again after each transient failure, waiting ``backoff_delays`` in between."""
        delays = backoff_delays(self.connection.retries)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._get_once(url, body)
            except _TransientError as error:
                if attempt > len(delays):
                    raise MlflowError(
                        "%s (gave up after %d attempt%s)" % (error, attempt, "" if attempt == 1 else "s")
                    ) from None
                time.sleep(delays[attempt - 1])

    def _get_once(self, url: str, data: Optional[bytes] = None) -> dict[str, Any]:
        """One request (a POST of ``data`` when given); transient failures raise ``_TransientError``, permanent
        ones ``MlflowError``."""
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.connection.token:
            headers["Authorization"] = "Bearer %s" % self.connection.token
        elif self.connection.username:
            login = "%s:%s" % (self.connection.username, self.connection.password or "")
            headers["Authorization"] = "Basic %s" % base64.b64encode(login.encode("utf-8")).decode("ascii")
        try:
            response = open_url(
                url,
                method="GET" if data is None else "POST",
                data=data,
                headers=headers,
                timeout=self.connection.timeout,
                validate_certs=self.connection.validate_certs,
                ca_path=self.connection.ca_path,
                http_agent=USER_AGENT,
                # A redirect could carry the token to another host: report it instead of following it.
                follow_redirects="none",
                use_netrc=False,
            )
            body = response.read()
        except HTTPError as error:
            raise _http_error(url, error) from None
        except (SSLValidationError, ssl.SSLError) as error:
            raise _tls_error(url, error) from None
        except URLError as error:
            if isinstance(error.reason, ssl.SSLError):
                raise _tls_error(url, error.reason) from None
            raise _TransientError("cannot reach MLflow at %s: %s" % (url, error.reason)) from None
        except (OSError, HTTPException) as error:
            raise _TransientError("cannot reach MLflow at %s: %s" % (url, error)) from None
        try:
            document = json.loads(body)
        except ValueError:
            raise MlflowError(
                "the answer from %s is not JSON (is the tracking URI an MLflow server?): %s"
                % (url, describe_error_body(body)[1])
            ) from None
        if not isinstance(document, dict):
            raise MlflowError("the answer from %s is not a JSON object: %r" % (url, document))
        return document


class _TransientError(Exception):
    """A failure worth retrying (connection refused or reset, timeout, HTTP 429/5xx)."""


def _http_error(url: str, error: HTTPError) -> Exception:
    """Word an HTTP error status with MLflow's own message; 429/5xx come back as transient."""
    error_code, message = describe_error_body(error.read() or b"")
    text = "HTTP %d%s from %s: %s" % (error.code, " %s" % error_code if error_code else "", url, message)
    if error.code in (401, 403):
        text += " (check the token or login and its permissions)"
    if 300 <= error.code < 400:
        text += " (redirected to %s: use that address as tracking_uri)" % (error.headers.get("Location") or error.url)
    if error.code in TRANSIENT_STATUSES:
        return _TransientError(text)
    return MlflowHttpError(text, error.code, error_code)


def _tls_error(url: str, error: Exception) -> MlflowError:
    """Word a TLS verification failure with the options that fix it."""
    return MlflowError(
        "TLS verification failed for %s: %s (pass ca_path with the CA bundle that signed the server certificate)"
        % (url, error)
    )
