"""Bad inventory input is rejected before anything changes, with a message naming the variable (issue 8).

Each case runs ``ansible-playbook site.yml -e '<json>'`` with one wrong value (a wrong type, an unknown choice, an
empty or null name, a name Kubernetes refuses, a negative or zero size, a malformed URL, a missing required value)
and asserts that the run fails in preflight's input checks (argument specs or a role's ``validate.yml``), that the
error names the variable, that nothing changed (``changed=0``, the throwaway state directory was never created)
and that no process was started.

The runs use ``--tags preflight``: preflight is site.yml's first play and tagged ``always``, so a plain run stops at
the same task; the tag only makes a value that slipped through stop after preflight instead of standing the demo
up. The control runs prove that the same command without the wrong value passes the input checks: on the local
target all of preflight passes (with a CA bundle given); on the openshift target, with no cluster configured, the
first failure is the cluster API check, so every openshift case below is rejected before any API call.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.playbook import RECAP, REPO, demo_ports
from support.playbook import processes_under as playbook_processes_under
from support.ports import LOOPBACK

PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
ERROR = re.compile(r"^\[ERROR\]: (.*?)(?=^Origin:|^fatal:|^failed:|\Z)", re.M | re.S)
NO_CLUSTER = "cluster API cannot be reached"

# (inventory, extra variables, the variable the error must name)
LOCAL: dict[str, tuple[dict[str, Any], str]] = {
    # wrong types
    "rows-not-a-number": ({"training_rows": "abc"}, "training_rows"),
    "port-not-a-number": ({"mlflow_server_local_port": "http"}, "mlflow_server_local_port"),
    "force-not-a-boolean": ({"training_force": "sometimes"}, "training_force"),
    "validate-certs-not-a-boolean": ({"fraud_demo_validate_certs": "maybe"}, "fraud_demo_validate_certs"),
    # unknown choices
    "unknown-optimizer": ({"training_optimizer": "adamw"}, "training_optimizer"),
    "unknown-state": ({"object_store_state": "gone"}, "object_store_state"),
    "unknown-target": ({"fraud_demo_target": "kubernetes"}, "fraud_demo_target"),
    # empty, null and missing values
    "empty-data-source": ({"training_data_source": ""}, "training_data_source"),
    "null-registered-model": ({"training_registered_model": None}, "training_registered_model"),
    "null-data-connection-name": ({"data_connection_name": None}, "data_connection_name"),
    "blank-experiment": ({"training_experiment": "   "}, "training_experiment"),
    "empty-model-name": ({"model_serving_model_name": ""}, "model_serving_model_name"),
    # names Kubernetes (or S3) refuses
    "name-with-capitals": ({"data_connection_name": "Mlflow_Connection"}, "data_connection_name"),
    "name-with-dots": ({"model_serving_model_name": "credit.card.fraud"}, "model_serving_model_name"),
    "name-too-long": ({"model_serving_model_name": "a" * 64}, "model_serving_model_name"),
    "bad-bucket-name": ({"object_store_bucket": "Fraud_Demo"}, "object_store_bucket"),
    "alias-reserved": ({"training_alias": "latest"}, "training_alias"),
    "version-not-a-number": ({"model_artifact_version": "v1"}, "model_artifact_version"),
    # negative, zero and out-of-range numbers
    "negative-rows": ({"training_rows": -5}, "training_rows"),
    "zero-epochs": ({"training_epochs": 0}, "training_epochs"),
    "zero-workers": ({"model_serving_local_workers": 0}, "model_serving_local_workers"),
    "payload-prefix-climbing": ({"model_serving_payload_log_prefix": "payloads/../models"},
                                "model_serving_payload_log_prefix"),
    "metrics-url-with-login": ({"fraud_app_local_metrics_url": "http://admin:pw@127.0.0.1:8008/metrics"},
                               "fraud_app_local_metrics_url"),
    "drift-report-relative": ({"fraud_app_local_drift_report": "monitor/report.json"}, "fraud_app_local_drift_report"),
    "negative-learning-rate": ({"training_learning_rate": -0.1}, "training_learning_rate"),
    "threshold-above-one": ({"fraud_app_threshold": 1.5}, "fraud_app_threshold"),
    "port-out-of-range": ({"model_serving_local_port": 70000}, "model_serving_local_port"),
    "port-used-twice": ({"object_store_local_s3_port": 5000, "mlflow_server_local_port": 5000},
                        "object_store_local_s3_port"),
    "derived-port-beyond-65535": ({"object_store_local_admin_port": 60000}, "object_store_local_admin_port"),
    "derived-port-used-twice": ({"object_store_local_admin_port": 7000, "mlflow_server_local_port": 17000},
                                "object_store_local_admin_port"),
    # values that pass a type check but no machine can run (issue 16)
    "rows-beyond-memory": ({"training_rows": 10**12}, "training_rows"),
    "batch-beyond-reason": ({"training_batch_size": 10**12}, "training_batch_size"),
    "epochs-beyond-reason": ({"training_epochs": 10**9}, "training_epochs"),
    "negative-seed": ({"training_seed": -1}, "training_seed"),
    "negative-training-timeout": ({"training_timeout": -1}, "training_timeout"),
    "mlflow-workers-1000": ({"mlflow_server_local_workers": 1000}, "mlflow_server_local_workers"),
    "secret-of-one-character": ({"object_store_local_secret_length": 1}, "object_store_local_secret_length"),
    "smoke-threshold-two": ({"demo_verify_threshold": 2}, "demo_verify_threshold"),
    "health-timeout-zero": ({"process_supervisor_health_timeout": 0}, "process_supervisor_health_timeout"),
    "log-size-not-a-size": ({"process_supervisor_log_max_bytes": "lots"}, "process_supervisor_log_max_bytes"),
    # malformed URLs and paths
    "ftp-data-source": ({"training_data_source": "ftp://127.0.0.1/data.csv"}, "training_data_source"),
    "relative-data-source": ({"training_data_source": "data/creditcard.csv"}, "training_data_source"),
    "absolute-artifacts-prefix": ({"mlflow_server_artifacts_prefix": "/mlflow"}, "mlflow_server_artifacts_prefix"),
    "missing-ca-bundle": ({"fraud_demo_ca_bundle": "/nonexistent/ca.pem"}, "fraud_demo_ca_bundle"),
    "missing-data-file": ({"training_data_source": "/nonexistent/creditcard.csv"}, "training_data_source"),
    "data-source-a-directory": ({"training_data_source": "/tmp"}, "training_data_source"),
    "relative-state-dir": ({"fraud_demo_state_dir": "relative/state"}, "fraud_demo_state_dir"),
    # a directory teardown removes, outside the state directory (the only one known to be ours)
    "training-dir-outside-state": ({"training_local_dir": "/tmp"}, "training_local_dir"),
    "secrets-file-outside-state": ({"object_store_local_secrets_file": "/root/.env"}, "object_store_local_secrets_file"),
    # the model's identity and operating point, defined once for every role
    "project-model-empty": ({"fraud_demo_registered_model": " "}, "fraud_demo_registered_model"),
    "project-model-question-mark": ({"fraud_demo_registered_model": "fraud?"}, "fraud_demo_registered_model"),
    "training-model-with-spaces": ({"training_registered_model": "my fraud model"}, "training_registered_model"),
    "resolved-model-with-hash": ({"model_artifact_registered_model": "fraud#1"}, "model_artifact_registered_model"),
    "project-alias-reserved": ({"fraud_demo_model_alias": "v2"}, "fraud_demo_model_alias"),
    "project-serving-name-capitals": ({"fraud_demo_serving_name": "Credit-Card"}, "fraud_demo_serving_name"),
    "project-threshold-zero": ({"fraud_demo_threshold": 0}, "fraud_demo_threshold"),
    "project-threshold-not-a-number": ({"fraud_demo_threshold": "high"}, "fraud_demo_threshold"),
    "retrain-force-not-a-boolean": ({"retrain_force": "maybe"}, "retrain_force"),
    "rollback-not-a-boolean": ({"model_rollout_rollback": "sometimes"}, "model_rollout_rollback"),
}
OPENSHIFT: dict[str, tuple[dict[str, Any], str]] = {
    "project-name-with-capitals": ({"ds_project_name": "Credit_Card"}, "ds_project_name"),
    "namespace-with-dashes-around": ({"training_openshift_namespace": "-bad-"}, "training_openshift_namespace"),
    "applications-namespace-bad": ({"preflight_openshift_applications_namespace": "Redhat_ODS"},
                                   "preflight_openshift_applications_namespace"),
    "negative-volume-size": ({"workbench_storage_size": "-20Gi"}, "workbench_storage_size"),
    "zero-volume-size": ({"mlflow_server_openshift_storage_size": "0"}, "mlflow_server_openshift_storage_size"),
    "zero-replicas": ({"model_serving_openshift_replicas": 0}, "model_serving_openshift_replicas"),
    "empty-workbench-size": ({"workbench_size": ""}, "workbench_size"),
    "unknown-database": ({"mlflow_server_openshift_database": "mysql"}, "mlflow_server_openshift_database"),
    "unknown-serving-platform": ({"preflight_openshift_serving_platform": "triton"},
                                 "preflight_openshift_serving_platform"),
    "s3-backend-without-endpoint": ({"object_store_openshift_backend": "s3"}, "object_store_openshift_endpoint"),
    "s3-backend-without-keys": ({"object_store_openshift_backend": "s3",
                                 "object_store_openshift_endpoint": "https://127.0.0.1:9000"},
                                "object_store_openshift_access_key"),
    "endpoint-without-scheme": ({"object_store_openshift_endpoint": "127.0.0.1:9000"},
                                "object_store_openshift_endpoint"),
    "ca-configmap-not-a-name": ({"object_store_openshift_ca_configmap": "My CA"}, "object_store_openshift_ca_configmap"),
    "smoke-ca-configmap-not-a-name": ({"demo_verify_openshift_ca_configmap": "ca/bundle"},
                                      "demo_verify_openshift_ca_configmap"),
    "route-without-scheme": ({"workbench_mlflow_route": "mlflow:5000"}, "workbench_mlflow_route"),
    "payload-log-unknown": ({"model_serving_openshift_payload_log": "kafka"}, "model_serving_openshift_payload_log"),
    "monitor-schedule-not-cron": ({"monitor_openshift_schedule": "every hour"}, "monitor_openshift_schedule"),
    "monitor-time-zone-with-spaces": ({"monitor_openshift_time_zone": "Central European"}, "monitor_openshift_time_zone"),
}


def run(tmp_path: Path, inventory: str, playbook: str, extra: dict[str, Any], *args: str) -> tuple[int, str]:
    """Run a playbook with a throwaway state directory and no reachable cluster; return (rc, output)."""
    state_dir = tmp_path / "state"
    env = {
        **os.environ,
        "FRAUD_DEMO_STATE_DIR": str(state_dir),
        # No cluster: the kubernetes client finds no configuration, so it cannot reach anything.
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    # The openshift inventory's state dir is inside the repository: point it at the throwaway one too. Free ports:
    # preflight checks that nothing else listens on the ones the demo would open.
    base = {"fraud_demo_state_dir": str(state_dir), **demo_ports()}
    proc = subprocess.run(
        [PLAYBOOK, "-i", f"inventories/{inventory}/", playbook,
         "-e", json.dumps(base), "-e", json.dumps(extra), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def first_error(output: str) -> str:
    match = ERROR.search(output)
    assert match, f"no [ERROR] in:\n{output[-4000:]}"
    return match.group(1)


def processes_under(path: Path) -> list[str]:
    """Processes that mention ``path``, other than the playbook runs themselves."""
    return [cmdline for cmdline in playbook_processes_under(path) if "ansible-playbook" not in cmdline]


def assert_rejected(tmp_path: Path, inventory: str, extra: dict[str, Any], variable: str) -> str:
    """Assert the run is rejected in preflight, naming `variable`, with nothing changed; return the error."""
    rc, output = run(tmp_path, inventory, "site.yml", extra, "--tags", "preflight")
    assert rc != 0, f"accepted {extra}:\n{output[-4000:]}"
    error = first_error(output)
    assert variable in error, f"the error does not name {variable}:\n{error}"
    assert NO_CLUSTER not in error, f"rejected only at the cluster API check:\n{error}"
    # Stopped in preflight's input checks: no later play began and nothing changed.
    assert "PLAY [Object store" not in output
    recap = RECAP.search(output)
    assert recap, output[-3000:]
    assert recap.group(2) == "0", f"changed={recap.group(2)} before the rejection"
    state_dir = tmp_path / "state"
    assert not state_dir.exists() or not any(state_dir.iterdir())
    assert not (REPO / "relative").exists()
    assert not processes_under(tmp_path)
    return error


@pytest.mark.parametrize(("extra", "variable"), LOCAL.values(), ids=LOCAL.keys())
def test_local_target_rejects(tmp_path: Path, extra: dict[str, Any], variable: str) -> None:
    assert_rejected(tmp_path, "local", extra, variable)


@pytest.mark.parametrize(("extra", "variable"), OPENSHIFT.values(), ids=OPENSHIFT.keys())
def test_openshift_target_rejects_before_any_api_call(tmp_path: Path, extra: dict[str, Any], variable: str) -> None:
    assert_rejected(tmp_path, "openshift", extra, variable)


def test_local_control_passes_preflight_with_a_ca_bundle(tmp_path: Path) -> None:
    """The defaults pass preflight (no warning), so each rejection above comes from its one wrong value."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    rc, output = run(tmp_path, "local", "playbooks/preflight.yml", {"fraud_demo_ca_bundle": str(bundle)})
    assert rc == 0, output[-4000:]
    assert "WARNING: fraud_demo_validate_certs is false" not in output
    assert "WARNING: fraud_demo_no_log is false" not in output
    assert not processes_under(tmp_path)


@pytest.mark.parametrize(("variable", "offset"), [("mlflow_server_local_port", 0),
                                                  ("object_store_local_filer_grpc_port", 0),
                                                  ("object_store_local_admin_port", 10000)])
def test_local_target_rejects_a_port_another_process_listens_on(tmp_path: Path, variable: str, offset: int) -> None:
    """A port the demo would open (SeaweedFS's gRPC ports too, and the admin gRPC port it derives), held by a
    process that is not ours (nothing of ours runs in this state directory): rejected naming the variable, before
    the state directory is made."""
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        port = holder.getsockname()[1]
        if port - offset < 1:
            pytest.skip(f"the kernel gave port {port}, below the offset")
        error = assert_rejected(tmp_path, "local", {variable: port - offset}, variable)
    named = f"{variable} + {offset}" if offset else variable
    assert f"Port {port} ({named}) on 127.0.0.1 is in use by another process (pid {os.getpid()}: " in error
    assert f"-e {variable}=PORT" in error
    assert not (tmp_path / "state").exists()


LISTEN = ("import socket, sys\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind(('" + LOOPBACK + "', int(sys.argv[1])))\ns.listen()\nprint('listening', flush=True)\n"
          "sys.stdin.read()\n")


def listener(port: int, marker: str) -> subprocess.Popen[str]:
    """A process listening on ``port`` whose environment carries the launcher's marker ``marker`` (none if empty)."""
    env = {key: value for key, value in os.environ.items() if key != "FRAUD_DEMO_PROGRAM"}
    proc = subprocess.Popen([sys.executable, "-c", LISTEN, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={**env, "FRAUD_DEMO_PROGRAM": marker} if marker else env)
    assert proc.stdout.readline().strip() == "listening"
    return proc


def test_local_target_accepts_a_port_held_by_a_program_of_its_supervisord(tmp_path: Path) -> None:
    """A program an earlier version of the demo started (before the launcher marked them) holds its port: it runs
    under the state directory's supervisord (a child of the pid in supervisord.pid), so it is ours."""
    state_dir = tmp_path / "state"
    (state_dir / "supervisor").mkdir(parents=True)
    (state_dir / ".fraud-demo-state").write_text("made: true\n")
    ports = demo_ports()
    port = ports["mlflow_server_local_port"]
    # a stand-in supervisord (its command line names it) whose child listens on the port, unmarked
    fake = tmp_path / "supervisord"
    fake.write_text("import subprocess, sys\n"
                    f"child = subprocess.Popen([sys.executable, '-c', {LISTEN!r}, sys.argv[1]], stdout=sys.stdout)\n"
                    "sys.stdin.read()\nchild.kill()\n")
    supervisord = subprocess.Popen([sys.executable, str(fake), str(port)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
    try:
        assert supervisord.stdout.readline().strip() == "listening"
        (state_dir / "supervisor" / "supervisord.pid").write_text(f"{supervisord.pid}\n")
        rc, output = run(tmp_path, "local", "playbooks/preflight.yml", ports)
        assert rc == 0, output[-4000:]
        # without the pid file the same holder is somebody else's
        (state_dir / "supervisor" / "supervisord.pid").unlink()
        rc, output = run(tmp_path, "local", "playbooks/preflight.yml", ports)
        assert rc != 0 and f"Port {port} (mlflow_server_local_port) on 127.0.0.1 is in use" in output, output[-3000:]
    finally:
        supervisord.communicate("", timeout=30)


def test_local_target_accepts_a_port_its_own_program_holds_and_names_another_demos(tmp_path: Path) -> None:
    """A port held by a process the launcher marked as one of this demo's programs (left by a killed run, say:
    the launcher stops it before starting the program again) passes; the same holder marked as another state
    directory's program is another process, named with its pid."""
    ports = demo_ports()
    port = ports["mlflow_server_local_port"]
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    ours = listener(port, f"{first / 'state'}/supervisor/mlflow-server")
    try:
        rc, output = run(first, "local", "playbooks/preflight.yml", ports)
        assert rc == 0, output[-4000:]
    finally:
        ours.kill()
        ours.wait()
    theirs = listener(port, f"{first / 'state'}/supervisor/mlflow-server")
    try:
        error = assert_rejected(second, "local", ports, "mlflow_server_local_port")
    finally:
        theirs.kill()
        theirs.wait()
    assert f"Port {port} (mlflow_server_local_port) on 127.0.0.1 is in use by another process (pid {theirs.pid}: " \
        in error


def test_local_control_passes_preflight_with_the_model_renamed_and_a_threshold(tmp_path: Path) -> None:
    """The project-wide checks accept what a user would set (a dotted name, a string number, the data
    connection's bucket as s3:///key), and printing secrets to debug is warned about."""
    extra = {"fraud_demo_registered_model": "my-fraud.model_2", "fraud_demo_model_alias": "prod_2",
             "fraud_demo_serving_name": "my-fraud", "fraud_demo_threshold": "0.9",
             "training_data_source": "s3:///data/creditcard.csv.gz", "fraud_demo_no_log": False}
    rc, output = run(tmp_path, "local", "playbooks/preflight.yml", extra)
    assert rc == 0, output[-4000:]
    assert "WARNING: fraud_demo_no_log is false, so task output shows secrets" in output


def test_openshift_control_fails_only_at_the_cluster_api(tmp_path: Path) -> None:
    """Without a wrong value, the first failure is the API check: the input checks need no cluster."""
    rc, output = run(tmp_path, "openshift", "site.yml", {}, "--tags", "preflight")
    assert rc != 0
    assert NO_CLUSTER in first_error(output), output[-4000:]
    assert not (tmp_path / "state").exists()


def test_retrain_without_a_stood_up_demo_fails_naming_site_yml(tmp_path: Path) -> None:
    """retrain.yml only reads what site.yml stood up (playbooks/demo_facts.yml): on a target where it never ran,
    the run stops before training, naming the missing file and site.yml, having started and written nothing but
    preflight's state-directory mark."""
    rc, output = run(tmp_path, "local", "retrain.yml", {})
    assert rc != 0, output[-4000:]
    error = first_error(output)
    assert "The object store has not been set up" in error and "run site.yml first" in error, error
    assert "PLAY [Retrain" not in output
    state_dir = tmp_path / "state"
    assert sorted(path.name for path in state_dir.iterdir()) == [".fraud-demo-state"]
    assert not processes_under(tmp_path)
