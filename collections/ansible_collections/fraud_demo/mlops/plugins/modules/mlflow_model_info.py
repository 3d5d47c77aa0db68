#!/usr/bin/python
# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible module: describe one version of an MLflow registered model and where its files are in the bucket."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mlflow_model_info
short_description: Describe an MLflow registered model version and locate its files in the object store
version_added: "1.0.0"
description:
  - Asks the REST API of an MLflow tracking server for one version of a registered model, selected by
    O(version), by O(alias), or (neither given) the latest version.
  - Returns the version, the run that produced it, its source (C(models:/m-...) with MLflow 3), the download URI
    the registry resolves it to, and the bucket-relative folder that holds the model files (for example
    C(model.onnx)), ready for a model server's storage path.
  - The folder comes from the download URI, never from assumptions about experiment ids or run-relative paths,
    so it follows MLflow 3's logged-model layout (C(<experiment>/models/m-<id>/artifacts)).
  - Read-only; it never changes anything and reports RV(ignore:changed=false).
  - Connection errors, timeouts and HTTP 429/5xx answers are retried with an exponential backoff (1, 2, 4, 8,
    8... seconds), at most O(retries) times.
extends_documentation_fragment:
  - fraud_demo.mlops.mlflow_connection
author:
  - fraud_demo contributors
options:
  name:
    description:
      - Name of the registered model.
    type: str
    required: true
  version:
    description:
      - Version number to describe. Mutually exclusive with O(alias).
    type: str
  alias:
    description:
      - Alias (for example C(champion)) whose version to describe. Mutually exclusive with O(version).
    type: str
  retries:
    description:
      - How many times to retry a request after a connection error, a timeout or an HTTP 429/5xx answer.
    type: int
    default: 3
  artifacts_prefix:
    description:
      - Folder inside the bucket where the server keeps artifacts, that is the path part of its
        C(--artifacts-destination) (C(mlflow) for C(s3://bucket/mlflow)). Prepended to the path of
        C(mlflow-artifacts:/) download URIs; ignored for C(s3://) ones, whose path is already complete.
    type: str
    default: ""
  bucket:
    description:
      - Bucket behind the server's artifact store. Needed for RV(bucket) and RV(s3_uri) when the server proxies
        artifacts (C(mlflow-artifacts:/) URIs); checked against the URI when it is C(s3://).
    type: str
  include_metrics:
    description:
      - Also fetch the latest value of each metric of the run that produced the version (one more request).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
notes:
  - Uses only ansible-core's URL helpers; no MLflow client library is needed on the host that runs it.
"""

EXAMPLES = r"""
- name: Find the latest version of the fraud model and where model.onnx lies in the bucket
  fraud_demo.mlops.mlflow_model_info:
    tracking_uri: http://127.0.0.1:5000
    name: DNN-credit-card-fraud
    artifacts_prefix: mlflow
    bucket: fraud-demo
  register: model_artifact

- name: Describe the version behind an alias on a cluster route, with a token and a private CA
  fraud_demo.mlops.mlflow_model_info:
    tracking_uri: https://mlflow.apps.example.com
    name: DNN-credit-card-fraud
    alias: champion
    token: "{{ mlflow_token }}"
    ca_path: /etc/pki/tls/certs/ingress-ca.pem
  register: champion

- name: Describe version 3 without its metrics
  fraud_demo.mlops.mlflow_model_info:
    tracking_uri: http://127.0.0.1:5000
    name: DNN-credit-card-fraud
    version: "3"
    include_metrics: false
"""

RETURN = r"""
name:
  description: Name of the registered model.
  returned: success
  type: str
  sample: DNN-credit-card-fraud
version:
  description: Version number of the described model version (MLflow writes it as text).
  returned: success
  type: str
  sample: "3"
status:
  description: Registration status of the version (C(READY) when usable; anything else adds a warning).
  returned: success
  type: str
  sample: READY
run_id:
  description: Id of the run that produced the version, or null when it has none.
  returned: success
  type: str
  sample: 0f3c5e9a1b2d4c6e8f0a1b2c3d4e5f6a
model_id:
  description: Id of the MLflow 3 logged model behind the version, or null on servers that have none.
  returned: success
  type: str
  sample: m-7d1c2b3a4e5f46a7b8c9d0e1f2a3b4c5
source:
  description: Source URI the version was registered from.
  returned: success
  type: str
  sample: models:/m-7d1c2b3a4e5f46a7b8c9d0e1f2a3b4c5
download_uri:
  description: Where the registry says the version's files are (from C(model-versions/get-download-uri)).
  returned: success
  type: str
  sample: mlflow-artifacts:/1/models/m-7d1c2b3a4e5f46a7b8c9d0e1f2a3b4c5/artifacts
artifact_path:
  description: Bucket-relative folder holding the model files (C(model.onnx), C(MLmodel), ...), no slashes around.
  returned: success
  type: str
  sample: mlflow/1/models/m-7d1c2b3a4e5f46a7b8c9d0e1f2a3b4c5/artifacts
bucket:
  description: Bucket holding RV(artifact_path); null when the download URI is proxied and O(bucket) was not given.
  returned: success
  type: str
  sample: fraud-demo
s3_uri:
  description: C(s3://<bucket>/<artifact_path>), or null when the bucket is not known.
  returned: success
  type: str
  sample: s3://fraud-demo/mlflow/1/models/m-7d1c2b3a4e5f46a7b8c9d0e1f2a3b4c5/artifacts
aliases:
  description: Aliases that point at this version, sorted.
  returned: success
  type: list
  elements: str
  sample: [champion]
tags:
  description: Tags of the model version.
  returned: success
  type: dict
  sample: {validation_status: approved}
metrics:
  description: Latest value of each metric of the producing run; empty when O(include_metrics=false) or no run.
  returned: success
  type: dict
  sample: {roc_auc: 0.975, accuracy: 0.962}
creation_timestamp:
  description: When the version was registered, in milliseconds since the epoch.
  returned: success
  type: int
  sample: 1767225600000
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fraud_demo.mlops.plugins.module_utils.mlflow_api import (
    CONNECTION_ARGUMENT_SPEC,
    CONNECTION_MUTUALLY_EXCLUSIVE,
    CONNECTION_REQUIRED_TOGETHER,
    MlflowClient,
    MlflowError,
    connection_from_params,
)
from ansible_collections.fraud_demo.mlops.plugins.module_utils.model_info import ModelQuery, describe_model_version

ARGUMENT_SPEC = dict(
    CONNECTION_ARGUMENT_SPEC,
    name=dict(type="str", required=True),
    version=dict(type="str"),
    alias=dict(type="str"),
    retries=dict(type="int", default=3),
    artifacts_prefix=dict(type="str", default=""),
    bucket=dict(type="str"),
    include_metrics=dict(type="bool", default=True),
)


def main() -> None:
    """Validate the arguments, ask MLflow, and exit with the facts (never ``changed``)."""
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("version", "alias"), *CONNECTION_MUTUALLY_EXCLUSIVE],
        required_together=CONNECTION_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be more than 0 seconds, got %r" % params["timeout"])
    if params["retries"] < 0:
        module.fail_json(msg="retries must be 0 or more, got %r" % params["retries"])
    query = ModelQuery(
        name=params["name"],
        version=params["version"],
        alias=params["alias"],
        artifacts_prefix=params["artifacts_prefix"],
        bucket=params["bucket"],
        include_metrics=params["include_metrics"],
    )
    try:
        client = MlflowClient(connection_from_params(params, retries=params["retries"]))
        facts, warnings = describe_model_version(client, query)
    except (ValueError, MlflowError) as error:
        module.fail_json(msg=str(error))
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
