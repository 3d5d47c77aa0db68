"""``serving_status``'s judgement of an InferenceService, on the status shapes upstream writes (module_utils
docstring: modelmesh-serving's rebuilt status, KServe Raw's PropagateRawStatus/PropagateModelStatus). The module
itself runs against the test control plane in the site scenarios."""

from typing import Any

import pytest

from ansible_collections.fraud_demo.mlops.plugins.module_utils.serving_status import assess, internal_base_url, metrics_url

PATH = "serving/credit-card-fraud/v2"


def isvc(version: str = "10", ready: bool = True, **model_status: Any) -> dict[str, Any]:
    return {
        "metadata": {"resourceVersion": version},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": "" if ready else "Loading"}],
            "modelStatus": model_status,
            "address": {"url": "http://credit-card-fraud-predictor.ns.svc.cluster.local:8080"},
            "components": {"predictor": {"restUrl": "http://modelmesh-serving.ns:8008"}},
        },
    }


def deployment(path: str = PATH, generation: int = 2, observed: int = 2, updated: int = 1, available: int = 1, total: int | None = None) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": 1, "template": {"metadata": {"annotations": {"internal.serving.kserve.io/storage-initializer-sourceuri": f"<scheme-placeholder>://{path}"}}}},
        "status": {"observedGeneration": observed, "replicas": updated if total is None else total, "updatedReplicas": updated, "availableReplicas": available},
    }


LOADED = {"transitionStatus": "UpToDate", "states": {"activeModelState": "Loaded", "targetModelState": ""}}
KSERVE_FAILED = {
    "transitionStatus": "BlockedByFailedLoad",
    "states": {"activeModelState": "", "targetModelState": "FailedToLoad"},
    "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "Storage initialization failed: Failed to fetch model. No model found in x.", "exitCode": 1},
}


def test_kserve_failure_is_named_from_target_model_state() -> None:
    # activeModelState stays "" in Raw mode: the old rule (activeModelState == FailedToLoad) never fired
    result = assess("kserve", isvc(ready=False, **KSERVE_FAILED), deployment(available=0), PATH)
    assert result["state"] == "failed"
    assert result["failure"]["message"].startswith("Storage initialization failed")


def test_kserve_invalid_spec_fails_without_a_deployment() -> None:
    status = {"transitionStatus": "InvalidSpec", "states": {"activeModelState": "", "targetModelState": "FailedToLoad"}, "lastFailureInfo": {"reason": "RuntimeNotRecognized"}}
    assert assess("kserve", isvc(ready=False, **status), None, PATH)["state"] == "failed"


def test_kserve_ready_but_the_deployment_still_holds_the_old_path_is_not_served() -> None:
    result = assess("kserve", isvc(**LOADED), deployment(path="serving/credit-card-fraud/v1"), PATH)
    assert result["state"] == "progressing"


def test_kserve_observed_generation_is_the_deployments_not_the_isvcs() -> None:
    # the InferenceService's own generation (say 7) is never compared: the Deployment's rollout is what counts
    assert assess("kserve", isvc(**LOADED), deployment(generation=3, observed=3), PATH)["state"] == "loaded"
    assert assess("kserve", isvc(**LOADED), deployment(generation=3, observed=2), PATH)["state"] == "progressing"


def test_kserve_waits_for_the_rollout_to_finish() -> None:
    assert assess("kserve", isvc(**LOADED), deployment(updated=1, available=0), PATH)["state"] == "progressing"
    assert assess("kserve", isvc(**LOADED), deployment(updated=1, available=1), PATH)["state"] == "loaded"


def test_kserve_is_not_served_while_the_old_replica_is_what_is_available() -> None:
    # A new pod that never becomes Ready (a corrupt model.onnx): the old one keeps Available at 1 and the
    # InferenceService Ready; only "no old replica left" (kubectl rollout status) tells the rollout is not done.
    assert assess("kserve", isvc(**LOADED), deployment(updated=1, available=1, total=2), PATH)["state"] == "progressing"


def test_a_stale_kserve_failure_of_the_previous_spec_is_not_taken_for_this_one() -> None:
    assert assess("kserve", isvc(ready=False, **KSERVE_FAILED), deployment(path="serving/credit-card-fraud/v1", updated=1), PATH)["state"] == "progressing"


@pytest.mark.parametrize(
    ("model_status", "state"),
    [
        (LOADED, "loaded"),
        ({"transitionStatus": "UpToDate", "states": {"activeModelState": "FailedToLoad"}, "lastFailureInfo": {"reason": "ModelLoadFailed"}}, "failed"),
        ({"transitionStatus": "BlockedByFailedLoad", "states": {"activeModelState": "Loaded", "targetModelState": "FailedToLoad"}}, "failed"),
        ({"transitionStatus": "InProgress", "states": {"activeModelState": "Loaded", "targetModelState": "Loading"}}, "progressing"),
        ({"transitionStatus": "InvalidSpec", "states": {"activeModelState": "FailedToLoad"}}, "failed"),
    ],
)
def test_modelmesh_states(model_status: dict[str, Any], state: str) -> None:
    assert assess("modelmesh", isvc(ready=state == "loaded", **model_status), None, "")["state"] == state


def test_modelmesh_status_written_before_our_apply_is_no_answer() -> None:
    # ModelMesh never sets observedGeneration: only a status written after the apply answers it
    assert assess("modelmesh", isvc(version="10", **LOADED), None, "", applied_version="10")["state"] == "progressing"
    assert assess("modelmesh", isvc(version="11", **LOADED), None, "", applied_version="10")["state"] == "loaded"


def test_urls_modelmesh_rest_and_kserve_headless_on_the_runtime_port() -> None:
    served = isvc(**LOADED)
    assert internal_base_url("modelmesh", served, None, None) == "http://modelmesh-serving.ns:8008"
    headless = {"spec": {"clusterIP": "None"}}
    headed = {"spec": {"clusterIP": "100.64.128.20"}}
    # KServe writes :8080 for a headless predictor whatever OVMS listens on (8888)
    assert internal_base_url("kserve", served, headless, 8888) == "http://credit-card-fraud-predictor.ns.svc.cluster.local:8888"
    assert internal_base_url("kserve", served, headed, 8888) == "http://credit-card-fraud-predictor.ns.svc.cluster.local:8080"
    # the Service's target port answers: the agent sidecar's when a payload logger is set (the requests pass it)
    logged = {"spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80, "targetPort": 9081}]}}
    assert internal_base_url("kserve", served, logged, 8888) == "http://credit-card-fraud-predictor.ns.svc.cluster.local:9081"


def test_the_metrics_url_is_the_metrics_services_first_port() -> None:
    service = {"metadata": {"name": "credit-card-fraud-metrics", "namespace": "ns"},
               "spec": {"ports": [{"name": "ovms-metrics", "port": 8888, "targetPort": 8888}]}}
    assert metrics_url(service) == "http://credit-card-fraud-metrics.ns.svc.cluster.local:8888/metrics"
    assert metrics_url(None) == ""  # metrics off, or ModelMesh
    assert metrics_url({"metadata": {"name": "m", "namespace": "ns"}, "spec": {"ports": []}}) == ""


def predictor_pod(path: str, name: str = "credit-card-fraud-predictor-new", **kserve_container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": {"internal.serving.kserve.io/storage-initializer-sourceuri": f"<scheme-placeholder>://{path}"}},
        "status": {"initContainerStatuses": [{"name": "storage-initializer", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}],
                   "containerStatuses": [{"name": "kserve-container", **kserve_container}]},
    }


def test_kserve_rollout_whose_new_pod_crashes_fails_with_its_message() -> None:
    # KServe keeps the old pod's Ready and Loaded: the new pod's CrashLoopBackOff is the only sign of the failure
    crashing = predictor_pod(PATH, state={"waiting": {"reason": "CrashLoopBackOff"}},
                             lastState={"terminated": {"reason": "Error", "exitCode": 1, "message": "Unable to read the model"}})
    old = predictor_pod("serving/credit-card-fraud/v1", name="old", state={"waiting": {"reason": "CrashLoopBackOff"}})
    result = assess("kserve", isvc(**LOADED), deployment(updated=1, available=1, total=2), PATH, pods=[old, crashing])
    assert result["state"] == "failed"
    assert result["failure"] == {"reason": "ModelLoadFailed", "message": "Unable to read the model", "exitCode": 1, "location": "credit-card-fraud-predictor-new/kserve-container", "restarting": True}


def test_kserve_rollout_whose_new_storage_initializer_errored_names_it() -> None:
    failed = predictor_pod(PATH, state={"waiting": {"reason": "PodInitializing"}})
    failed["status"]["initContainerStatuses"] = [{"name": "storage-initializer", "state": {"terminated": {"reason": "Error", "exitCode": 1, "message": "no objects"}}}]
    result = assess("kserve", isvc(**LOADED), deployment(updated=1, available=1, total=2), PATH, pods=[failed])
    assert result["failure"] == {"reason": "ModelLoadFailed", "message": "no objects", "exitCode": 1, "location": "credit-card-fraud-predictor-new/storage-initializer", "restarting": False}


def test_kserve_rollout_whose_new_pod_is_starting_is_progressing() -> None:
    starting = predictor_pod(PATH, state={"running": {}})
    assert assess("kserve", isvc(**LOADED), deployment(updated=1, available=1, total=2), PATH, pods=[starting])["state"] == "progressing"
