"""A lean KServe V2 (Open Inference Protocol) REST client for a model with one `[batch, 7]` numeric input.

It reads the model's metadata to learn the input's name, datatype and shape instead of assuming them, keeps
one pooled `httpx.Client` for connection reuse, and turns every failure into an `InferenceError` whose
message a person can read.
"""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from fraud_app.features import FEATURE_NAMES

N_FEATURES = len(FEATURE_NAMES)
FLOAT_DATATYPES = frozenset({"FP16", "FP32", "FP64"})
MAX_ROWS_PER_REQUEST = 1024
_ERROR_DETAIL_CHARS = 300


class InferenceError(Exception):
    """The model could not give an answer; `str(error)` is a message fit for the page."""


class EndpointUnreachableError(InferenceError):
    """No connection to the model server (refused, DNS, TLS handshake, reset)."""


class EndpointTimeoutError(InferenceError):
    """The model server did not answer within the timeout."""


class EndpointHTTPError(InferenceError):
    """The model server answered with an HTTP error status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class MalformedResponseError(InferenceError):
    """The model server answered, but not with what the V2 protocol and this model promise."""


@dataclass(frozen=True)
class InputSignature:
    """The model input the client sends: name, V2 datatype and shape (-1 for a variable dimension)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    @property
    def rows_per_request(self) -> int:
        """How many rows one request may carry: the fixed batch dimension, or MAX_ROWS_PER_REQUEST."""
        return self.shape[0] if self.shape[0] > 0 else MAX_ROWS_PER_REQUEST

    def __str__(self) -> str:
        return f"{self.name} {self.datatype} {list(self.shape)}"


@dataclass(frozen=True)
class Prediction:
    """Fraud probabilities, one per row sent, and the time spent waiting for the server."""

    probabilities: list[float]
    round_trip_s: float
    model_version: str | None = None
    """The version the server says answered (V2 ``model_version``; our model server sends the registered one)."""


@dataclass(frozen=True)
class ModelStatus:
    """What the server says about the model: ready or not, the learned input, and a readable summary."""

    ready: bool
    message: str
    signature: InputSignature | None = None


class V2Client:
    """Client for one model on a V2 REST endpoint. Thread-safe; close it (or use `with`) when done."""

    def __init__(self, base_url: str, model_name: str, *, model_version: str | None = None,
                 token: str | None = None, verify_tls: bool = True, ca_bundle: str | None = None,
                 timeout_s: float = 10.0) -> None:
        """Prepare the connection pool; no request is made until the first call."""
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else verify_tls
        headers = {"User-Agent": "fraud-app"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.model_name = model_name
        self._model_path = _model_path(model_name, model_version)
        self.endpoint = f"{base_url.rstrip('/')}{self._model_path}"
        self._http = httpx.Client(base_url=base_url, headers=headers, verify=verify, timeout=timeout_s)
        self._verify = verify
        self._others: list[httpx.Client] = []
        self._timeout_s = timeout_s
        self._signature: InputSignature | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> V2Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()
        for other in self._others:
            other.close()

    @property
    def http(self) -> httpx.Client:
        """The pooled HTTP client (its TLS settings and token), for the model server's other endpoints."""
        return self._http

    def client_for(self, url: str) -> httpx.Client:
        """A client for another URL of the model server (its /metrics): the pooled one (with the token) when the
        URL has the endpoint's scheme, host and port, else one with the same TLS settings and no token - the
        token is not sent to another service (OpenShift's `<isvc>-metrics` Service is plain http)."""
        if httpx.URL(url).join("/") == self._http.base_url.join("/"):
            return self._http
        other = httpx.Client(headers={"User-Agent": "fraud-app"}, verify=self._verify, timeout=self._timeout_s)
        self._others.append(other)
        return other

    @property
    def signature(self) -> InputSignature | None:
        """The input signature learned from the metadata, or None if it has not been read yet."""
        return self._signature

    def read_signature(self) -> InputSignature:
        """GET the model's metadata, check that its input fits the seven features, and remember it."""
        metadata = _json(self._request("GET", ""))
        signature = parse_signature(metadata, self.model_name)
        with self._lock:
            self._signature = signature
        return signature

    def status(self) -> ModelStatus:
        """Read the metadata and readiness; never raises, failures become a not-ready status."""
        try:
            signature = self.read_signature()
            ready = self._request("GET", "/ready", check=False).status_code == 200
        except InferenceError as error:
            return ModelStatus(ready=False, message=str(error))
        state = "ready" if ready else "loaded but not ready yet"
        return ModelStatus(ready, f"Model {self.model_name!r} is {state}; input {signature}.", signature)

    def predict(self, rows: Sequence[Sequence[float]], signature: InputSignature | None = None) -> Prediction:
        """Return the model's fraud probability for each row (seven features in model order).

        With no `signature` the learned one is used (read first if needed). When the server rejects a request
        made with the learned signature, the metadata is read again and the request retried once if the input
        changed (a model redeployed under another input name). An explicit `signature` is sent as given.
        """
        if not rows:
            return Prediction([], 0.0)
        if signature is not None:
            return self._predict_with(signature, rows)
        used = self._signature or self.read_signature()
        try:
            return self._predict_with(used, rows)
        except EndpointHTTPError as error:
            fresh = self._refreshed_signature()
            if fresh is None or fresh == used or not 400 <= error.status_code < 500:
                raise
        except InferenceError:
            self._forget(used)
            raise
        return self._predict_with(fresh, rows)

    def _refreshed_signature(self) -> InputSignature | None:
        """Read the metadata again after a failure; on failure forget the learned input so the next call asks."""
        try:
            return self.read_signature()
        except InferenceError:
            with self._lock:
                self._signature = None
            return None

    def _forget(self, signature: InputSignature) -> None:
        with self._lock:
            if self._signature == signature:
                self._signature = None

    def _predict_with(self, signature: InputSignature, rows: Sequence[Sequence[float]]) -> Prediction:
        probabilities: list[float] = []
        waited = 0.0
        version = None
        step = signature.rows_per_request
        for start in range(0, len(rows), step):
            chunk = rows[start:start + step]
            started = time.perf_counter()
            response = self._request("POST", "/infer", json=_infer_body(signature, chunk))
            waited += time.perf_counter() - started
            body = _json(response)
            probabilities.extend(parse_probabilities(body, len(chunk)))
            version = _model_version(body) or version
        return Prediction(probabilities, waited, version)

    def _request(self, method: str, suffix: str, *, json: Any = None, check: bool = True) -> httpx.Response:
        """Send `method` to the model's URL plus `suffix`; map transport failures and (if `check`) HTTP errors."""
        url = f"{self.endpoint}{suffix}"
        try:
            response = self._http.request(method, f"{self._model_path}{suffix}", json=json)
        except httpx.TimeoutException:
            raise EndpointTimeoutError(f"The model server did not answer within {self._timeout_s:g} s "
                                       f"({method} {url}).") from None
        except httpx.TransportError as error:
            raise EndpointUnreachableError(f"Cannot reach the model server at {url}: {_reason(error)}.") from None
        if check and response.status_code >= 400:
            raise EndpointHTTPError(f"The model server answered HTTP {response.status_code} to {method} {url}: "
                                    f"{_error_detail(response)}", response.status_code)
        return response


def _model_path(model_name: str, model_version: str | None) -> str:
    path = f"/v2/models/{quote(model_name, safe='')}"
    return f"{path}/versions/{quote(model_version, safe='')}" if model_version else path


def _infer_body(signature: InputSignature, rows: Sequence[Sequence[float]]) -> dict[str, Any]:
    data = [float(value) for row in rows for value in row]
    if len(data) != len(rows) * N_FEATURES:
        raise ValueError(f"every row must have {N_FEATURES} values in the order {', '.join(FEATURE_NAMES)}")
    return {"id": uuid.uuid4().hex, "inputs": [
        {"name": signature.name, "shape": [len(rows), N_FEATURES], "datatype": signature.datatype, "data": data},
    ]}


def parse_signature(metadata: Any, model_name: str) -> InputSignature:
    """Pick the model's one input from a V2 metadata answer and check it can take rows of seven numbers."""
    inputs = metadata.get("inputs") if isinstance(metadata, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise MalformedResponseError(f"The metadata of model {model_name!r} lists no inputs, so the app cannot "
                                     "tell what to send.")
    if len(inputs) != 1:
        names = [item.get("name") for item in inputs if isinstance(item, dict)]
        raise MalformedResponseError(f"Model {model_name!r} takes {len(inputs)} inputs {names}; this app sends one.")
    item = inputs[0] if isinstance(inputs[0], dict) else {}
    name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
    if not isinstance(name, str) or not name or not isinstance(shape, list):
        raise MalformedResponseError(f"The metadata of model {model_name!r} has an input without name or shape: "
                                     f"{_shorten(repr(inputs[0]))}")
    if datatype not in FLOAT_DATATYPES:
        raise MalformedResponseError(f"Input {name!r} of model {model_name!r} has datatype {datatype!r}; the app "
                                     f"sends numbers as one of {sorted(FLOAT_DATATYPES)}.")
    fits = (len(shape) == 2 and all(isinstance(dim, int) for dim in shape)
            and (shape[0] == -1 or shape[0] >= 1) and shape[1] in (-1, N_FEATURES))
    if not fits:
        raise MalformedResponseError(f"Input {name!r} of model {model_name!r} has shape {shape}; the app sends "
                                     f"[rows, {N_FEATURES}] (the seven transaction features).")
    return InputSignature(name, datatype, tuple(shape))


def _model_version(body: Any) -> str | None:
    """The answer's ``model_version`` when it is a short printable text, else None."""
    version = body.get("model_version") if isinstance(body, dict) else None
    return version if isinstance(version, str) and 0 < len(version) <= 64 and version.isprintable() else None


def parse_probabilities(body: Any, n_rows: int) -> list[float]:
    """Read one probability per row from the first output of a V2 inference answer."""
    outputs = body.get("outputs") if isinstance(body, dict) else None
    if not isinstance(outputs, list) or not outputs or not isinstance(outputs[0], dict):
        raise MalformedResponseError(f"The model's answer has no outputs: {_shorten(repr(body))}")
    data = outputs[0].get("data")
    if isinstance(data, list) and data and all(isinstance(item, list) for item in data):
        data = [value for item in data for value in item]
    if not isinstance(data, list) or len(data) != n_rows:
        count = len(data) if isinstance(data, list) else "no"
        raise MalformedResponseError(f"The model answered {count} values for {n_rows} rows: "
                                     f"{_shorten(repr(outputs[0]))}")
    for value in data:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise MalformedResponseError(f"The model answered {value!r}, which is not a probability between 0 and 1.")
    return [float(value) for value in data]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise MalformedResponseError(f"The model server's answer is not JSON: {_shorten(response.text)}") from None


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return _shorten(response.text) or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return _shorten(body["error"])
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return _shorten(body["detail"])
    return _shorten(repr(body))


def _reason(error: httpx.TransportError) -> str:
    """The innermost cause of a transport error (e.g. "[Errno 111] Connection refused"), at most 8 levels down."""
    cause: BaseException = error
    for _ in range(8):
        inner = cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    return str(cause) or type(cause).__name__


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_DETAIL_CHARS else f"{text[:_ERROR_DETAIL_CHARS]}..."

