"""Each simulated controller behaviour and its failure switch (annotation or simulator-config)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator

import boto3
import pytest
from support.s3 import S3Server

from .control_plane import set_simulator_s3, simulator_s3, use_rhoai
from .kube import JSON, Kube, KubeError, object_path
from .polling import wait_for

pytestmark = pytest.mark.cluster

OUTCOME = "sim.fraud-demo.test/outcome"
MESSAGE = "sim.fraud-demo.test/message"
CORE, APPS, BATCH = "v1", "apps/v1", "batch/v1"
OBC, ROUTE = "objectbucket.io/v1alpha1", "route.openshift.io/v1"
BUILD, IMAGE = "build.openshift.io/v1", "image.openshift.io/v1"
KSERVE_V1ALPHA1, KSERVE_V1BETA1 = "serving.kserve.io/v1alpha1", "serving.kserve.io/v1beta1"


def create(kube: Kube, api_version: str, plural: str, namespace: str, obj: JSON) -> JSON:
    """POST `obj` (apiVersion and kind filled in by the caller)."""
    return kube.request("POST", object_path(api_version, plural, namespace=namespace), obj) or {}


def get(kube: Kube, api_version: str, plural: str, name: str, namespace: str = "") -> JSON:
    return kube.get(object_path(api_version, plural, name, namespace)) or {}


def await_field(kube: Kube, api_version: str, plural: str, name: str, namespace: str, test: Callable[[JSON], object], what: str, timeout: float = 30) -> JSON:
    """Poll the object until `test(object)` is truthy; return the object."""
    return wait_for(f"{plural}/{name}: {what}", lambda: (o := get(kube, api_version, plural, name, namespace)) and test(o) and o, timeout)


def condition(obj: JSON, kind: str) -> str | None:
    return next((c["status"] for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


def meta(name: str, namespace: str, outcome: str | None = None, **extra: object) -> JSON:
    annotations = {OUTCOME: outcome} if outcome else {}
    return {"name": name, "namespace": namespace, "annotations": annotations, **extra}


def container(name: str = "main") -> JSON:
    return {"name": name, "image": "registry.example/app:1", "ports": [{"containerPort": 8080}]}


def deployment(name: str, namespace: str, outcome: str | None = None) -> JSON:
    labels = {"app": name}
    return {
        "apiVersion": APPS,
        "kind": "Deployment",
        "metadata": meta(name, namespace, outcome),
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"containers": [container()]}}},
    }


def job(name: str, namespace: str, outcome: str | None = None) -> JSON:
    return {
        "apiVersion": BATCH,
        "kind": "Job",
        "metadata": meta(name, namespace, outcome),
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [container()]}}},
    }


def claim(name: str, namespace: str, outcome: str | None = None) -> JSON:
    return {
        "apiVersion": OBC,
        "kind": "ObjectBucketClaim",
        "metadata": meta(name, namespace, outcome),
        "spec": {"generateBucketName": name, "storageClassName": "openshift-storage.noobaa.io", "additionalConfig": {"bucketclass": "noobaa-default-bucket-class"}},
    }


@pytest.mark.usefixtures("needs_controllers")
class TestWorkloads:
    def test_deployment_becomes_available(self, kube: Kube, namespace: str) -> None:
        create(kube, APPS, "deployments", namespace, deployment("web", namespace))
        done = await_field(kube, APPS, "deployments", "web", namespace, lambda d: condition(d, "Available") == "True", "Available")
        assert done["status"]["readyReplicas"] == 1

    def test_deployment_failure_switch_keeps_it_unavailable(self, kube: Kube, namespace: str) -> None:
        create(kube, APPS, "deployments", namespace, deployment("broken", namespace, "fail"))
        pods = wait_for("crash-looping pod", lambda: [p for p in (kube.get(object_path(CORE, "pods", namespace=namespace)) or {}).get("items", []) if p.get("status", {}).get("startTime")])
        assert pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert condition(get(kube, APPS, "deployments", "broken", namespace), "Available") != "True"

    def test_job_completes(self, kube: Kube, namespace: str) -> None:
        create(kube, BATCH, "jobs", namespace, job("train", namespace))
        await_field(kube, BATCH, "jobs", "train", namespace, lambda j: condition(j, "Complete") == "True", "Complete")

    def test_job_fails_when_asked_through_simulator_config(self, kube: Kube, namespace: str, sim_config: dict[str, str]) -> None:
        sim_config["jobs"] = "fail"
        create(kube, BATCH, "jobs", namespace, job("train", namespace))
        failed = await_field(kube, BATCH, "jobs", "train", namespace, lambda j: condition(j, "Failed") == "True", "Failed", timeout=60)
        assert failed["status"].get("failed") == 1


class TestObjectBucketClaims:
    @pytest.mark.usefixtures("needs_controllers")
    def test_claim_is_bound_with_configmap_and_secret_owned_by_it(self, kube: Kube, namespace: str) -> None:
        created = create(kube, OBC, "objectbucketclaims", namespace, claim("mlflow-server", namespace))
        bound = await_field(kube, OBC, "objectbucketclaims", "mlflow-server", namespace, lambda c: c.get("status", {}).get("phase") == "Bound", "Bound")
        bucket = bound["spec"]["bucketName"]
        assert bucket.startswith("mlflow-server-")
        config = get(kube, CORE, "configmaps", "mlflow-server", namespace)
        assert set(config["data"]) == {"BUCKET_HOST", "BUCKET_PORT", "BUCKET_NAME", "BUCKET_REGION", "BUCKET_SUBREGION"}
        assert config["data"]["BUCKET_NAME"] == bucket
        secret = get(kube, CORE, "secrets", "mlflow-server", namespace)
        assert set(secret["data"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        for child in (config, secret):
            assert child["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
        assert get(kube, OBC, "objectbuckets", f"obc-{namespace}-mlflow-server")["status"]["phase"] == "Bound"
        kube.request("DELETE", object_path(OBC, "objectbucketclaims", "mlflow-server", namespace))
        wait_for("claim secret collected", lambda: kube.get(object_path(CORE, "secrets", "mlflow-server", namespace)) is None, 60)
        wait_for("object bucket removed", lambda: kube.get(object_path(OBC, "objectbuckets", f"obc-{namespace}-mlflow-server")) is None)

    def test_claim_failure_and_ignore_switches(self, kube: Kube, namespace: str) -> None:
        create(kube, OBC, "objectbucketclaims", namespace, claim("ignored", namespace, "ignore"))
        create(kube, OBC, "objectbucketclaims", namespace, claim("failing", namespace, "fail"))
        await_field(kube, OBC, "objectbucketclaims", "failing", namespace, lambda c: c.get("status", {}).get("phase") == "Failed", "Failed")
        assert "status" not in get(kube, OBC, "objectbucketclaims", "ignored", namespace)
        assert kube.get(object_path(CORE, "secrets", "failing", namespace)) is None

    @pytest.mark.usefixtures("needs_controllers")
    def test_claim_creates_a_real_bucket_when_s3_is_configured(self, kube: Kube, namespace: str, s3_server: S3Server) -> None:
        s3 = s3_server.env
        previous = simulator_s3(kube)  # the control plane's ODF stand-in, when pods run
        set_simulator_s3(kube, s3)
        try:
            create(kube, OBC, "objectbucketclaims", namespace, claim("real", namespace))
            bound = await_field(kube, OBC, "objectbucketclaims", "real", namespace, lambda c: c.get("status", {}).get("phase") == "Bound", "Bound")
        finally:
            if previous:
                set_simulator_s3(kube, previous)
            else:
                kube.request("DELETE", object_path(CORE, "secrets", "simulator-s3", "kube-system"))
        config = get(kube, CORE, "configmaps", "real", namespace)["data"]
        assert f"http://{config['BUCKET_HOST']}:{config['BUCKET_PORT']}" == s3["AWS_S3_ENDPOINT"]
        keys = {k.lower(): base64.b64decode(v).decode() for k, v in get(kube, CORE, "secrets", "real", namespace)["data"].items()}
        client = boto3.client("s3", endpoint_url=s3["AWS_S3_ENDPOINT"], region_name=s3["AWS_DEFAULT_REGION"], **keys)
        client.head_bucket(Bucket=bound["spec"]["bucketName"])


class TestOpenShift:
    def test_route_gets_a_host_and_is_admitted(self, kube: Kube, namespace: str) -> None:
        create(kube, ROUTE, "routes", namespace, {"apiVersion": ROUTE, "kind": "Route", "metadata": meta("app", namespace), "spec": {"to": {"kind": "Service", "name": "app"}}})
        route = await_field(kube, ROUTE, "routes", "app", namespace, lambda r: r.get("status", {}).get("ingress"), "admitted")
        assert route["spec"]["host"] == f"app-{namespace}.apps.fraud-demo.test"
        ingress = route["status"]["ingress"][0]
        assert ingress["host"] == route["spec"]["host"]
        assert condition({"status": ingress}, "Admitted") == "True"

    def test_route_rejection_switch(self, kube: Kube, namespace: str) -> None:
        spec = {"host": "taken.example", "to": {"kind": "Service", "name": "app"}}
        create(kube, ROUTE, "routes", namespace, {"apiVersion": ROUTE, "kind": "Route", "metadata": meta("app", namespace, "fail"), "spec": spec})
        route = await_field(kube, ROUTE, "routes", "app", namespace, lambda r: r.get("status", {}).get("ingress"), "ingress status")
        admitted = route["status"]["ingress"][0]["conditions"][0]
        assert (admitted["status"], admitted["reason"]) == ("False", "HostAlreadyClaimed")

    def _build(self, namespace: str, name: str, outcome: str | None = None) -> JSON:
        return {
            "apiVersion": BUILD,
            "kind": "Build",
            "metadata": meta(name, namespace, outcome, labels={"buildconfig": "app"}),
            "spec": {
                "source": {"type": "Git", "git": {"uri": "https://example.invalid/app.git", "ref": "main"}, "contextDir": "app"},
                "strategy": {"type": "Docker", "dockerStrategy": {"dockerfilePath": "Containerfile"}},
                "output": {"to": {"kind": "ImageStreamTag", "name": "app:latest"}},
            },
        }

    def test_build_completes_and_pushes_the_image_stream_tag(self, kube: Kube, namespace: str) -> None:
        create(kube, IMAGE, "imagestreams", namespace, {"apiVersion": IMAGE, "kind": "ImageStream", "metadata": meta("app", namespace)})
        create(kube, BUILD, "buildconfigs", namespace, {"apiVersion": BUILD, "kind": "BuildConfig", "metadata": meta("app", namespace), "spec": self._build(namespace, "x")["spec"]})
        create(kube, BUILD, "builds", namespace, self._build(namespace, "app-1"))
        build = await_field(kube, BUILD, "builds", "app-1", namespace, lambda b: b.get("status", {}).get("phase") == "Complete", "Complete")
        stream = get(kube, IMAGE, "imagestreams", "app", namespace)
        assert stream["status"]["dockerImageRepository"].endswith(f"/{namespace}/app")
        latest = next(t for t in stream["status"]["tags"] if t["tag"] == "latest")
        assert latest["items"][0]["image"] == build["status"]["output"]["to"]["imageDigest"]
        assert get(kube, BUILD, "buildconfigs", "app", namespace)["status"]["lastVersion"] == 1

    def test_build_failure_switch(self, kube: Kube, namespace: str) -> None:
        create(kube, IMAGE, "imagestreams", namespace, {"apiVersion": IMAGE, "kind": "ImageStream", "metadata": meta("app", namespace)})
        build = self._build(namespace, "app-1", "fail")
        build["metadata"]["annotations"][MESSAGE] = "pip install failed"
        create(kube, BUILD, "builds", namespace, build)
        failed = await_field(kube, BUILD, "builds", "app-1", namespace, lambda b: b.get("status", {}).get("phase") == "Failed", "Failed")
        assert (failed["status"]["reason"], failed["status"]["message"]) == ("DockerBuildFailed", "pip install failed")


@pytest.mark.usefixtures("needs_controllers")
class TestNotebooks:
    def _notebook(self, namespace: str, outcome: str | None = None) -> JSON:
        annotations = {"notebooks.opendatahub.io/inject-oauth": "true"}
        notebook_meta = meta("wb", namespace, outcome)
        notebook_meta["annotations"] |= annotations
        return {"apiVersion": "kubeflow.org/v1", "kind": "Notebook", "metadata": notebook_meta, "spec": {"template": {"spec": {"containers": [container("wb")]}}}}

    def test_notebook_gets_ready_with_its_statefulset_service_and_route(self, kube: Kube, namespace: str) -> None:
        create(kube, "kubeflow.org/v1", "notebooks", namespace, self._notebook(namespace))
        await_field(kube, "kubeflow.org/v1", "notebooks", "wb", namespace, lambda n: n.get("status", {}).get("readyReplicas") == 1, "ready", timeout=60)
        assert get(kube, APPS, "statefulsets", "wb", namespace)["status"]["readyReplicas"] == 1
        assert get(kube, CORE, "services", "wb", namespace)["spec"]["ports"][0]["targetPort"] == 8888
        assert get(kube, ROUTE, "routes", "wb", namespace)["spec"]["to"]["name"] == "wb"

    def test_notebook_failure_switch_keeps_it_unready(self, kube: Kube, namespace: str) -> None:
        create(kube, "kubeflow.org/v1", "notebooks", namespace, self._notebook(namespace, "fail"))
        pod = wait_for("notebook pod started", lambda: (p := get(kube, CORE, "pods", "wb-0", namespace)) and p.get("status", {}).get("startTime") and p)
        assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        notebook = await_field(kube, "kubeflow.org/v1", "notebooks", "wb", namespace, lambda n: "readyReplicas" in n.get("status", {}), "status")
        assert notebook["status"]["readyReplicas"] == 0
        assert notebook["status"]["containerState"] == {"waiting": {"reason": "PodInitializing"}}


# A data connection as the dashboard labels it, so that odh-model-controller's storage-config has its key.
DATA_CONNECTION = {
    "metadata": {
        "name": "aws-connection-mlflow",
        "labels": {"opendatahub.io/dashboard": "true", "opendatahub.io/managed": "true"},
        "annotations": {"opendatahub.io/connection-type": "s3"},
    },
    "stringData": {"AWS_S3_BUCKET": "b", "AWS_S3_ENDPOINT": "http://s3.openshift-storage.svc"},
}


def _runtime(namespace: str, multi_model: bool) -> JSON:
    return {
        "apiVersion": KSERVE_V1ALPHA1,
        "kind": "ServingRuntime",
        "metadata": meta("ovms", namespace, annotations={"enable-route": "true", "opendatahub.io/template-name": "ovms"}),
        "spec": {
            "multiModel": multi_model,
            "supportedModelFormats": [{"name": "onnx", "version": "1"}],
            "containers": [{"name": "kserve-container" if not multi_model else "ovms", "image": "quay.io/modh/openvino:1", "args": ["--model_name={{.Name}}", "--port=8001", "--rest_port=8888"]}],
            **({"builtInAdapter": {"serverType": "ovms", "runtimeManagementPort": 8888}} if multi_model else {}),
        },
    }


def _isvc(namespace: str, mode: str, key: str = "aws-connection-mlflow", outcome: str | None = None) -> JSON:
    isvc_meta = meta("credit-card-fraud", namespace, outcome)
    isvc_meta["annotations"]["serving.kserve.io/deploymentMode"] = mode
    model = {"modelFormat": {"name": "onnx", "version": "1"}, "runtime": "ovms", "storage": {"key": key, "path": "1/models/m-1/artifacts"}}
    return {"apiVersion": KSERVE_V1BETA1, "kind": "InferenceService", "metadata": isvc_meta, "spec": {"predictor": {"model": model}}}


@pytest.mark.usefixtures("needs_controllers")
class TestServing:
    @staticmethod
    def _enable_modelmesh(kube: Kube, namespace: str, runtime_outcome: str | None = None) -> str:
        kube.merge_patch(f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": {"modelmesh-enabled": "true"}}})
        create(kube, CORE, "secrets", namespace, DATA_CONNECTION)
        runtime = _runtime(namespace, multi_model=True)
        if runtime_outcome:
            runtime["metadata"]["annotations"][OUTCOME] = runtime_outcome
        create(kube, KSERVE_V1ALPHA1, "servingruntimes", namespace, runtime)
        return namespace

    @pytest.fixture
    def modelmesh_namespace(self, kube: Kube, namespace: str) -> str:
        return self._enable_modelmesh(kube, namespace)

    def test_modelmesh_runtime_and_model_load(self, kube: Kube, modelmesh_namespace: str) -> None:
        ns = modelmesh_namespace
        create(kube, KSERVE_V1BETA1, "inferenceservices", ns, _isvc(ns, "ModelMesh"))
        isvc = await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", ns, lambda i: condition(i, "Ready") == "True", "Ready", timeout=60)
        assert isvc["status"]["modelStatus"]["states"]["activeModelState"] == "Loaded"
        assert isvc["status"]["components"]["predictor"]["restUrl"] == f"http://modelmesh-serving.{ns}:8008"
        assert condition(get(kube, APPS, "deployments", "modelmesh-serving-ovms", ns), "Available") == "True"
        assert {p["port"] for p in get(kube, CORE, "services", "modelmesh-serving", ns)["spec"]["ports"]} == {8008, 8033, 2112}
        assert get(kube, ROUTE, "routes", "credit-card-fraud", ns)["spec"]["path"] == "/v2/models/credit-card-fraud"

    def test_modelmesh_failed_to_load_switch(self, kube: Kube, modelmesh_namespace: str) -> None:
        ns = modelmesh_namespace
        create(kube, KSERVE_V1BETA1, "inferenceservices", ns, _isvc(ns, "ModelMesh", outcome="fail"))
        # the runtime pod comes first ("Waiting for runtime Pod to become available"), then the failed load
        isvc = await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", ns, lambda i: i.get("status", {}).get("modelStatus", {}).get("states", {}).get("activeModelState") == "FailedToLoad", "FailedToLoad", timeout=60)
        status = isvc["status"]["modelStatus"]
        assert status["lastFailureInfo"]["reason"] == "ModelLoadFailed"
        assert condition(isvc, "Ready") == "False"

    def test_modelmesh_missing_storage_key_fails_to_load(self, kube: Kube, modelmesh_namespace: str) -> None:
        ns = modelmesh_namespace
        create(kube, KSERVE_V1BETA1, "inferenceservices", ns, _isvc(ns, "ModelMesh", key="aws-connection-typo"))
        isvc = await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", ns, lambda i: i.get("status", {}).get("modelStatus", {}).get("states", {}).get("activeModelState") == "FailedToLoad", "FailedToLoad", timeout=60)
        # the puller reads only storage-config: no entry for the key
        assert "Did not find storage config for key aws-connection-typo" in isvc["status"]["modelStatus"]["lastFailureInfo"]["message"]

    def test_runtime_failure_switch_keeps_the_model_loading(self, kube: Kube, namespace: str) -> None:
        ns = self._enable_modelmesh(kube, namespace, runtime_outcome="fail")
        create(kube, KSERVE_V1BETA1, "inferenceservices", ns, _isvc(ns, "ModelMesh"))
        wait_for("runtime pod crash-looping", lambda: [p for p in (kube.get(object_path(CORE, "pods", namespace=ns)) or {}).get("items", []) if p.get("status", {}).get("startTime")])
        isvc = await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", ns, lambda i: i.get("status", {}).get("modelStatus"), "model status")
        assert isvc["status"]["modelStatus"]["states"]["activeModelState"] == "Loading"
        assert condition(get(kube, APPS, "deployments", "modelmesh-serving-ovms", ns), "Available") != "True"

    def test_raw_deployment_failure_switch(self, kube: Kube, namespace: str) -> None:
        create(kube, CORE, "secrets", namespace, DATA_CONNECTION)
        create(kube, KSERVE_V1ALPHA1, "servingruntimes", namespace, _runtime(namespace, multi_model=False))
        create(kube, KSERVE_V1BETA1, "inferenceservices", namespace, _isvc(namespace, "RawDeployment", outcome="fail"))
        # KServe Raw: the crash-looping kserve-container sets targetModelState, never activeModelState
        isvc = await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace, lambda i: i.get("status", {}).get("modelStatus", {}).get("states", {}).get("targetModelState") == "FailedToLoad", "FailedToLoad", timeout=60)
        assert isvc["status"]["modelStatus"]["transitionStatus"] == "BlockedByFailedLoad"
        assert isvc["status"]["modelStatus"]["states"]["activeModelState"] == ""
        assert condition(isvc, "Ready") == "False"

    def test_raw_deployment_gets_ready_with_an_address(self, kube: Kube, namespace: str) -> None:
        create(kube, CORE, "secrets", namespace, DATA_CONNECTION)
        create(kube, KSERVE_V1ALPHA1, "servingruntimes", namespace, _runtime(namespace, multi_model=False))
        create(kube, KSERVE_V1BETA1, "inferenceservices", namespace, _isvc(namespace, "RawDeployment"))
        isvc = await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace, lambda i: condition(i, "Ready") == "True", "Ready", timeout=60)
        # a headed predictor Service on 2.x: port 80; KServe's address names no port
        assert isvc["status"]["address"]["url"] == f"http://credit-card-fraud-predictor.{namespace}.svc.cluster.local"
        predictor = get(kube, APPS, "deployments", "credit-card-fraud-predictor", namespace)
        assert predictor["spec"]["template"]["spec"]["containers"][0]["args"][0] == "--model_name=credit-card-fraud"
        # no deploymentStrategy given: KServe's default rolling update (the model_serving role sets its own)
        assert predictor["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}

    def test_a_logger_gets_kserves_agent_sidecar_and_the_service_points_at_it(self, kube: Kube, namespace: str) -> None:
        runtime = _runtime(namespace, multi_model=False)
        runtime["spec"]["containers"][0]["ports"] = [{"containerPort": 8888, "protocol": "TCP"}]
        isvc = _isvc(namespace, "RawDeployment")
        isvc["metadata"]["annotations"]["fraud-demo.io/model-version"] = "3"
        sink = f"http://receiver.{namespace}.svc.cluster.local:8080/"
        # a key the InferenceService lacks is left out of --metadata-annotations, as the webhook does (with a warning)
        isvc["spec"]["predictor"]["logger"] = {"url": sink, "mode": "all", "metadataAnnotations": ["fraud-demo.io/model-version", "absent.example/key"]}
        create(kube, CORE, "secrets", namespace, DATA_CONNECTION)
        create(kube, KSERVE_V1ALPHA1, "servingruntimes", namespace, runtime)
        create(kube, KSERVE_V1BETA1, "inferenceservices", namespace, isvc)
        await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace, lambda i: condition(i, "Ready") == "True", "Ready", timeout=60)
        template = get(kube, APPS, "deployments", "credit-card-fraud-predictor", namespace)["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert {k: v for k, v in annotations.items() if k.startswith("internal.serving.kserve.io/logger")} == {
            "internal.serving.kserve.io/logger": "true", "internal.serving.kserve.io/logger-sink-url": sink,
            "internal.serving.kserve.io/logger-mode": "all",
            "internal.serving.kserve.io/logger-metadata-annotations": "fraud-demo.io/model-version,absent.example/key",
        }
        assert annotations["fraud-demo.io/model-version"] == "3"  # the InferenceService's own annotations reach the pod
        kserve, agent = template["spec"]["containers"]
        assert kserve["name"] == "kserve-container" and agent["name"] == "agent"
        assert agent["image"].startswith("quay.io/opendatahub/kserve-agent:")
        assert agent["args"] == [
            "--log-url", sink, "--source-uri", "", "--log-mode", "all", "--inference-service", "credit-card-fraud",
            "--namespace", namespace, "--endpoint", "", "--component", "predictor",
            "--metadata-annotations", "fraud-demo.io/model-version=3", "--logger-tls-skip-verify", "false", "--component-port", "8888",
        ]
        assert agent["ports"] == [{"name": "agent-port", "containerPort": 9081, "protocol": "TCP"}]
        assert agent["readinessProbe"]["httpGet"] == {"path": "/", "port": 9081, "scheme": "HTTP", "httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}]}
        assert agent["env"] == [{"name": "SERVING_READINESS_PROBE", "value": '{"tcpSocket":{"port":8888},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3}'}]
        assert agent["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "100Mi"}}
        service = get(kube, CORE, "services", "credit-card-fraud-predictor", namespace)
        assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, 9081)]

    def test_a_logger_added_later_moves_the_service_to_the_agent_and_back_when_removed(self, kube: Kube, namespace: str) -> None:
        runtime = _runtime(namespace, multi_model=False)
        runtime["spec"]["containers"][0]["ports"] = [{"containerPort": 8888, "protocol": "TCP"}]
        create(kube, CORE, "secrets", namespace, DATA_CONNECTION)
        create(kube, KSERVE_V1ALPHA1, "servingruntimes", namespace, runtime)
        create(kube, KSERVE_V1BETA1, "inferenceservices", namespace, _isvc(namespace, "RawDeployment"))
        await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace, lambda i: condition(i, "Ready") == "True", "Ready", timeout=60)

        def target_port() -> object:
            return get(kube, CORE, "services", "credit-card-fraud-predictor", namespace)["spec"]["ports"][0]["targetPort"]

        def containers() -> list[str]:
            return [c["name"] for c in get(kube, APPS, "deployments", "credit-card-fraud-predictor", namespace)["spec"]["template"]["spec"]["containers"]]

        assert target_port() == 8888 and containers() == ["kserve-container"]
        path = object_path(KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace)
        kube.merge_patch(path, {"spec": {"predictor": {"logger": {"url": "http://sink.example", "mode": "request"}}}})
        wait_for("the Service at the agent", lambda: target_port() == 9081, 30)
        assert containers() == ["kserve-container", "agent"]
        kube.merge_patch(path, {"spec": {"predictor": {"logger": None}}})
        wait_for("the Service back at the model", lambda: target_port() == 8888, 30)
        assert wait_for("no agent", lambda: containers() == ["kserve-container"], 30)


    def test_raw_deployment_gets_odh_model_controllers_metrics_service_and_service_monitor(
            self, kube: Kube, namespace: str) -> None:
        runtime = _runtime(namespace, multi_model=False)
        runtime["spec"]["annotations"] = {"prometheus.io/port": "8888", "prometheus.io/path": "metrics"}
        create(kube, CORE, "secrets", namespace, DATA_CONNECTION)
        create(kube, KSERVE_V1ALPHA1, "servingruntimes", namespace, runtime)
        create(kube, KSERVE_V1BETA1, "inferenceservices", namespace, _isvc(namespace, "RawDeployment"))
        await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace, lambda i: condition(i, "Ready") == "True", "Ready", timeout=60)
        service = get(kube, CORE, "services", "credit-card-fraud-metrics", namespace)
        assert service["metadata"]["labels"] == {"name": "credit-card-fraud-metrics", "monitoring.opendatahub.io/scrape": "true"}
        assert service["spec"]["ports"] == [{"name": "ovms-metrics", "protocol": "TCP", "port": 8888, "targetPort": 8888}]
        # its selector finds the predictor pod: the endpointslice controller lists it, ready, on 8888
        def ready_slices() -> list[JSON]:
            query = {"labelSelector": "kubernetes.io/service-name=credit-card-fraud-metrics"}
            items = (kube.request("GET", object_path("discovery.k8s.io/v1", "endpointslices", namespace=namespace), query=query) or {}).get("items") or []
            return [i for i in items if any((e.get("conditions") or {}).get("ready") for e in i.get("endpoints") or [])]
        assert wait_for("a ready metrics endpoint", ready_slices)[0]["ports"][0]["port"] == 8888
        monitor = get(kube, "monitoring.coreos.com/v1", "servicemonitors", "credit-card-fraud-metrics", namespace)
        assert monitor["spec"] == {"selector": {"matchLabels": {"name": "credit-card-fraud-metrics"}},
                                   "endpoints": [{"port": "ovms-metrics", "scheme": "http", "path": "/metrics"}]}
        assert monitor["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"

    def test_a_runtime_without_a_prometheus_port_gets_no_metrics_service(self, kube: Kube, namespace: str) -> None:
        create(kube, CORE, "secrets", namespace, DATA_CONNECTION)
        create(kube, KSERVE_V1ALPHA1, "servingruntimes", namespace, _runtime(namespace, multi_model=False))
        create(kube, KSERVE_V1BETA1, "inferenceservices", namespace, _isvc(namespace, "RawDeployment"))
        await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace, lambda i: condition(i, "Ready") == "True", "Ready", timeout=60)
        # upstream makes the ServiceMonitor whenever a runtime is found, the Service only with the annotation
        assert get(kube, "monitoring.coreos.com/v1", "servicemonitors", "credit-card-fraud-metrics", namespace)["spec"]["endpoints"] == [{"port": "ovms-metrics", "scheme": "http"}]
        assert kube.get(object_path(CORE, "services", "credit-card-fraud-metrics", namespace)) is None


def test_openshift_ai_generation_switch(kube: Kube) -> None:
    dsc = {"kind": "DataScienceCluster", "metadata": {"name": "default-dsc"}, "spec": {"components": {"dashboard": {"managementState": "Managed"}}}}
    try:
        create(kube, "datasciencecluster.opendatahub.io/v1", "datascienceclusters", "", {"apiVersion": "datasciencecluster.opendatahub.io/v1", **dsc})
        two = await_field(kube, "datasciencecluster.opendatahub.io/v1", "datascienceclusters", "default-dsc", "", lambda d: condition(d, "Ready") == "True", "Ready")
        assert two["status"]["release"]["version"].startswith("2.")
        assert kube.get("/apis/datasciencecluster.opendatahub.io/v2") is None
        use_rhoai(kube, 3)
        create(kube, "datasciencecluster.opendatahub.io/v2", "datascienceclusters", "", {"apiVersion": "datasciencecluster.opendatahub.io/v2", **dsc})
        three = await_field(kube, "datasciencecluster.opendatahub.io/v2", "datascienceclusters", "default-dsc", "", lambda d: condition(d, "Ready") == "True", "Ready")
        assert three["status"]["release"]["version"].startswith("3.")
        assert kube.get("/apis/infrastructure.opendatahub.io/v1/hardwareprofiles") is not None
    finally:
        use_rhoai(kube, 2)


def test_platform_status_and_its_failure_switch(kube: Kube, sim_config: dict[str, str]) -> None:
    dsci = {"apiVersion": "dscinitialization.opendatahub.io/v1", "kind": "DSCInitialization", "metadata": {"name": "default-dsci"}, "spec": {"applicationsNamespace": "redhat-ods-applications"}}
    dsc = {"apiVersion": "datasciencecluster.opendatahub.io/v1", "kind": "DataScienceCluster", "metadata": {"name": "broken"}, "spec": {"components": {"modelmeshserving": {"managementState": "Managed"}}}}
    sim_config["datascienceclusters"] = "fail"
    try:
        create(kube, "dscinitialization.opendatahub.io/v1", "dscinitializations", "", dsci)
        create(kube, "datasciencecluster.opendatahub.io/v1", "datascienceclusters", "", dsc)
        await_field(kube, "dscinitialization.opendatahub.io/v1", "dscinitializations", "default-dsci", "", lambda d: condition(d, "Ready") == "True", "Ready")
        broken = await_field(kube, "datasciencecluster.opendatahub.io/v1", "datascienceclusters", "broken", "", lambda d: condition(d, "Ready") == "False", "not Ready")
        assert broken["status"]["components"]["modelmeshserving"]["managementState"] == "Managed"
    finally:
        kube.request("DELETE", object_path("datasciencecluster.opendatahub.io/v1", "datascienceclusters", "broken"))
        kube.request("DELETE", object_path("dscinitialization.opendatahub.io/v1", "dscinitializations", "default-dsci"))


TRUSTYAI = "trustyai.opendatahub.io/v1"
DSC_V1 = "datasciencecluster.opendatahub.io/v1"


def _trustyai_service(namespace: str, storage: JSON | None = None) -> JSON:
    return {
        "apiVersion": TRUSTYAI,
        "kind": "TrustyAIService",
        "metadata": {"name": "trustyai-service", "namespace": namespace},
        "spec": {"storage": storage or {"format": "PVC", "folder": "/inputs", "size": "1Gi"},
                 "data": {"filename": "data.csv", "format": "CSV"}, "metrics": {"schedule": "5s"}},
    }


@pytest.mark.usefixtures("needs_controllers")
class TestTrustyAI:
    @pytest.fixture
    def trustyai_managed(self, kube: Kube) -> Iterator[str]:
        """A DataScienceCluster with trustyai Managed (the opendatahub-operator then runs the TrustyAI operator)."""
        dsc = {"apiVersion": DSC_V1, "kind": "DataScienceCluster", "metadata": {"name": "default-dsc"},
               "spec": {"components": {"trustyai": {"managementState": "Managed"}}}}
        create(kube, DSC_V1, "datascienceclusters", "", dsc)
        yield "default-dsc"
        kube.request("DELETE", object_path(DSC_V1, "datascienceclusters", "default-dsc"))
        wait_for("DataScienceCluster gone", lambda: kube.get(object_path(DSC_V1, "datascienceclusters", "default-dsc")) is None)

    @staticmethod
    def _isvcs(kube: Kube, namespace: str) -> None:
        # outcome ignore: KServe leaves them alone, only the TrustyAI operator writes to them
        create(kube, KSERVE_V1BETA1, "inferenceservices", namespace, _isvc(namespace, "RawDeployment", outcome="ignore"))
        plain = _isvc(namespace, "RawDeployment", outcome="ignore")
        plain["metadata"]["name"] = "no-mode"
        del plain["metadata"]["annotations"]["serving.kserve.io/deploymentMode"]
        create(kube, KSERVE_V1BETA1, "inferenceservices", namespace, plain)

    @pytest.mark.usefixtures("trustyai_managed")
    def test_trustyai_service_sets_the_raw_isvcs_logger_and_gets_ready(self, kube: Kube, namespace: str) -> None:
        self._isvcs(kube, namespace)
        create(kube, TRUSTYAI, "trustyaiservices", namespace, _trustyai_service(namespace))
        tas = await_field(kube, TRUSTYAI, "trustyaiservices", "trustyai-service", namespace, lambda t: condition(t, "Ready") == "True", "Ready", timeout=60)
        assert tas["metadata"]["finalizers"] == ["trustyai.opendatahub.io/finalizer"]
        assert (tas["status"]["phase"], tas["status"]["ready"]) == ("Ready", "True")
        reasons = {c["type"]: (c["status"], c["reason"]) for c in tas["status"]["conditions"]}
        assert reasons == {
            "InferenceServicesPresent": ("True", "InferenceServicesFound"), "PVCAvailable": ("True", "PVCFound"),
            "RouteAvailable": ("True", "RouteFound"), "Available": ("True", "AllComponentsReady"),
            "Ready": ("True", "AllComponentsReady"), "ProvisioningSucceeded": ("True", "ProvisioningComplete"),
            "Degraded": ("False", "FullyFunctional"),
        }
        assert "replicas" not in tas["status"]
        isvc = get(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace)
        assert isvc["spec"]["predictor"]["logger"] == {"mode": "all", "url": f"https://trustyai-service.{namespace}.svc.cluster.local"}
        # no deploymentMode annotation: "Unknown deployment mode, skipping InferenceService"
        assert "logger" not in get(kube, KSERVE_V1BETA1, "inferenceservices", "no-mode", namespace)["spec"]["predictor"]
        # the logger url's host: Service trustyai-service, https on 443
        service = get(kube, CORE, "services", "trustyai-service", namespace)
        assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": 80, "https": 443}
        assert get(kube, CORE, "persistentvolumeclaims", "trustyai-service-pvc", namespace)["status"]["phase"] == "Bound"
        assert get(kube, ROUTE, "routes", "trustyai-service", namespace)["spec"]["to"]["name"] == "trustyai-service-tls"
        # deletion: the finalizer takes the logger out again
        kube.request("DELETE", object_path(TRUSTYAI, "trustyaiservices", "trustyai-service", namespace))
        await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace, lambda i: "logger" not in i["spec"]["predictor"], "logger removed")
        wait_for("TrustyAIService gone", lambda: kube.get(object_path(TRUSTYAI, "trustyaiservices", "trustyai-service", namespace)) is None)

    @pytest.mark.usefixtures("trustyai_managed")
    def test_trustyai_service_without_its_database_secret_is_not_ready(self, kube: Kube, namespace: str) -> None:
        self._isvcs(kube, namespace)
        create(kube, TRUSTYAI, "trustyaiservices", namespace, _trustyai_service(namespace, {"format": "DATABASE", "databaseConfigurations": "db-credentials"}))
        tas = await_field(kube, TRUSTYAI, "trustyaiservices", "trustyai-service", namespace, lambda t: condition(t, "DBAvailable") == "False", "DBAvailable False")
        assert next(c for c in tas["status"]["conditions"] if c["type"] == "DBAvailable")["reason"] == "DBCredentialsNotFound"
        assert (tas["status"]["phase"], condition(tas, "Available")) == ("Not Ready", "False")
        # the InferenceServices are patched before the storage is looked at
        assert get(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace)["spec"]["predictor"]["logger"]["mode"] == "all"
        assert kube.get(object_path(APPS, "deployments", "trustyai-service", namespace)) is None
        # the finalizer needs the operator: remove the service while it runs
        kube.request("DELETE", object_path(TRUSTYAI, "trustyaiservices", "trustyai-service", namespace))
        wait_for("TrustyAIService gone", lambda: kube.get(object_path(TRUSTYAI, "trustyaiservices", "trustyai-service", namespace)) is None)

    def test_trustyai_service_waits_for_the_dsc_to_manage_trustyai(self, kube: Kube, namespace: str) -> None:
        dsc = {"apiVersion": DSC_V1, "kind": "DataScienceCluster", "metadata": {"name": "default-dsc"},
               "spec": {"components": {"trustyai": {"managementState": "Removed"}}}}
        create(kube, DSC_V1, "datascienceclusters", "", dsc)
        try:
            self._isvcs(kube, namespace)
            create(kube, TRUSTYAI, "trustyaiservices", namespace, _trustyai_service(namespace))
            time.sleep(3)
            assert "finalizers" not in get(kube, TRUSTYAI, "trustyaiservices", "trustyai-service", namespace)["metadata"]
            assert "logger" not in get(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace)["spec"]["predictor"]
            kube.merge_patch(object_path(DSC_V1, "datascienceclusters", "default-dsc"), {"spec": {"components": {"trustyai": {"managementState": "Managed"}}}})
            await_field(kube, KSERVE_V1BETA1, "inferenceservices", "credit-card-fraud", namespace, lambda i: i["spec"]["predictor"].get("logger"), "logger", timeout=45)
            kube.request("DELETE", object_path(TRUSTYAI, "trustyaiservices", "trustyai-service", namespace))
            wait_for("TrustyAIService gone", lambda: kube.get(object_path(TRUSTYAI, "trustyaiservices", "trustyai-service", namespace)) is None)
        finally:
            kube.request("DELETE", object_path(DSC_V1, "datascienceclusters", "default-dsc"))
            wait_for("DataScienceCluster gone", lambda: kube.get(object_path(DSC_V1, "datascienceclusters", "default-dsc")) is None)


MLFLOW, MLFLOW_CONFIG = "mlflow.opendatahub.io/v1", "mlflow.kubeflow.org/v1"
DSC_V2 = "datasciencecluster.opendatahub.io/v2"
GATEWAY_API = "gateway.networking.k8s.io/v1"
MLFLOW_NAMESPACE = "redhat-ods-applications"


def _mlflow(name: str = "mlflow", outcome: str | None = None, **spec: object) -> JSON:
    """An MLflow as config/samples/mlflow_v1_mlflow.yaml has it: SQLite on a PVC, artifacts served from it."""
    body: JSON = {"backendStoreUri": "sqlite:////mlflow/mlflow.db", "artifactsDestination": "file:///mlflow/artifacts", "serveArtifacts": True,
                  "storage": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    body.update(spec)
    metadata: JSON = {"name": name, "annotations": {OUTCOME: outcome} if outcome else {}}
    return {"apiVersion": MLFLOW, "kind": "MLflow", "metadata": metadata, "spec": {k: v for k, v in body.items() if v is not None}}


@pytest.fixture(scope="class")
def rhoai3(kube: Kube) -> Iterator[None]:
    """The 3.x variant for a class's tests: MLflow, MLflowConfig and HTTPRoute are served."""
    use_rhoai(kube, 3)
    yield
    use_rhoai(kube, 2)


@pytest.mark.usefixtures("needs_controllers")
class TestMLflow:
    @pytest.fixture
    def mlflow_managed(self, kube: Kube, rhoai3: None) -> Iterator[str]:
        """A DataScienceCluster (v2) with mlflowoperator Managed; the MLflow removed after the test. Outcome ignore:
        the simulated platform writes the DSC's status through v1, whose schema has no mlflowoperator, and that write
        would prune it from the stored spec (conversion None)."""
        dsc = {"apiVersion": DSC_V2, "kind": "DataScienceCluster", "metadata": {"name": "default-dsc", "annotations": {OUTCOME: "ignore"}},
               "spec": {"components": {"mlflowoperator": {"managementState": "Managed"}}}}
        create(kube, DSC_V2, "datascienceclusters", "", dsc)
        yield "default-dsc"
        if kube.get(object_path(MLFLOW, "mlflows", "mlflow")) is not None:
            kube.request("DELETE", object_path(MLFLOW, "mlflows", "mlflow"))
            wait_for("MLflow gone", lambda: kube.get(object_path(MLFLOW, "mlflows", "mlflow")) is None)
        wait_for("MLflow Deployment collected", lambda: kube.get(object_path(APPS, "deployments", "mlflow", MLFLOW_NAMESPACE)) is None, 60)
        kube.request("DELETE", object_path(DSC_V2, "datascienceclusters", "default-dsc"))
        wait_for("DataScienceCluster gone", lambda: kube.get(object_path(DSC_V2, "datascienceclusters", "default-dsc")) is None)

    @pytest.mark.usefixtures("rhoai3")
    def test_the_crds_are_served_mlflow_cluster_scoped_and_mlflowconfig_namespaced(self, kube: Kube) -> None:
        scopes = {r["name"]: r["namespaced"] for api in (MLFLOW, MLFLOW_CONFIG) for r in (kube.get(f"/apis/{api}") or {}).get("resources", []) if "/" not in r["name"]}
        assert scopes == {"mlflows": False, "mlflowconfigs": True}
        assert kube.get(f"/apis/{GATEWAY_API}") is not None

    @pytest.mark.usefixtures("mlflow_managed")
    def test_mlflow_gets_upstreams_status_urls_and_objects(self, kube: Kube, sim_config: dict[str, str]) -> None:
        sim_config["rhoai-version"] = "3.5.0"
        created = create(kube, MLFLOW, "mlflows", "", _mlflow())
        # the CRD's defaults
        assert {k: created["spec"][k] for k in ("replicas", "migration", "serviceAccountName", "workers")} == {
            "replicas": 1, "migration": {"mode": "Automatic"}, "serviceAccountName": "mlflow-sa", "workers": 1}
        ready = await_field(kube, MLFLOW, "mlflows", "mlflow", "", lambda m: condition(m, "Available") == "True", "Available", timeout=90)
        status = ready["status"]
        assert status["address"] == {"url": f"https://mlflow.{MLFLOW_NAMESPACE}.svc:8443/mlflow"}
        assert status["url"] == "https://rh-ai.apps.fraud-demo.test/mlflow"
        assert status["version"] == "v3.14.0"
        reasons = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
        assert reasons == {"MLflowOperatorReady": ("True", "Ready"), "Available": ("True", "DeploymentReady"),
                           "Progressing": ("False", "ReconcileComplete"), "Migration": ("True", "MigrationSucceeded")}
        assert next(c for c in status["conditions"] if c["type"] == "Migration")["observedGeneration"] == 1
        # the bootstrap migration Job ran first, then the Deployment was scaled up
        job = get(kube, BATCH, "jobs", "mlflow-mg-3140-g1", MLFLOW_NAMESPACE)
        assert job["status"]["succeeded"] == 1
        assert job["spec"]["template"]["spec"]["containers"][0]["name"] == "db-migrate"
        deployment = get(kube, APPS, "deployments", "mlflow", MLFLOW_NAMESPACE)
        assert deployment["spec"]["replicas"] == 1
        server = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {"--app-name=kubernetes-auth", "--enable-workspaces", "--workspace-store-uri=kubernetes://"} <= set(server["args"])
        assert {"name": "MLFLOW_K8S_AUTH_AUTHORIZATION_MODE", "value": "self_subject_access_review"} in server["env"]
        service = get(kube, CORE, "services", "mlflow", MLFLOW_NAMESPACE)
        assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("https", 8443)]
        assert service["metadata"]["annotations"]["service.beta.openshift.io/serving-cert-secret-name"] == "mlflow-tls"
        assert get(kube, CORE, "persistentvolumeclaims", "mlflow-pvc", MLFLOW_NAMESPACE)["status"]["phase"] == "Bound"
        route = get(kube, GATEWAY_API, "httproutes", "mlflow", MLFLOW_NAMESPACE)
        assert route["spec"]["parentRefs"][0] | {"group": "", "kind": ""} == {"name": "data-science-gateway", "namespace": "openshift-ingress", "group": "", "kind": ""}
        assert [r["matches"][0]["path"]["value"] for r in route["spec"]["rules"]] == ["/mlflow/v1", "/mlflow"]
        assert get(kube, "rbac.authorization.k8s.io/v1", "clusterrolebindings", "mlflow")["subjects"] == [
            {"kind": "ServiceAccount", "name": "mlflow-sa", "namespace": MLFLOW_NAMESPACE}]

    @pytest.mark.usefixtures("mlflow_managed")
    def test_mlflow_migration_failure_switch_keeps_it_unavailable(self, kube: Kube) -> None:
        create(kube, MLFLOW, "mlflows", "", _mlflow(outcome="fail"))
        failing = await_field(kube, MLFLOW, "mlflows", "mlflow", "", lambda m: condition(m, "Migration") == "Unknown" and
                              next(c for c in m["status"]["conditions"] if c["type"] == "Migration")["reason"] == "MigrationRetrying", "MigrationRetrying", timeout=90)
        assert (condition(failing, "Available"), condition(failing, "Progressing")) == ("False", "True")
        assert "url" not in failing["status"] and "version" not in failing["status"]
        assert failing["status"]["address"]["url"].startswith("https://mlflow.")
        assert get(kube, APPS, "deployments", "mlflow", MLFLOW_NAMESPACE)["spec"]["replicas"] == 0

    @pytest.mark.usefixtures("rhoai3")
    def test_mlflow_waits_for_the_dsc_and_the_api_rejects_what_upstream_rejects(self, kube: Kube) -> None:
        rejected = {
            "MLflow resource name must be 'mlflow'": _mlflow("other"),
            "backendStoreUri or backendStoreUriFrom must be set": _mlflow(backendStoreUri=None),
            "backendStoreUri and backendStoreUriFrom are mutually exclusive": _mlflow(backendStoreUriFrom={"name": "db", "key": "uri"}),
            "backendStoreUri must use a supported SQL metadata store URI scheme": _mlflow(backendStoreUri="file:///mlflow/store"),
            "storage must be configured when using file-based backend store": _mlflow(storage=None),
            "serveArtifacts must be enabled when artifactsDestination uses file-based storage": _mlflow(serveArtifacts=False, defaultArtifactRoot="s3://b/a"),
            "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE environment variable is not allowed": _mlflow(env=[{"name": "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", "value": "1"}]),
        }
        for message, body in rejected.items():
            with pytest.raises(KubeError) as invalid:
                create(kube, MLFLOW, "mlflows", "", body)
            assert invalid.value.status == 422 and message in str(invalid.value), message
        # accepted, but no mlflowoperator Managed: no operator writes a status
        create(kube, MLFLOW, "mlflows", "", _mlflow())
        try:
            time.sleep(3)
            assert "status" not in get(kube, MLFLOW, "mlflows", "mlflow")
        finally:
            kube.request("DELETE", object_path(MLFLOW, "mlflows", "mlflow"))

    @pytest.mark.usefixtures("rhoai3")
    def test_mlflowconfig_is_accepted_with_its_fields_and_validated(self, kube: Kube, namespace: str) -> None:
        def config(name: str = "mlflow", **spec: str) -> JSON:
            return {"apiVersion": MLFLOW_CONFIG, "kind": "MLflowConfig", "metadata": {"name": name},
                    "spec": {"artifactRootSecret": "mlflow-artifact-connection", "artifactRootPath": "experiments", **spec}}

        stored = create(kube, MLFLOW_CONFIG, "mlflowconfigs", namespace, config())
        assert stored["spec"] == {"artifactRootSecret": "mlflow-artifact-connection", "artifactRootPath": "experiments"}
        rejected = {
            "MLflowConfig resource name must be 'mlflow'": config("other"),
            "artifactRootSecret must be 'mlflow-artifact-connection'": config(artifactRootSecret="my-bucket"),
            "artifactRootPath must be relative": config(artifactRootPath="/experiments"),
            "artifactRootPath must not contain '..' path segments": config(artifactRootPath="team/../other"),
        }
        for message, body in rejected.items():
            with pytest.raises(KubeError) as invalid:
                create(kube, MLFLOW_CONFIG, "mlflowconfigs", namespace, body)
            assert invalid.value.status == 422 and message in str(invalid.value), message
