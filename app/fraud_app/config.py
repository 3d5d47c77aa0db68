"""Configuration from the environment, validated before anything starts."""

from __future__ import annotations

import ipaddress
import math
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_SERVER_NAME = "127.0.0.1"
DEFAULT_SERVER_PORT = 7860
DEFAULT_TIMEOUT_S = 10.0

_INFER_PATH = re.compile(r"^(?P<prefix>.*)/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer/?$")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_HOST_LABEL}(?:\.{_HOST_LABEL})*$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the variable and the value."""


@dataclass(frozen=True)
class AppConfig:
    """Everything the app needs to start: where the model is, how to reach it, and where to listen."""

    base_url: str
    model_name: str
    # The model version's own decision threshold (its MLflow tag `threshold`): no default, a wrong one would
    # silently call most frauds "Not fraud" or flood the page with false alarms.
    threshold: float
    model_version: str | None = None
    token: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    ca_bundle: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    server_name: str = DEFAULT_SERVER_NAME
    server_port: int = DEFAULT_SERVER_PORT
    # Which registered version answers (e.g. "DNN-credit-card-fraud version 3"), shown on the page.
    model_label: str | None = None
    # The "Model health" tab: the model server's Prometheus metrics and train_job.monitor's last report.
    metrics_url: str | None = None
    drift_report: str | None = None


def load_config(environ: Mapping[str, str] | None = None) -> AppConfig:
    """Read and validate the app's configuration from `environ` (default: the process environment).

    Variables: INFERENCE_ENDPOINT (the full `.../v2/models/<name>/infer` URL, or a base URL together with
    MODEL_NAME), FRAUD_THRESHOLD (required), INFERENCE_TOKEN, INFERENCE_TLS_VERIFY, INFERENCE_CA_BUNDLE,
    INFERENCE_TIMEOUT, GRADIO_SERVER_NAME, GRADIO_SERVER_PORT, FRAUD_MODEL_VERSION, MODEL_METRICS_URL,
    FRAUD_DRIFT_REPORT. Raises ConfigError on the first bad value.
    """
    env = os.environ if environ is None else environ
    base_url, model_name, model_version = _endpoint(env.get("INFERENCE_ENDPOINT", ""), env.get("MODEL_NAME", ""))
    verify_tls = _boolean(env, "INFERENCE_TLS_VERIFY", default=True)
    return AppConfig(
        base_url=base_url,
        model_name=model_name,
        model_version=model_version,
        threshold=_threshold(env),
        token=_token(env.get("INFERENCE_TOKEN")),
        verify_tls=verify_tls,
        ca_bundle=_ca_bundle(env.get("INFERENCE_CA_BUNDLE", ""), verify_tls),
        timeout_s=_positive(env, "INFERENCE_TIMEOUT", DEFAULT_TIMEOUT_S),
        server_name=_server_name(env.get("GRADIO_SERVER_NAME", DEFAULT_SERVER_NAME)),
        server_port=_port(env, "GRADIO_SERVER_PORT", DEFAULT_SERVER_PORT),
        model_label=env.get("FRAUD_MODEL_VERSION", "").strip() or None,
        metrics_url=_metrics_url(env.get("MODEL_METRICS_URL", "")),
        drift_report=_drift_report(env.get("FRAUD_DRIFT_REPORT", "")),
    )


def _metrics_url(url: str) -> str | None:
    """The model server's Prometheus endpoint (optional): an http(s) URL without credentials."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ConfigError("MODEL_METRICS_URL must not contain user:password@; the bearer token is INFERENCE_TOKEN.")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ConfigError(f"MODEL_METRICS_URL={url!r} is not an http:// or https:// URL with a host.")
    return url


def _drift_report(path: str) -> str | None:
    """Where train_job.monitor's report is (optional; it need not exist yet): the absolute path of the file it
    writes, or the http(s) URL that serves the published one (the OpenShift payload receiver's /drift-report)."""
    path = path.strip()
    if not path:
        return None
    if path.startswith(("http://", "https://")):
        parts = urlsplit(path)
        if parts.username is not None or parts.password is not None or not parts.hostname or parts.fragment:
            raise ConfigError(f"FRAUD_DRIFT_REPORT={path!r} must be an http(s) URL with a host and no user:password@.")
        return path
    if not os.path.isabs(path) or os.path.isdir(path):
        raise ConfigError(f"FRAUD_DRIFT_REPORT={path!r} must be the absolute path of a file or an http(s) URL "
                          "(the drift report).")
    return path


def _endpoint(endpoint: str, model_name: str) -> tuple[str, str, str | None]:
    endpoint, model_name = endpoint.strip(), model_name.strip()
    if not endpoint:
        raise ConfigError("INFERENCE_ENDPOINT is not set: give the model's `.../v2/models/<name>/infer` URL.")
    parts = urlsplit(endpoint)
    if parts.username is not None or parts.password is not None:
        # Do not echo the value: it holds credentials.
        raise ConfigError("INFERENCE_ENDPOINT must not contain user:password@; give a bearer token in INFERENCE_TOKEN.")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"INFERENCE_ENDPOINT={endpoint!r} is not an http:// or https:// URL with a host.")
    if parts.query or parts.fragment:
        raise ConfigError(f"INFERENCE_ENDPOINT={endpoint!r} must not carry a query or fragment.")
    try:
        _ = parts.port  # urllib raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        raise ConfigError(f"INFERENCE_ENDPOINT={endpoint!r} has an invalid port.") from None
    origin = f"{parts.scheme}://{parts.netloc}"
    match = _INFER_PATH.match(parts.path)
    if match:
        if model_name and model_name != match["model"]:
            raise ConfigError(f"MODEL_NAME={model_name!r} disagrees with the model {match['model']!r} named in "
                              f"INFERENCE_ENDPOINT={endpoint!r}; set only one of them.")
        return origin + match["prefix"], match["model"], match["version"]
    if "/v2/" in parts.path + "/":
        raise ConfigError(f"INFERENCE_ENDPOINT={endpoint!r} is a V2 URL but not `.../v2/models/<name>/infer`.")
    if not model_name:
        raise ConfigError(f"INFERENCE_ENDPOINT={endpoint!r} is a base URL, so MODEL_NAME must be set too "
                          "(or give the full `.../v2/models/<name>/infer` URL).")
    if "/" in model_name:
        raise ConfigError(f"MODEL_NAME={model_name!r} must not contain '/'.")
    return origin + parts.path.rstrip("/"), model_name, None


def _token(token: str | None) -> str | None:
    if token is None or token == "":
        return None
    stripped = token.strip()
    if not stripped or any(ch.isspace() for ch in stripped) or not stripped.isprintable():
        # The value itself is a secret: name the variable, never echo the value.
        raise ConfigError("INFERENCE_TOKEN contains whitespace or control characters; give the bare token.")
    return stripped


def _threshold(env: Mapping[str, str]) -> float:
    if not env.get("FRAUD_THRESHOLD", "").strip():
        raise ConfigError("FRAUD_THRESHOLD is not set: give the model version's decision threshold (its MLflow "
                          "tag `threshold`), a probability strictly between 0 and 1.")
    return _probability(env, "FRAUD_THRESHOLD", 0.0)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number.") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r} is not a finite number.")
    return value


def _probability(env: Mapping[str, str], name: str, default: float) -> float:
    value = _number(env, name, default)
    if not 0.0 < value < 1.0:
        raise ConfigError(f"{name}={env[name].strip()!r} must be a probability strictly between 0 and 1.")
    return value


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _number(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name}={env[name].strip()!r} must be a number of seconds greater than 0.")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} must be true or false.")


def _ca_bundle(path: str, verify_tls: bool) -> str | None:
    path = path.strip()
    if not path:
        return None
    if not verify_tls:
        raise ConfigError(f"INFERENCE_CA_BUNDLE={path!r} is set but INFERENCE_TLS_VERIFY is false; "
                          "keep verification on to use a CA bundle.")
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ConfigError(f"INFERENCE_CA_BUNDLE={path!r} is not a readable file.")
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as error:
        raise ConfigError(f"INFERENCE_CA_BUNDLE={path!r} holds no usable PEM certificate ({error}).") from None
    return path


def _server_name(name: str) -> str:
    name = name.strip()
    try:
        ipaddress.ip_address(name)
    except ValueError:
        if not _HOST_NAME.match(name):
            raise ConfigError(f"GRADIO_SERVER_NAME={name!r} is not a host name or IP address to listen on.") from None
    return name


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{name}={raw!r} must be a TCP port between 1 and 65535.")
    return int(raw)
