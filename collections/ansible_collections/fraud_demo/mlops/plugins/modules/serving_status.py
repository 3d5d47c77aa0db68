#!/usr/bin/python
# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible module: whether an InferenceService serves its current spec, and where it answers."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: serving_status
short_description: Tell whether an InferenceService serves its current spec (ModelMesh or KServe Raw/Standard)
version_added: "1.2.0"
description:
  - Reads the InferenceService and, for KServe, its predictor Deployment and Service (for ModelMesh, its Route) and
    judges them by the rules the upstream controllers write their status with (see the module_utils docstring);
    RV(state) is C(loaded), C(failed) (with upstream's RV(failure), the C(lastFailureInfo)) or C(progressing).
  - A status written before the spec in O(applied_resource_version) is not taken as the answer to it, and for
    KServe the predictor Deployment must hold O(storage_path) and have rolled out (KServe copies the Deployment's
    C(observedGeneration), which says nothing about the InferenceService's own).
  - Returns the in-cluster V2 base URL (a headless KServe predictor answers on its Service's target port) and the
    external one through a Route.
  - Read-only; reports RV(ignore:changed=false). Connection settings as kubernetes.core's (module_defaults group
    C(fraud_demo.mlops.k8s), or the K8S_AUTH_* environment).
author:
  - fraud_demo contributors
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  name:
    description: Name of the InferenceService.
    type: str
    required: true
  namespace:
    description: Its namespace.
    type: str
    required: true
  platform:
    description: How it is served.
    type: str
    required: true
    choices: [modelmesh, kserve]
  storage_path:
    description: The C(storage.path) the spec names (for KServe, what the predictor Deployment must hold).
    type: str
    default: ""
  applied_resource_version:
    description:
      - The resourceVersion the apply of the current spec returned when it changed the object; empty when the
        apply changed nothing.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Wait until the model is served
  fraud_demo.mlops.serving_status:
    name: credit-card-fraud
    namespace: credit-card-fraud
    platform: kserve
    storage_path: serving/credit-card-fraud/v3
  register: served
  until: served.state in ['loaded', 'failed']
  retries: 60
  delay: 5
"""

RETURN = r"""
state:
  description: C(loaded), C(failed) or C(progressing).
  returned: always
  type: str
reason:
  description: Why, in a few words.
  returned: always
  type: str
failure:
  description:
    - The InferenceService's C(status.modelStatus.lastFailureInfo) (reason, message, ...), or {}.
    - For a KServe predictor pod of this spec that fails while an older one serves, C(reason=ModelLoadFailed), its
      C(location) (pod/container), C(exitCode), termination C(message), C(restarting) and the C(log) tail.
  returned: always
  type: dict
model_state:
  description: C(transitionStatus), C(activeModelState), C(targetModelState).
  returned: always
  type: dict
conditions:
  description: Its conditions that are not True, each as its type, reason and message.
  returned: always
  type: list
  elements: str
rollout:
  description: (KServe) the predictor Deployment's rollout (replicas, updated, available, observed, source_uri).
  returned: always
  type: dict
internal_url:
  description: Base URL of the V2 REST API inside the cluster, or "".
  returned: always
  type: str
external_url:
  description: Base URL through the model's Route, or "".
  returned: always
  type: str
metrics_url:
  description:
    - (KServe) the runtime's Prometheus URL inside the cluster, through the C(<name>-metrics) Service that
      odh-model-controller makes for a runtime with metrics on; "" without it (ModelMesh, metrics off).
  returned: always
  type: str
"""

import copy

from ansible_collections.fraud_demo.mlops.plugins.module_utils.serving_status import assess, internal_base_url, metrics_url
from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

try:
    from kubernetes.dynamic.exceptions import NotFoundError
except ImportError:  # reported by AnsibleK8SModule's requirement check
    NotFoundError = Exception


def _get(client, api_version: str, kind: str, name: str, namespace: str) -> dict | None:
    try:
        return client.get(client.resource(kind, api_version), name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None


LOG_TAIL_LINES = 20


def _log_tail(client, namespace: str, location: str, previous: bool) -> str:
    """The last lines of the failed container's log (its previous instance when it is restarting): OVMS and the
    storage initializer write the reason there, and the kserve-container keeps no termination message of its own."""
    pod, _, container = location.partition("/")
    query = {"container": container, "tailLines": LOG_TAIL_LINES, "previous": previous}
    try:
        response = client.resource("Pod", "v1").log.get(name=pod, namespace=namespace, serialize=False, query_params=query)
    except Exception:  # noqa: BLE001 - the log only adds to a failure already found; a pod gone or a node without logs leaves it out
        return ""
    return response.data.decode("utf-8", "replace").strip()


def main() -> None:
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        name={"type": "str", "required": True},
        namespace={"type": "str", "required": True},
        platform={"type": "str", "required": True, "choices": ["modelmesh", "kserve"]},
        storage_path={"type": "str", "default": ""},
        applied_resource_version={"type": "str", "default": ""},
    )
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=spec, supports_check_mode=True)
    params = module.params
    name, namespace, platform = params["name"], params["namespace"], params["platform"]
    try:
        client = get_api_client(module)
        isvc = _get(client, "serving.kserve.io/v1beta1", "InferenceService", name, namespace)
        deployment = service = metrics_service = None
        pods: list = []
        external = ""
        if platform == "kserve":
            deployment = _get(client, "apps/v1", "Deployment", f"{name}-predictor", namespace)
            service = _get(client, "v1", "Service", f"{name}-predictor", namespace)
            metrics_service = _get(client, "v1", "Service", f"{name}-metrics", namespace)
            listing = client.get(client.resource("Pod", "v1"), namespace=namespace, label_selector=f"app=isvc.{name}-predictor").to_dict()
            pods = listing.get("items") or []
            url = str(((isvc or {}).get("status") or {}).get("url", ""))
            external = url.rstrip("/") if url.startswith("https://") and ".svc.cluster.local" not in url else ""
        else:
            route = _get(client, "route.openshift.io/v1", "Route", name, namespace)
            host = ((((route or {}).get("status") or {}).get("ingress") or [{}])[0]).get("host", "")
            external = f"https://{host}" if host else ""
    except CoreException as error:
        module.fail_from_exception(error)
        return
    containers = (((deployment or {}).get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    ports = next((c.get("ports") or [] for c in containers if c.get("name") == "kserve-container"), [])
    result = assess(platform, isvc, deployment, params["storage_path"], params["applied_resource_version"], pods)
    failure = result["failure"]
    if result["state"] == "failed" and failure.get("location"):
        failure["log"] = _log_tail(client, namespace, failure["location"], failure.get("restarting", False))
    module.exit_json(
        changed=False,
        internal_url=internal_base_url(platform, isvc, service, ports[0]["containerPort"] if ports else None),
        external_url=external,
        metrics_url=metrics_url(metrics_service),
        **result,
    )


if __name__ == "__main__":
    main()
