"""The control plane is a real Kubernetes API: versions, apply, conflicts, immutability, namespace
deletion, garbage collection, and our CRDs' schemas."""

from __future__ import annotations

import pytest

from .conftest import Cluster
from .control_plane import use_rhoai
from .kube import JSON, Kube, KubeError, object_path
from .polling import wait_for

pytestmark = pytest.mark.cluster


def _config_map(namespace: str, name: str, data: dict[str, str]) -> JSON:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def test_version_is_the_built_release(kube: Kube) -> None:
    version = kube.get("/version") or {}
    assert version["gitVersion"].startswith("v1."), version
    assert version["gitVersion"] != "v0.0.0-master"


def test_server_side_apply_tracks_managers_and_conflicts(kube: Kube, namespace: str) -> None:
    path = object_path("v1", "configmaps", "applied", namespace)
    kube.apply(path, _config_map(namespace, "applied", {"owner": "first"}), "first", force=False)
    with pytest.raises(KubeError) as conflict:
        kube.apply(path, _config_map(namespace, "applied", {"owner": "second"}), "second", force=False)
    assert conflict.value.status == 409
    forced = kube.apply(path, _config_map(namespace, "applied", {"owner": "second"}), "second", force=True) or {}
    assert forced["data"] == {"owner": "second"}
    assert {m["manager"] for m in forced["metadata"]["managedFields"]} >= {"second"}


def test_stale_resource_version_is_refused(kube: Kube, namespace: str) -> None:
    created = kube.request("POST", object_path("v1", "configmaps", namespace=namespace), _config_map(namespace, "cas", {"n": "1"})) or {}
    kube.merge_patch(object_path("v1", "configmaps", "cas", namespace), {"data": {"n": "2"}})
    stale = created | {"data": {"n": "3"}}
    with pytest.raises(KubeError) as conflict:
        kube.request("PUT", object_path("v1", "configmaps", "cas", namespace), stale)
    assert conflict.value.status == 409


def test_job_pod_template_is_immutable(kube: Kube, namespace: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "immutable", "namespace": namespace, "annotations": {"sim.fraud-demo.test/outcome": "ignore"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}},
    }
    kube.request("POST", object_path("batch/v1", "jobs", namespace=namespace), job)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "other"}]}}}}
    with pytest.raises(KubeError) as invalid:
        kube.merge_patch(object_path("batch/v1", "jobs", "immutable", namespace), patch)
    assert invalid.value.status == 422
    assert "immutable" in str(invalid.value)


@pytest.mark.usefixtures("needs_controllers")
def test_namespace_deletion_completes(kube: Kube) -> None:
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    kube.request("POST", object_path("v1", "configmaps", namespace="doomed"), _config_map("doomed", "content", {"a": "b"}))
    kube.request("DELETE", "/api/v1/namespaces/doomed")
    wait_for("namespace doomed gone", lambda: kube.get("/api/v1/namespaces/doomed") is None, 60)


@pytest.mark.usefixtures("needs_controllers")
def test_garbage_collector_removes_owned_objects(kube: Kube, namespace: str) -> None:
    owner = kube.request("POST", object_path("v1", "configmaps", namespace=namespace), _config_map(namespace, "owner", {})) or {}
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    child = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "child", "namespace": namespace, "ownerReferences": [ref]}}
    kube.request("POST", object_path("v1", "secrets", namespace=namespace), child)
    kube.request("DELETE", object_path("v1", "configmaps", "owner", namespace))
    wait_for("owned secret collected", lambda: kube.get(object_path("v1", "secrets", "child", namespace)) is None, 60)


@pytest.mark.usefixtures("needs_controllers")
def test_deleted_volume_claim_goes_away(kube: Kube, namespace: str) -> None:
    """Admission gives every PVC the pvc-protection finalizer; its controller lifts it once no pod uses it."""
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    created = kube.request("POST", object_path("v1", "persistentvolumeclaims", namespace=namespace), claim) or {}
    assert "kubernetes.io/pvc-protection" in created["metadata"].get("finalizers", [])
    path = object_path("v1", "persistentvolumeclaims", "data", namespace)
    kube.request("DELETE", path)
    wait_for("deleted claim gone", lambda: kube.get(path) is None, 60)


@pytest.mark.usefixtures("needs_controllers")
def test_service_account_token_secret_is_filled(kube: Kube, namespace: str) -> None:
    """A kubernetes.io/service-account-token Secret (model_serving's token auth) gets its token and CA."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "sa-token", "namespace": namespace, "annotations": {"kubernetes.io/service-account.name": "default"}},
    }
    kube.request("POST", object_path("v1", "secrets", namespace=namespace), secret)
    path = object_path("v1", "secrets", "sa-token", namespace)
    filled = wait_for("token filled in", lambda: {"token", "ca.crt"} <= set(((kube.get(path) or {}).get("data") or {})), 60)
    assert filled


def _route(namespace: str, **spec: object) -> JSON:
    return {
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": {"name": "r", "namespace": namespace, "annotations": {"sim.fraud-demo.test/outcome": "ignore"}},
        "spec": {"to": {"kind": "Service", "name": "svc"}, **spec},
    }


def test_crd_rejects_a_wrong_type(kube: Kube, namespace: str) -> None:
    with pytest.raises(KubeError) as invalid:
        kube.request("POST", object_path("route.openshift.io/v1", "routes", namespace=namespace), _route(namespace, port={"targetPort": 8080}, wildcardPolicy=3))
    assert invalid.value.status == 422
    assert "spec.wildcardPolicy" in str(invalid.value)


def test_crd_rejects_an_unknown_field_under_strict_validation(kube: Kube, namespace: str) -> None:
    path = object_path("route.openshift.io/v1", "routes", namespace=namespace)
    with pytest.raises(KubeError) as invalid:
        kube.request("POST", path, _route(namespace, hots="typo.example"), query={"fieldValidation": "Strict"})
    assert invalid.value.status == 400
    assert 'strict decoding error: unknown field "spec.hots"' in str(invalid.value)
    created = kube.request("POST", path, _route(namespace, hots="typo.example")) or {}
    assert "hots" not in created["spec"], "without Strict the unknown field is pruned, never stored"


def test_crd_requires_fields_upstream_requires(kube: Kube, namespace: str) -> None:
    claim = {"apiVersion": "objectbucket.io/v1alpha1", "kind": "ObjectBucketClaim", "metadata": {"name": "c", "namespace": namespace}, "spec": {"generateBucketName": "x"}}
    with pytest.raises(KubeError) as invalid:
        kube.request("POST", object_path("objectbucket.io/v1alpha1", "objectbucketclaims", namespace=namespace), claim)
    assert "spec.storageClassName: Required value" in str(invalid.value)


def test_build_and_build_config_each_take_only_their_own_fields(kube: Kube, namespace: str) -> None:
    """Upstream's BuildSpec and BuildConfigSpec share CommonSpec only: runPolicy and triggers are BuildConfig's."""
    common = {"strategy": {"type": "Docker", "dockerStrategy": {}}, "source": {"type": "Dockerfile", "dockerfile": "FROM scratch"}}
    build = {"apiVersion": "build.openshift.io/v1", "kind": "Build", "metadata": {"name": "b", "namespace": namespace}, "spec": common | {"runPolicy": "Serial", "triggers": []}}
    with pytest.raises(KubeError) as invalid:
        kube.request("POST", object_path("build.openshift.io/v1", "builds", namespace=namespace), build, query={"fieldValidation": "Strict"})
    assert 'unknown field "spec.runPolicy"' in str(invalid.value) and 'unknown field "spec.triggers"' in str(invalid.value)
    config = {"apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "bc", "namespace": namespace}, "spec": common | {"runPolicy": "Serial", "triggeredBy": []}}
    with pytest.raises(KubeError) as invalid:
        kube.request("POST", object_path("build.openshift.io/v1", "buildconfigs", namespace=namespace), config, query={"fieldValidation": "Strict"})
    assert 'unknown field "spec.triggeredBy"' in str(invalid.value)
    config["spec"].pop("triggeredBy")
    assert kube.request("POST", object_path("build.openshift.io/v1", "buildconfigs", namespace=namespace), config, query={"fieldValidation": "Strict"})


def test_v2_data_science_cluster_kueue_is_unmanaged_or_removed(kube: Kube) -> None:
    """opendatahub-operator v3.0.0: v2 kueue takes Unmanaged or Removed (Managed is v1's only)."""
    use_rhoai(kube, 3)
    try:
        path = object_path("datasciencecluster.opendatahub.io/v2", "datascienceclusters")
        dsc = {"apiVersion": "datasciencecluster.opendatahub.io/v2", "kind": "DataScienceCluster", "metadata": {"name": "kueue-check"}, "spec": {"components": {"kueue": {"managementState": "Managed"}}}}
        with pytest.raises(KubeError) as invalid:
            kube.request("POST", path, dsc)
        assert "spec.components.kueue.managementState" in str(invalid.value) and '"Unmanaged", "Removed"' in str(invalid.value)
        dsc["spec"]["components"]["kueue"]["managementState"] = "Unmanaged"
        assert kube.request("POST", path, dsc)
        kube.request("DELETE", object_path("datasciencecluster.opendatahub.io/v2", "datascienceclusters", "kueue-check"))
    finally:
        use_rhoai(kube, 2)


def test_cluster_fixture_reports_its_endpoint(cluster: Cluster, kube: Kube) -> None:
    assert cluster.url.startswith("https://127.0.0.1:")
    assert cluster.kubeconfig.stat().st_mode & 0o077 == 0
