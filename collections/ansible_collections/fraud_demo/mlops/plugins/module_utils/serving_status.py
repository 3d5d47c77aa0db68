# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Whether an InferenceService serves its current spec, by the rules upstream writes its status with.

Pure functions over the objects as dicts (the module reads them). Upstream behaviour, as read in source:

- ModelMesh (kserve/modelmesh-serving `controllers/predictor_controller.go`, `pkg/predictor_source/
  inferenceservice_registry.go`): the status is rebuilt on each change and never carries `observedGeneration`; a
  first load that failed is `activeModelState: FailedToLoad`; a changed spec loads while the old model keeps
  serving (`transitionStatus: InProgress`), then `UpToDate`, or `BlockedByFailedLoad` when the new one failed;
  `InvalidSpec` for a spec it refuses. Its answer to our change is the first status written after it: the
  object's resourceVersion moved past the one our apply returned.
- KServe Raw/Standard (kserve `pkg/apis/serving/v1beta1/inference_service_status.go`, opendatahub-io/kserve
  odh-v3.4): `activeModelState` is only ever `Loaded`; a failed load is `targetModelState: FailedToLoad` with
  `transitionStatus` `BlockedByFailedLoad` (storage initializer or kserve-container failing, `lastFailureInfo`
  from its termination message) or `InvalidSpec`; `status.observedGeneration` is the predictor Deployment's, not
  the InferenceService's. So the spec is served when the predictor Deployment holds it (its pod template's
  `internal.serving.kserve.io/storage-initializer-sourceuri` is `<scheme-placeholder>://<path>`), the
  Deployment controller has seen it (observedGeneration >= generation) and its updated replicas are available.
- URLs: ModelMesh's `components.predictor.restUrl`; KServe's `status.address.url`, except for a headless
  predictor Service (OpenShift AI 3.x's default), where KServe releases before 2026-08 write port 8080 whatever the
  runtime listens on (`createAddress`; newer ones write the Service's target port, opendatahub-io/kserve 3cf0a041
  kube_ingress_reconciler.go `httpTargetPort`): there the Service's target port answers - the runtime's, or the
  agent sidecar's 9081 when a payload logger is set (service_reconciler.go), so that logged requests pass it.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]
SOURCE_URI = "internal.serving.kserve.io/storage-initializer-sourceuri"
FAILED_TRANSITIONS = ("BlockedByFailedLoad", "InvalidSpec")


def _condition(obj: JSON, kind: str) -> str:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return str(item.get("status", ""))
    return ""


def _not_true(obj: JSON) -> list[str]:
    return [
        f"{c.get('type')}: {c.get('reason') or ''} {c.get('message') or ''}".strip()
        for c in (obj.get("status") or {}).get("conditions") or []
        if c.get("status") != "True" and c.get("type") != "Stopped"
    ]


def rollout(deployment: JSON | None) -> JSON:
    """The predictor Deployment's rollout, as `kubectl rollout status` reads it."""
    if not deployment:
        return {"exists": False}
    spec, status, meta = deployment.get("spec") or {}, deployment.get("status") or {}, deployment.get("metadata") or {}
    replicas = int(spec.get("replicas", 1))
    return {
        "exists": True,
        "observed": int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 1)),
        "replicas": replicas,
        "updated": int(status.get("updatedReplicas", 0)),
        "total": int(status.get("replicas", 0)),
        "available": int(status.get("availableReplicas", 0)),
        "source_uri": ((spec.get("template") or {}).get("metadata") or {}).get("annotations", {}).get(SOURCE_URI, ""),
        "conditions": {c.get("type"): c.get("status") for c in status.get("conditions") or []},
    }


def pod_failure(pods: list[JSON], source_uri: str) -> JSON:
    """lastFailureInfo-like facts of a predictor pod of this spec that cannot load the model: its storage-initializer
    or kserve-container ended in error or is in CrashLoopBackOff. KServe looks only while the InferenceService is not
    Ready (PropagateModelStatus marks it Loaded first), so a rollout whose new pod fails behind an old one that still
    serves shows Ready and Loaded; the pods are where the failure is."""
    for pod in pods:
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if annotations.get(SOURCE_URI) != source_uri or (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        status = pod.get("status") or {}
        statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
        for container in statuses:
            if container.get("name") not in ("storage-initializer", "kserve-container"):
                continue
            state = container.get("state") or {}
            terminated = state.get("terminated") or {}
            restarting = (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff"
            if terminated.get("reason") == "Error":
                done = terminated
            elif restarting:
                done = (container.get("lastState") or {}).get("terminated") or {}
            else:
                continue
            return {"reason": "ModelLoadFailed", "message": done.get("message", ""), "exitCode": done.get("exitCode", 0),
                    "location": f"{pod['metadata'].get('name', '')}/{container['name']}", "restarting": restarting}
    return {}


def assess(platform: str, isvc: JSON | None, deployment: JSON | None, storage_path: str, applied_version: str = "", pods: list[JSON] | None = None) -> JSON:
    """`{state: loaded | failed | progressing, reason, failure, model_state, conditions, rollout}`.

    `applied_version` is the resourceVersion our apply left when it changed the object ("" when it changed
    nothing): a status older than that is not an answer to this spec yet."""
    if not isvc:
        return {"state": "progressing", "reason": "the InferenceService does not exist yet", "failure": {}, "model_state": {}, "conditions": [], "rollout": rollout(deployment)}
    status = isvc.get("status") or {}
    model = status.get("modelStatus") or {}
    states = model.get("states") or {}
    transition = model.get("transitionStatus", "")
    failure = model.get("lastFailureInfo") or {}
    stale = bool(applied_version) and (isvc.get("metadata") or {}).get("resourceVersion") == applied_version
    ready = _condition(isvc, "Ready") == "True"
    result = {"failure": failure, "model_state": {"transitionStatus": transition, **states}, "conditions": _not_true(isvc), "rollout": rollout(deployment)}
    if stale:
        return result | {"state": "progressing", "reason": "the serving controller has not answered this spec yet"}
    if platform == "modelmesh":
        if states.get("activeModelState") == "FailedToLoad" or transition in FAILED_TRANSITIONS:
            return result | {"state": "failed", "reason": f"ModelMesh could not load it ({transition or states.get('activeModelState')})"}
        if ready and states.get("activeModelState") == "Loaded" and transition == "UpToDate":
            return result | {"state": "loaded", "reason": "loaded"}
        return result | {"state": "progressing", "reason": f"model {states.get('activeModelState') or 'Pending'}, {transition or 'no transition yet'}"}
    current = result["rollout"]
    expected_uri = "<scheme-placeholder>://" + storage_path.lstrip("/")
    holds_spec = current.get("exists") and current["observed"] and (not storage_path or current["source_uri"] == expected_uri)
    if transition == "InvalidSpec" or (states.get("targetModelState") == "FailedToLoad" and transition == "BlockedByFailedLoad" and holds_spec and current["updated"] >= 1):
        return result | {"state": "failed", "reason": f"KServe could not load it ({transition})"}
    if not holds_spec:
        return result | {"state": "progressing", "reason": "the predictor Deployment does not hold this spec yet"}
    # kubectl rollout status: every replica updated, no old replica left (the old pod keeps a rollout whose new pod
    # fails Available, and with it a Ready InferenceService), every updated replica available.
    rolled_out = current["updated"] >= current["replicas"] and current["total"] <= current["updated"] and current["available"] >= current["updated"]
    if not rolled_out:
        broken = pod_failure(pods or [], expected_uri)
        if broken:
            return result | {"failure": broken, "state": "failed", "reason": f"the new predictor pod cannot load it ({broken['location']}); the previous one keeps serving"}
    if ready and rolled_out and transition == "UpToDate" and states.get("activeModelState") == "Loaded":
        return result | {"state": "loaded", "reason": "loaded"}
    return result | {
        "state": "progressing",
        "reason": f"predictor rollout: {current['updated']} of {current['replicas']} replicas updated, {current['available']} available; model {states.get('targetModelState') or 'Pending'}",
    }


def metrics_url(service: JSON | None) -> str:
    """The Prometheus URL of a KServe model's runtime inside the cluster: odh-model-controller's `<isvc>-metrics`
    Service (made when the runtime carries prometheus.io/port; kserve_metrics_service_reconciler.go), its first
    port, path /metrics (OVMS serves only that one); "" without the Service."""
    metadata = (service or {}).get("metadata") or {}
    ports = ((service or {}).get("spec") or {}).get("ports") or []
    if not metadata.get("name") or not ports or not ports[0].get("port"):
        return ""
    return f"http://{metadata['name']}.{metadata.get('namespace', '')}.svc.cluster.local:{ports[0]['port']}/metrics"


def internal_base_url(platform: str, isvc: JSON | None, service: JSON | None, runtime_port: int | None) -> str:
    """Where the V2 REST API of the model answers inside the cluster (no trailing slash)."""
    status = (isvc or {}).get("status") or {}
    if platform == "modelmesh":
        return str(((status.get("components") or {}).get("predictor") or {}).get("restUrl", "")).rstrip("/")
    address = str((status.get("address") or {}).get("url", "")).rstrip("/")
    spec = (service or {}).get("spec") or {}
    target = next((p.get("targetPort") for p in spec.get("ports") or [] if isinstance(p.get("targetPort"), int)), None)
    port = target or runtime_port
    if address and spec.get("clusterIP") == "None" and address.startswith("http://") and port:
        host = address.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        return f"http://{host}:{port}"
    return address
