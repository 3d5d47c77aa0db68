"""The app's configuration: accepted forms of the endpoint, defaults, and a clear error for each bad value."""

import subprocess
import sys
from pathlib import Path

import pytest
from fraud_app.config import AppConfig, ConfigError, load_config
from self_signed import ServerCertificate
from support.processes import child_env

INFER_URL = "http://modelmesh-serving.fraud:8008/v2/models/credit-card-fraud/infer"
# The two variables every configuration needs; the tests below add or replace the others.
REQUIRED = {"INFERENCE_ENDPOINT": INFER_URL, "FRAUD_THRESHOLD": "0.765"}


def test_full_infer_url_gives_base_and_model_with_safe_defaults() -> None:
    config = load_config(REQUIRED)
    assert config == AppConfig(base_url="http://modelmesh-serving.fraud:8008", model_name="credit-card-fraud",
                               threshold=0.765)
    assert (config.verify_tls, config.ca_bundle, config.model_label) == (True, None, None)
    assert (config.server_name, config.server_port, config.token) == ("127.0.0.1", 7860, None)


def test_versioned_url_under_a_route_prefix_keeps_prefix_and_version() -> None:
    config = load_config({**REQUIRED, "INFERENCE_ENDPOINT": "https://h.example/s/v2/models/m/versions/3/infer/"})
    assert (config.base_url, config.model_name, config.model_version) == ("https://h.example/s", "m", "3")


def test_base_url_with_model_name() -> None:
    config = load_config({**REQUIRED, "INFERENCE_ENDPOINT": "http://127.0.0.1:8008/", "MODEL_NAME": "fraud"})
    assert (config.base_url, config.model_name) == ("http://127.0.0.1:8008", "fraud")


def test_every_setting_is_read(server_certificate: ServerCertificate) -> None:
    ca_bundle = server_certificate.ca
    config = load_config({
        **REQUIRED, "INFERENCE_TOKEN": " tok3n\n", "FRAUD_THRESHOLD": "0.5",
        "INFERENCE_CA_BUNDLE": str(ca_bundle), "INFERENCE_TIMEOUT": "2.5", "GRADIO_SERVER_NAME": "0.0.0.0",
        "GRADIO_SERVER_PORT": "8080", "FRAUD_MODEL_VERSION": " DNN-credit-card-fraud version 3 ",
        "MODEL_METRICS_URL": "http://127.0.0.1:8008/metrics", "FRAUD_DRIFT_REPORT": "/state/monitor/report.json",
    })
    assert (config.token, config.threshold, config.ca_bundle, config.timeout_s) == ("tok3n", 0.5, str(ca_bundle), 2.5)
    assert (config.server_name, config.server_port) == ("0.0.0.0", 8080)
    assert config.model_label == "DNN-credit-card-fraud version 3"
    assert (config.metrics_url, config.drift_report) == ("http://127.0.0.1:8008/metrics", "/state/monitor/report.json")
    assert "tok3n" not in repr(config)


def test_the_drift_report_may_be_the_payload_receivers_url() -> None:
    url = "http://credit-card-fraud-payload-log.ns.svc.cluster.local:8081/drift-report"
    assert load_config({**REQUIRED, "FRAUD_DRIFT_REPORT": url}).drift_report == url


def test_tls_verification_can_be_turned_off_explicitly() -> None:
    assert load_config({**REQUIRED, "INFERENCE_TLS_VERIFY": "false"}).verify_tls is False


@pytest.mark.parametrize(("environ", "named"), [
    ({"FRAUD_THRESHOLD": "0.765"}, "INFERENCE_ENDPOINT is not set"),
    ({"INFERENCE_ENDPOINT": INFER_URL}, "FRAUD_THRESHOLD is not set"),
    ({**REQUIRED, "FRAUD_THRESHOLD": " "}, "FRAUD_THRESHOLD is not set"),
    ({**REQUIRED, "FRAUD_THRESHOLD": "0"}, "FRAUD_THRESHOLD='0' must be a probability"),
    ({"INFERENCE_ENDPOINT": "modelmesh:8008/v2/models/m/infer"}, "'modelmesh:8008/v2/models/m/infer'"),
    ({"INFERENCE_ENDPOINT": "ftp://h/v2/models/m/infer"}, "'ftp://h/v2/models/m/infer'"),
    ({"INFERENCE_ENDPOINT": "http://h:99999/v2/models/m/infer"}, "invalid port"),
    ({"INFERENCE_ENDPOINT": "http://h/v2/models/m"}, "not `.../v2/models/<name>/infer`"),
    ({"INFERENCE_ENDPOINT": "http://h:8008"}, "MODEL_NAME must be set"),
    ({**REQUIRED, "MODEL_NAME": "other"}, "MODEL_NAME='other' disagrees"),
    ({**REQUIRED, "FRAUD_THRESHOLD": "high"}, "FRAUD_THRESHOLD='high' is not a number"),
    ({**REQUIRED, "FRAUD_THRESHOLD": "1.5"}, "FRAUD_THRESHOLD='1.5' must be a probability"),
    ({**REQUIRED, "FRAUD_THRESHOLD": "nan"}, "FRAUD_THRESHOLD='nan' is not a finite"),
    ({**REQUIRED, "INFERENCE_TIMEOUT": "0"}, "INFERENCE_TIMEOUT='0' must be"),
    ({**REQUIRED, "INFERENCE_TLS_VERIFY": "maybe"}, "INFERENCE_TLS_VERIFY='maybe'"),
    ({**REQUIRED, "INFERENCE_CA_BUNDLE": "/nonexistent/ca.pem"},
     "INFERENCE_CA_BUNDLE='/nonexistent/ca.pem' is not a readable file"),
    ({**REQUIRED, "GRADIO_SERVER_PORT": "80a"}, "GRADIO_SERVER_PORT='80a'"),
    ({**REQUIRED, "GRADIO_SERVER_PORT": "70000"}, "GRADIO_SERVER_PORT='70000'"),
    ({**REQUIRED, "GRADIO_SERVER_NAME": "http://0.0.0.0"}, "GRADIO_SERVER_NAME='http://"),
    ({**REQUIRED, "MODEL_METRICS_URL": "127.0.0.1:8008/metrics"}, "MODEL_METRICS_URL='127.0.0.1:8008/metrics'"),
    ({**REQUIRED, "MODEL_METRICS_URL": "http://u:p@h/metrics"}, "MODEL_METRICS_URL must not contain user:password"),
    ({**REQUIRED, "FRAUD_DRIFT_REPORT": "monitor/report.json"}, "FRAUD_DRIFT_REPORT='monitor/report.json'"),
    ({**REQUIRED, "FRAUD_DRIFT_REPORT": "/tmp"}, "FRAUD_DRIFT_REPORT='/tmp' must be the absolute path of a file"),
    ({**REQUIRED, "FRAUD_DRIFT_REPORT": "http://u:p@receiver:8081/drift-report"},
     "must be an http(s) URL with a host and no user:password@"),
])
def test_bad_value_is_named_in_the_error(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(environ)
    assert named in str(raised.value)


def test_ca_bundle_without_a_certificate_is_refused(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"INFERENCE_CA_BUNDLE='.*ca.pem' holds no usable PEM certificate"):
        load_config({**REQUIRED, "INFERENCE_CA_BUNDLE": str(not_pem)})


def test_credentials_in_the_endpoint_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"INFERENCE_ENDPOINT": "http://admin:hunter2@h:8008/v2/models/m/infer"})
    assert "INFERENCE_ENDPOINT must not contain user:password@" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_ca_bundle_with_verification_off_is_refused(tmp_path: Path) -> None:
    ca_bundle = tmp_path / "ca.pem"
    ca_bundle.write_text("")
    environ = {**REQUIRED, "INFERENCE_TLS_VERIFY": "0", "INFERENCE_CA_BUNDLE": str(ca_bundle)}
    with pytest.raises(ConfigError, match=r"INFERENCE_CA_BUNDLE='.*' is set but INFERENCE_TLS_VERIFY is false"):
        load_config(environ)


def test_bad_token_error_never_echoes_the_token() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({**REQUIRED, "INFERENCE_TOKEN": "secret part"})
    assert "INFERENCE_TOKEN" in str(raised.value)
    assert "secret" not in str(raised.value)


def test_app_process_stops_at_start_up_on_a_bad_value() -> None:
    environ = child_env({**REQUIRED, "GRADIO_SERVER_PORT": "http"})
    result = subprocess.run([sys.executable, "-m", "fraud_app"], env=environ, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("fraud-app: configuration error: GRADIO_SERVER_PORT='http' must be a TCP port "
                                     "between 1 and 65535.")
