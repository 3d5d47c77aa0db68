#!/usr/bin/python
# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible module: a bearer token for services behind OpenShift's oauth-proxy, from the cluster connection."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_bearer_token
short_description: The bearer token of the cluster connection, or a short-lived token of a ServiceAccount
version_added: "1.3.0"
description:
  - Services behind OpenShift's oauth-proxy with C(--openshift-delegate-urls) accept a bearer token that the API
    server authenticates (TokenReview) and authorizes (SubjectAccessReview). This module returns the token of the
    connection kubernetes.core's modules use (C(oc login)'s token in the kubeconfig, an exec plugin's, or
    O(api_key)), so the controller calls such a service as the same user it manages the cluster as.
  - A connection without a token (a client-certificate kubeconfig, as the installer's C(system:admin) one) gets a
    token of O(service_account) instead, through the TokenRequest API, valid for O(expiration_seconds); without
    O(service_account) the module fails and says so.
  - Creates nothing that persists; reports RV(ignore:changed=false). In check mode a TokenRequest is still made
    (it writes nothing). Put C(no_log) on the task, which gets the token.
author:
  - fraud_demo contributors
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  service_account:
    description: ServiceAccount whose token is requested when the connection has none.
    type: dict
    suboptions:
      name:
        description: Its name.
        type: str
        required: true
      namespace:
        description: Its namespace.
        type: str
        required: true
  expiration_seconds:
    description: Lifetime asked for a requested token (the API server may shorten it; at least 600).
    type: int
    default: 3600
"""

EXAMPLES = r"""
- name: Get a token for MLflow's oauth-proxy
  fraud_demo.mlops.k8s_bearer_token:
    service_account: {name: mlflow-server-client, namespace: mlflow}
  register: mlflow_token
  no_log: true
"""

RETURN = r"""
token:
  description: The bearer token (without the C(Bearer) prefix).
  returned: success
  type: str
source:
  description: C(connection) (the connection's own token) or C(service_account) (requested for O(service_account)).
  returned: success
  type: str
expiration:
  description: When a requested token expires (RFC 3339), or "" for the connection's own.
  returned: success
  type: str
"""

import copy

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

try:
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException
except ImportError:  # reported by AnsibleK8SModule's requirement check
    CoreV1Api = None
    ApiException = Exception


def connection_token(configuration) -> str:
    """The bearer token the client sends, refreshed by its hook (exec plugins, expiring tokens) first; "" for none.
    The kubernetes client keeps a kubeconfig's or the pod's token under api_key "BearerToken", kubernetes.core an
    O(api_key) under "authorization"; both hold "Bearer <token>"."""
    for identifier in ("authorization", "BearerToken"):
        scheme, _, token = (configuration.get_api_key_with_prefix(identifier) or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return ""


def main() -> None:
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        service_account={"type": "dict", "options": {"name": {"type": "str", "required": True}, "namespace": {"type": "str", "required": True}}},
        expiration_seconds={"type": "int", "default": 3600},
    )
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=spec, supports_check_mode=True)
    if module.params["expiration_seconds"] < 600:
        module.fail_json(msg=f"expiration_seconds={module.params['expiration_seconds']}: the API server accepts 600 or more.")
    try:
        client = get_api_client(module)
    except CoreException as error:
        module.fail_from_exception(error)
    token = connection_token(client.configuration)
    if token:
        module.exit_json(changed=False, token=token, source="connection", expiration="")
    account = module.params["service_account"]
    if not account:
        module.fail_json(msg="The cluster connection has no bearer token (a client-certificate login?) and no service_account was given to request one for.")
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": module.params["expiration_seconds"]}}
    try:
        answer = CoreV1Api(client.client.client).create_namespaced_service_account_token(account["name"], account["namespace"], body)
    except ApiException as error:
        module.fail_json(
            msg=f"The cluster connection has no bearer token, and requesting one for ServiceAccount "
            f"{account['namespace']}/{account['name']} failed: {error.status} {error.reason}",
            status=error.status,
        )
    expiration = answer.status.expiration_timestamp
    module.exit_json(changed=False, token=answer.status.token, source="service_account", expiration=expiration.isoformat() if expiration else "")


if __name__ == "__main__":
    main()
