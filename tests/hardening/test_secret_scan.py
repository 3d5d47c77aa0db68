"""No hard-coded secret or default password in the repository (issue 8), with detect-secrets (see secret_scan.py).

Every file git tracks (and every untracked file it does not ignore) but this one is scanned. The few findings that are not
secrets (fake values that tests feed on purpose, Secret *names*) are accepted one by one below, each by path, kind
and value, with the reason; anything else fails the test. The planted cases prove the scanner finds what it must.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from secret_scan import Finding, scan, tracked_files

REPO = Path(__file__).resolve().parents[2]
# This file lists the accepted fake values and plants secrets on purpose: it is the one file not scanned.
THIS_FILE = str(Path(__file__).resolve().relative_to(REPO))

# (path, kind, value) -> why it is not a secret.
ACCEPTED: dict[tuple[str, str, str], str] = {
    ("tests/cluster/simulator/mlflow.py", "Secret Keyword", "mlflow-tls"):
        "the name of the MLflow server's service-ca serving-certificate Secret (upstream's chart), not a key",
    ("tests/cluster/test_cluster_simulator.py", "Secret Keyword", "mlflow-artifact-connection"):
        "the name MLflowConfig's artifactRootSecret must have (upstream's CEL rule), not a secret",
    ("extensions/molecule/fraud_app/vars/main.yml", "Secret Keyword", "model-server-token"):
        "the name of the token's Secret, not a token",
    ("extensions/molecule/object_store/verify.yml", "Secret Keyword", "verify-secret-key"):
        "a placeholder key for the s3 backend on the test control plane, where no S3 endpoint exists",
    ("inventories/openshift/group_vars/all/main.yml", "Secret Keyword", "fraud_demo_k8s_api_key, "):
        "a Jinja reference to the variable (which is empty by default, from a vault when set)",
    ("tests/app/test_app_client_protocol.py", "Default Password", "s3cr3t"):
        "a fake bearer token the test sends to its own silent server",
    ("tests/hardening/test_bad_inventory.py", "Basic Auth Credentials", "pw"):
        "a fake login in a metrics URL that preflight must refuse (fraud_app_local_metrics_url)",
    ("tests/app/test_app_config.py", "Basic Auth Credentials", "hunter2"):
        "a fake password the test proves the app refuses and never echoes",
    ("tests/app/test_app_config.py", "Default Password", "hunter2"):
        "the same fake password, asserted absent from the error",
    ("tests/cluster/simulator/modelmesh.py", "Secret Keyword", "storage-config"):
        "the name of the Secret ModelMesh mounts (upstream's storage-config), not a key",
    ("tests/model_server/test_model_server_startup.py", "Secret Keyword", "wrong-secret-value-0123456789"):
        "a deliberately wrong key the test proves is refused",
    ("tests/model_server/test_model_server_startup.py", "Secret Keyword", "example-secret"):
        "a fake key in an environment the test builds",
    ("tests/roles/test_job_scripts.py", "Secret Keyword", "wrong"):
        "the prefix of a deliberately wrong key built from the test server's real one",
    ("tests/train_job/test_train_data.py", "Basic Auth Credentials", "pa55"):
        "a fake URL userinfo the test proves is stripped from logs",
    ("tests/unit/test_artifact_location.py", "Base64 High Entropy String",
     "1/models/m-0123456789abcdef0123456789abcdef/artifacts"):
        "an MLflow artifact folder name (a model id), not a key",
}


def masked(finding: Finding) -> str:
    return f"{finding.path}:{finding.line} {finding.kind} ({finding.value[:3]}...)"


def test_the_repository_holds_no_secret_and_no_default_password() -> None:
    paths = [path for path in tracked_files(REPO) if path != THIS_FILE]
    assert len(paths) > 100, "git ls-files listed too few files: the scan would prove nothing"
    findings = scan(REPO, paths)
    unexpected = [masked(f) for f in findings if (f.path, f.kind, f.value) not in ACCEPTED]
    assert not unexpected, (
        "possible secrets in the repository (remove them; if one is a deliberate fake in a test, add it to ACCEPTED "
        "with the reason):\n" + "\n".join(unexpected)
    )


# Planted secrets (spelled in pieces, so that no copy of this file elsewhere turns up whole): (file, content,
# kind found).
PLANTED = {
    "role-default-key": ("roles/x/defaults/main.yml",
                         "x_secret_key: " + "Zx8vQ2LmN4pR7sT1wY6", "Secret Keyword"),
    "minio-default-password": ("README.md",
                               "export MINIO_ROOT_PASSWORD=" + "minio" + "123\n", "Default Password"),
    "jinja-default-password": ("roles/x/tasks/main.yml",
                               "db: \"{{ x_db_pass | default('" + "change" + "me') }}\"\n", "Default Password"),
    "aws-access-key": ("train.py", "KEY_ID = '" + "AKIA" + "Q3EGRTNZ7XWM4KPL" + "'\n", "AWS Access Key"),
    "private-key": ("tls.key",
                    "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
                    "Private Key"),
    "github-token": ("ci.sh", "export GH=" + "ghp_" + "4x9Kd2LmQ8rT5vW1yZ3bN6cF7hJ0pS2uE4gA" + "\n",
                     "GitHub Token"),
    "password-in-url": ("data.yml", "url: https://user:" + "Tq7zLw9x" + "@s3.example.org/bucket\n",
                        "Basic Auth Credentials"),
    "jwt-token": ("kubeconfig", "token: " + "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiJhZG1pbiJ9"
                  + ".dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk\n", "JSON Web Token"),
}


@pytest.mark.parametrize(("name", "content", "kind"), PLANTED.values(), ids=PLANTED.keys())
def test_the_scanner_finds_a_planted_secret(tmp_path: Path, name: str, content: str, kind: str) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(content)
    found = scan(tmp_path, [name])
    assert kind in {f.kind for f in found}, found


def test_references_and_empty_values_are_not_secrets(tmp_path: Path) -> None:
    """What the roles do instead of defaults: empty values, vault references, names of Secrets."""
    path = tmp_path / "defaults.yml"
    path.write_text(
        "object_store_openshift_access_key: \"\"\n"
        "object_store_openshift_secret_key: \"{{ vault_object_store_secret_key }}\"\n"
        "fraud_demo_k8s_api_key: \"\"\n"
        "mlflow_server_openshift_password_length: 32\n"
    )
    assert scan(tmp_path, ["defaults.yml"]) == []
