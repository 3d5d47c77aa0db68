"""``fraud_demo.mlops.mlflow_model_info`` run for real by ansible-playbook against a real MLflow server.

The server (fixture ``mlflow_server``) proxies artifacts to a real SeaweedFS bucket (fixture ``s3_server``) under
``mlflow/``. Model versions are registered the way the training job does it (``mlflow.onnx.log_model``). One
playbook runs every case (each task registers its result and goes on after a failure), so ansible starts once.
"""

import base64
import json
import math
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import pytest
from mlflow_fronts import Front, make_tls_files, run_front
from support.mlflow_server import ARTIFACTS_PREFIX
from support.module_play import run_tasks
from support.onnx_models import logistic_model
from support.ports import free_port
from support.s3 import S3Server

from ansible_collections.fraud_demo.mlops.plugins.modules.mlflow_model_info import ARGUMENT_SPEC

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULE = "fraud_demo.mlops.mlflow_model_info"
API = "/api/2.0/mlflow"
# What ansible shows instead of a no_log option's value.
NO_LOG_MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
# What ansible adds to every module result, next to the module's own return values.
ANSIBLE_RESULT_KEYS = {"action", "changed", "invocation", "failed", "warnings", "deprecations", "_ansible_no_log"}


@dataclass(frozen=True)
class Scenario:
    """Everything the cases were run with, and each case's result keyed by task name."""

    tracking_uri: str
    model: str
    empty_model: str
    registered: dict[str, Any]
    token: str
    fronts: dict[str, Front]
    unused_port: int
    results: dict[str, dict[str, Any]]
    output: str


def _register_models(tracking_uri: str, model: str, empty_model: str, workdir: Path) -> dict[str, Any]:
    """Register versions 1 and 2 of ``model`` (and ``empty_model`` with none) in a separate Python process."""
    out = workdir / "registered.json"
    script = Path(__file__).with_name("register_test_models.py")
    subprocess.run(
        [sys.executable, str(script), tracking_uri, model, empty_model, str(out)],
        check=True,
        cwd=workdir,
        env={**os.environ, "HOME": str(workdir)},
        timeout=300,
        capture_output=True,
    )
    return json.loads(out.read_text())


def _run_playbook(cases: dict[str, dict[str, Any]], workdir: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """Run one task per case (``check_mode`` from the case) and return each task's result and ansible's output."""
    tasks = []
    for name, case in cases.items():
        arguments = {key: value for key, value in case.items() if key != "check_mode"}
        tasks.append(
            {"name": name, MODULE: arguments, "ignore_errors": True, "check_mode": case.get("check_mode", False)}
        )
    env = {
        "ANSIBLE_REMOTE_TEMP": str(workdir / "ansible-remote"),
        "ANSIBLE_PIPELINING": "true",
        # -vvv keeps each module's arguments in its result and shows everything ansible would log; its
        # connection chatter goes to stderr so that stdout stays one JSON document.
        "ANSIBLE_VERBOSE_TO_STDERR": "true",
        "ANSIBLE_INJECT_INVOCATION": "true",
    }
    results, completed = run_tasks(workdir, tasks, env=env, verbosity=3, name="Exercise mlflow_model_info")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return results, completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def scenario(mlflow_server: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """Register the models, put fronts (TLS, flaky, down, untouched) before MLflow, and run every case once."""
    workdir = tmp_path_factory.mktemp("mlflow-model-info")
    suffix = secrets.token_hex(4)
    model, empty_model = f"fraud-info-{suffix}", f"fraud-info-empty-{suffix}"
    registered = _register_models(mlflow_server, model, empty_model, workdir)
    token = secrets.token_urlsafe(24)
    tls = make_tls_files(workdir)
    unused_port = free_port()
    where = {"artifacts_prefix": ARTIFACTS_PREFIX, "bucket": s3_server.bucket}
    with (
        run_front(mlflow_server, tls=tls) as tls_front,
        run_front(mlflow_server, failures=1) as flaky,
        run_front(mlflow_server, failures=math.inf) as down,
        run_front(mlflow_server, redirect=True) as redirecting,
        run_front(mlflow_server) as untouched,
        run_front(mlflow_server) as basic,
    ):
        fronts = {"tls": tls_front, "flaky": flaky, "down": down, "redirecting": redirecting, "untouched": untouched,
                  "basic": basic}
        uri = {"tracking_uri": mlflow_server}
        cases: dict[str, dict[str, Any]] = {
            "latest": {**uri, "name": model, **where},
            "latest_check_mode": {**uri, "name": model, **where, "check_mode": True},
            "by_version": {**uri, "name": model, "version": "1", **where},
            "by_alias": {**uri, "name": model, "alias": "champion", "artifacts_prefix": ARTIFACTS_PREFIX},
            "without_metrics": {**uri, "name": model, "version": "2", "include_metrics": False},
            "tls_with_ca_and_token": {
                "tracking_uri": tls_front.url,
                "name": model,
                "ca_path": str(tls.ca_cert),
                "token": token,
                **where,
            },
            "basic_auth": {"tracking_uri": basic.url, "name": model, "username": "fraud-user", "password": token,
                           **where},
            "token_and_login": {"tracking_uri": untouched.url, "name": model, "token": token, "username": "u",
                                "password": token},
            "login_without_password": {"tracking_uri": untouched.url, "name": model, "username": "u"},
            "tls_untrusted": {"tracking_uri": tls_front.url, "name": model, "retries": 0},
            "flaky_then_fine": {"tracking_uri": flaky.url, "name": model, "retries": 1, **where},
            "down": {"tracking_uri": down.url, "name": model, "retries": 1},
            "redirected": {"tracking_uri": redirecting.url, "name": model, "token": token},
            "unreachable": {"tracking_uri": f"http://127.0.0.1:{unused_port}", "name": model, "retries": 1},
            "not_mlflow": {"tracking_uri": f"{mlflow_server}/not-mlflow", "name": model, "retries": 0},
            "mlflow_internal_error": {**uri, "name": model, "version": "9" * 20, "retries": 0},
            "model_missing": {**uri, "name": f"no-such-model-{suffix}"},
            "version_missing": {**uri, "name": model, "version": "99"},
            "alias_missing": {**uri, "name": model, "alias": "challenger"},
            "no_versions": {**uri, "name": empty_model},
            "bad_tracking_uri": {"tracking_uri": "ftp://127.0.0.1/", "name": model},
            "version_and_alias": {"tracking_uri": untouched.url, "name": model, "version": "1", "alias": "champion"},
            "bad_bucket": {"tracking_uri": untouched.url, "name": model, "bucket": "Fraud_Demo"},
            "bad_version": {"tracking_uri": untouched.url, "name": model, "version": "v2"},
            "bad_timeout": {"tracking_uri": untouched.url, "name": model, "timeout": 0},
        }
        results, output = _run_playbook(cases, workdir)
    yield Scenario(mlflow_server, model, empty_model, registered, token, fronts, unused_port, results, output)


def _own_facts(result: dict[str, Any]) -> dict[str, Any]:
    """The module's return values without what ansible adds."""
    return {key: value for key, value in result.items() if key not in ANSIBLE_RESULT_KEYS}


def _expected_location(scenario: Scenario, version: str) -> dict[str, str]:
    """Source, download URI and bucket path of ``version`` in MLflow 3's logged-model layout."""
    model_id = scenario.registered["versions"][version]["model_id"]
    folder = f"{scenario.registered['experiment_id']}/models/{model_id}/artifacts"
    return {
        "model_id": model_id,
        "source": f"models:/{model_id}",
        "download_uri": f"mlflow-artifacts:/{folder}",
        "artifact_path": f"{ARTIFACTS_PREFIX}/{folder}",
    }


def test_latest_version_is_described_in_full(scenario: Scenario, s3_server: S3Server) -> None:
    """Without version or alias the highest version comes back, with every return value filled in."""
    result = scenario.results["latest"]
    facts = _own_facts(result)
    location = _expected_location(scenario, "2")
    assert result["changed"] is False
    assert "failed" not in result
    assert isinstance(facts.pop("creation_timestamp"), int)
    assert facts == {
        "name": scenario.model,
        "version": "2",
        "status": "READY",
        "run_id": scenario.registered["versions"]["2"]["run_id"],
        **location,
        "bucket": s3_server.bucket,
        "s3_uri": f"s3://{s3_server.bucket}/{location['artifact_path']}",
        "aliases": [],
        "tags": {},
        "metrics": scenario.registered["versions"]["2"]["metrics"],
    }


def test_artifact_path_is_the_bucket_folder_holding_model_onnx(scenario: Scenario, s3_server: S3Server) -> None:
    """The returned folder really holds the logged ``model.onnx`` (and MLmodel) in the bucket."""
    result = scenario.results["latest"]
    client = s3_server.client()
    listing = client.list_objects_v2(Bucket=result["bucket"], Prefix=result["artifact_path"] + "/")
    names = {item["Key"].rsplit("/", 1)[-1] for item in listing.get("Contents", [])}
    assert {"model.onnx", "MLmodel"} <= names
    body = client.get_object(Bucket=result["bucket"], Key=f"{result['artifact_path']}/model.onnx")["Body"].read()
    assert onnx.load_from_string(body).graph == logistic_model().graph


def test_version_selects_that_version_with_its_tags_and_aliases(scenario: Scenario) -> None:
    """``version: "1"`` describes version 1, which carries the alias and the tag."""
    facts = _own_facts(scenario.results["by_version"])
    assert facts["version"] == "1"
    assert facts["run_id"] == scenario.registered["versions"]["1"]["run_id"]
    assert facts["artifact_path"] == _expected_location(scenario, "1")["artifact_path"]
    assert facts["aliases"] == ["champion"]
    assert facts["tags"] == {"validation": "passed"}
    assert facts["metrics"] == scenario.registered["versions"]["1"]["metrics"]


def test_alias_selects_its_version_and_no_bucket_means_no_s3_uri(scenario: Scenario) -> None:
    """``alias: champion`` resolves to version 1; without ``bucket`` the bucket and S3 URI are null."""
    facts = _own_facts(scenario.results["by_alias"])
    assert facts["version"] == "1"
    assert facts["artifact_path"] == _expected_location(scenario, "1")["artifact_path"]
    assert facts["bucket"] is None
    assert facts["s3_uri"] is None


def test_check_mode_gives_the_same_answer(scenario: Scenario) -> None:
    """The module only reads, so check mode runs it for real and reports the same, unchanged."""
    assert scenario.results["latest_check_mode"]["changed"] is False
    assert _own_facts(scenario.results["latest_check_mode"]) == _own_facts(scenario.results["latest"])


def test_metrics_can_be_left_out(scenario: Scenario) -> None:
    """``include_metrics: false`` skips the run lookup; without a prefix the path is the URI's path."""
    facts = _own_facts(scenario.results["without_metrics"])
    assert facts["metrics"] == {}
    assert facts["artifact_path"] == _expected_location(scenario, "2")["download_uri"].split(":/", 1)[1]


def test_tls_with_ca_path_sends_the_token_and_never_shows_it(scenario: Scenario) -> None:
    """Over HTTPS with the CA bundle the lookup works, the token goes out as a bearer header only."""
    result = scenario.results["tls_with_ca_and_token"]
    assert _own_facts(result) == _own_facts(scenario.results["latest"])
    seen = scenario.fronts["tls"].authorization_seen
    assert seen.count(f"Bearer {scenario.token}") == 4  # model, version, download URI, run
    assert result["invocation"]["module_args"]["token"] == NO_LOG_MASK
    assert scenario.token not in scenario.output  # the whole -vvv output of the playbook


def test_a_login_goes_out_as_basic_authentication_and_is_never_shown(scenario: Scenario) -> None:
    """username/password (MLflow's basic-auth app) go out as one basic header per request, masked everywhere."""
    result = scenario.results["basic_auth"]
    assert _own_facts(result) == _own_facts(scenario.results["latest"])
    login = base64.b64encode(f"fraud-user:{scenario.token}".encode()).decode()
    assert scenario.fronts["basic"].authorization_seen == [f"Basic {login}"] * 4
    assert result["invocation"]["module_args"]["password"] == NO_LOG_MASK
    assert login not in scenario.output


def test_tls_is_verified_by_default(scenario: Scenario) -> None:
    """Without the CA bundle the self-signed front is refused, with the URL and the ``ca_path`` hint."""
    result = scenario.results["tls_untrusted"]
    url = f"{scenario.fronts['tls'].url}{API}/registered-models/get?name={scenario.model}"
    assert result["failed"] is True
    assert result["msg"].startswith(f"TLS verification failed for {url}: ")
    assert "CERTIFICATE_VERIFY_FAILED" in result["msg"]
    assert result["msg"].endswith("(pass ca_path with the CA bundle that signed the server certificate)")


def test_transient_503_is_retried(scenario: Scenario) -> None:
    """One 503 from the front, then the same answer as directly: five requests in all."""
    assert _own_facts(scenario.results["flaky_then_fine"]) == _own_facts(scenario.results["latest"])
    assert len(scenario.fronts["flaky"].authorization_seen) == 5


def test_lasting_503_gives_up_with_mlflow_style_message(scenario: Scenario) -> None:
    """A front that keeps failing is asked ``retries + 1`` times; the error quotes its code and message."""
    url = f"{scenario.fronts['down'].url}{API}/registered-models/get?name={scenario.model}"
    assert scenario.results["down"]["msg"] == (
        f"HTTP 503 TEMPORARILY_UNAVAILABLE from {url}: front is failing on purpose (gave up after 2 attempts)"
    )
    assert len(scenario.fronts["down"].authorization_seen) == 2


def test_redirect_is_reported_not_followed(scenario: Scenario) -> None:
    """A redirect could carry the token elsewhere: the module names the new address and does not go there."""
    path = f"{API}/registered-models/get?name={scenario.model}"
    assert scenario.results["redirected"]["msg"] == (
        f"HTTP 302 from {scenario.fronts['redirecting'].url}{path}: (empty body) "
        f"(redirected to {scenario.tracking_uri}{path}: use that address as tracking_uri)"
    )
    assert len(scenario.fronts["redirecting"].authorization_seen) == 1


def test_bad_input_fails_before_any_request(scenario: Scenario) -> None:
    """Each bad argument is named in the failure, and MLflow (behind the front) is never asked."""
    messages = {case: scenario.results[case]["msg"] for case in ("version_and_alias", "bad_bucket", "bad_version")}
    assert messages == {
        "version_and_alias": "parameters are mutually exclusive: version|alias",
        "bad_bucket": "bucket 'Fraud_Demo' is not a valid S3 bucket name "
        "(3-63 characters: lowercase letters, digits, '.' and '-')",
        "bad_version": "version must be a positive whole number, got 'v2'",
    }
    assert scenario.results["bad_timeout"]["msg"] == "timeout must be more than 0 seconds, got 0.0"
    assert scenario.results["token_and_login"]["msg"] == "parameters are mutually exclusive: token|username"
    assert scenario.results["login_without_password"]["msg"] == "parameters are required together: username, password"
    assert scenario.results["bad_tracking_uri"]["msg"] == (
        "tracking_uri 'ftp://127.0.0.1/' must be an http:// or https:// URL of an MLflow server"
    )
    assert scenario.fronts["untouched"].authorization_seen == []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("model_missing", "registered model 'no-such-model-{suffix}' does not exist at {uri}"),
        ("version_missing", "version 99 of registered model '{model}' does not exist at {uri} (latest version: 2)"),
        (
            "alias_missing",
            "alias 'challenger' is not set on registered model '{model}' at {uri} (aliases set: champion)",
        ),
        ("no_versions", "registered model '{empty}' at {uri} has no versions"),
    ],
)
def test_missing_things_are_named(scenario: Scenario, case: str, message: str) -> None:
    """A missing model, version or alias fails with a message naming it and the server."""
    suffix = scenario.model.rsplit("-", 1)[1]
    expected = message.format(
        suffix=suffix, uri=scenario.tracking_uri, model=scenario.model, empty=scenario.empty_model
    )
    assert scenario.results[case]["failed"] is True
    assert scenario.results[case]["changed"] is False
    assert scenario.results[case]["msg"] == expected


def test_unreachable_server_is_named_after_retries(scenario: Scenario) -> None:
    """Nothing listening: the URL and the reason are in the message, after ``retries + 1`` attempts."""
    message = scenario.results["unreachable"]["msg"]
    url = f"http://127.0.0.1:{scenario.unused_port}{API}/registered-models/get?name={scenario.model}"
    assert message.startswith(f"cannot reach MLflow at {url}: ")
    assert "Connection refused" in message
    assert message.endswith("(gave up after 2 attempts)")


def test_http_errors_carry_the_server_message(scenario: Scenario) -> None:
    """A non-MLflow 404 is quoted (not taken for a missing model); MLflow's own errors keep code and message."""
    not_mlflow_url = f"{scenario.tracking_uri}/not-mlflow{API}/registered-models/get?name={scenario.model}"
    assert scenario.results["not_mlflow"]["msg"].startswith(f"HTTP 404 from {not_mlflow_url}: <!doctype html>")
    internal = scenario.results["mlflow_internal_error"]["msg"]
    url = f"{scenario.tracking_uri}{API}/model-versions/get?name={scenario.model}&version={'9' * 20}"
    assert internal.startswith(f"HTTP 500 INTERNAL_ERROR from {url}: ")
    assert internal.endswith("(gave up after 1 attempt)")


def test_documented_options_and_return_values_match_the_code(scenario: Scenario, tmp_path: Path) -> None:
    """``ansible-doc`` renders the docs; options match the argument spec and RETURN matches a real result."""
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "HOME": str(tmp_path),
    }
    command = [str(BIN / "ansible-doc"), "-t", "module", MODULE]
    rendered = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=True)
    assert rendered.stderr == ""
    assert rendered.stdout.startswith(f"> MODULE {MODULE} ")
    for section in ("OPTIONS", "ATTRIBUTES:", "EXAMPLES:", "RETURN VALUES:"):
        assert f"\n{section}" in rendered.stdout, section
    documented = json.loads(
        subprocess.run([*command, "--json"], capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    )[MODULE]
    options = documented["doc"]["options"]
    assert set(options) == set(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        assert options[name].get("required", False) == spec.get("required", False), name
    assert set(documented["return"]) == set(_own_facts(scenario.results["latest"]))
