"""The test cluster does what a node and OpenShift do for the pods that run here (pods/, simulator/): processes in
their own network and mount namespaces as the namespace's user, env and volumes from the API, exit codes and
termination messages, probes, logs through the API server, Services and DNS, the service CA, ODF's S3 over https,
the router, image builds, storage-config, KServe's storage initializer and OpenVINO loads, admission webhooks."""

from __future__ import annotations

import base64
import io
import json
import secrets
import socket
import ssl
import time
from typing import Any

import boto3
import pytest
from support.onnx_models import logistic_model

from . import network
from .control_plane import use_rhoai
from .kube import JSON, Kube, KubeError, object_path
from .polling import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.skipif(bool(network.available()), reason=network.available() or "pods run")]

PYTHON_IMAGE = "quay.io/opendatahub/kserve-storage-initializer:latest"  # runs the platform env: python3 + boto3
OVMS_IMAGE = "quay.io/modh/openvino_model_server@sha256:" + "5" * 64
CORE, APPS, BATCH = "v1", "apps/v1", "batch/v1"


def pod(name: str, command: list[str], *, image: str = PYTHON_IMAGE, restart: str = "Never", **extra: Any) -> JSON:
    container = {"name": "main", "image": image, "command": command, **extra.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"restartPolicy": restart, "automountServiceAccountToken": False, "containers": [container], **extra}}


def python(code: str) -> list[str]:
    return ["python3", "-c", code]


def run(kube: Kube, namespace: str, obj: JSON, timeout: float = 90) -> JSON:
    """Create a run-to-completion pod and wait until it ended; return it."""
    kube.request("POST", object_path(CORE, "pods", namespace=namespace), obj)
    path = object_path(CORE, "pods", obj["metadata"]["name"], namespace)
    return wait_for(f"pod {obj['metadata']['name']} ended", lambda: (p := kube.get(path)) and p.get("status", {}).get("phase") in ("Succeeded", "Failed") and p, timeout)


def log(kube: Kube, namespace: str, name: str, container: str = "main") -> str:
    return kube.text(object_path(CORE, "pods", name, namespace) + "/log", {"container": container})


def terminated(obj: JSON, init: bool = False) -> JSON:
    return obj["status"]["initContainerStatuses" if init else "containerStatuses"][0]["state"]["terminated"]


def odf(kube: Kube) -> dict[str, str]:
    """The admin keys and host endpoint of the cluster's ODF S3 stand-in."""
    secret = kube.get(object_path(CORE, "secrets", "simulator-s3", "kube-system")) or {}
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def s3_client(kube: Kube) -> Any:
    values = odf(kube)
    return boto3.client("s3", endpoint_url=values["AWS_S3_ENDPOINT"], aws_access_key_id=values["AWS_ACCESS_KEY_ID"], aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")


class TestPods:
    def test_a_pod_sees_its_env_volumes_user_and_network_as_on_a_node(self, kube: Kube, namespace: str) -> None:
        kube.request("POST", object_path(CORE, "configmaps", namespace=namespace), {"metadata": {"name": "settings"}, "data": {"greeting": "hello", "file.txt": "from a configmap"}})
        token = secrets.token_hex(8)
        kube.request("POST", object_path(CORE, "secrets", namespace=namespace), {"metadata": {"name": "keys"}, "stringData": {"TOKEN": token}})
        code = (
            "import json, os, socket\n"
            "report = {'uid': os.getuid(), 'gid': os.getgid(), 'env': {k: os.environ.get(k) for k in ('TOKEN', 'GREETING', 'WHO', 'POD', 'KUBERNETES_SERVICE_HOST')},\n"
            "  'file': open('/etc/settings/file.txt').read(), 'hostname': socket.gethostname(), 'ip': socket.gethostbyname(socket.gethostname())}\n"
            "try:\n  open('/etc/settings/new', 'w')\nexcept OSError as e:\n  report['readonly'] = e.strerror\n"
            "open('/scratch/out', 'w').write('ok')\nprint(json.dumps(report))\n"
        )
        spec = pod(
            "sees",
            python(code),
            container={
                "envFrom": [{"secretRef": {"name": "keys"}}],
                "env": [
                    {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}}},
                    {"name": "WHO", "value": "$(GREETING) world"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "volumeMounts": [{"name": "settings", "mountPath": "/etc/settings", "readOnly": True}, {"name": "scratch", "mountPath": "/scratch"}],
            },
            volumes=[{"name": "settings", "configMap": {"name": "settings"}}, {"name": "scratch", "emptyDir": {}}],
        )
        done = run(kube, namespace, spec)
        assert done["status"]["phase"] == "Succeeded", log(kube, namespace, "sees")
        report = json.loads(log(kube, namespace, "sees").strip().splitlines()[-1])
        # OpenShift's restricted SCC: a UID of the namespace's range, group 0
        assert report["uid"] >= 1000000000 and report["gid"] == 0
        assert report["env"] == {"TOKEN": token, "GREETING": "hello", "WHO": "hello world", "POD": "sees", "KUBERNETES_SERVICE_HOST": report["env"]["KUBERNETES_SERVICE_HOST"]}
        assert report["env"]["KUBERNETES_SERVICE_HOST"].startswith("100.")
        assert report["file"] == "from a configmap" and report["readonly"] == "Read-only file system"
        assert report["hostname"] == "sees" and report["ip"] == done["status"]["podIP"]

    def test_a_missing_secret_is_a_create_container_config_error(self, kube: Kube, namespace: str) -> None:
        kube.request("POST", object_path(CORE, "pods", namespace=namespace), pod("nokeys", python("pass"), container={"envFrom": [{"secretRef": {"name": "absent"}}]}))
        def waiting() -> JSON | None:
            state = ((kube.get(object_path(CORE, "pods", "nokeys", namespace)) or {}).get("status", {}).get("containerStatuses") or [{}])[0].get("state", {})
            # the kubelet reports ContainerCreating first, as a kubelet does while it prepares the container
            return state.get("waiting") if state.get("waiting", {}).get("reason") not in (None, "ContainerCreating") else None

        waiting = wait_for("waiting reason", waiting)
        assert waiting == {"reason": "CreateContainerConfigError", "message": 'secret "absent" not found'}

    def test_exit_code_and_termination_message_with_fallback_to_logs(self, kube: Kube, namespace: str) -> None:
        explicit = run(kube, namespace, pod("says", ["/bin/sh", "-c", "echo summary > /dev/termination-log; exit 0"]))
        assert terminated(explicit) | {"startedAt": "", "finishedAt": "", "containerID": ""} == {"exitCode": 0, "reason": "Completed", "message": "summary\n", "startedAt": "", "finishedAt": "", "containerID": ""}
        failed = run(kube, namespace, pod("fails", ["/bin/sh", "-c", "echo first; echo the reason >&2; exit 3"], container={"terminationMessagePolicy": "FallbackToLogsOnError"}))
        assert failed["status"]["phase"] == "Failed"
        assert terminated(failed)["exitCode"] == 3 and terminated(failed)["message"] == "first\nthe reason"
        silent = run(kube, namespace, pod("silent", ["/bin/sh", "-c", "echo not kept; exit 1"]))
        assert "message" not in terminated(silent)  # terminationMessagePolicy File: only /dev/termination-log counts

    def test_a_crash_looping_container_keeps_the_dead_runs_log_as_previous(self, kube: Kube, namespace: str) -> None:
        # What `kubectl logs [--previous]` shows, after kubelet_pods.go validateContainerLogStatus: `previous` is the
        # run in lastState.terminated; in CrashLoopBackOff the current log is that same dead run's.
        script = 'n=$(( $(cat /scratch/n 2>/dev/null || echo 0) + 1 )); echo $n > /scratch/n; echo "run $n"; [ $n -ge 2 ] && sleep 120; exit 1'
        spec = pod("loops", ["/bin/sh", "-c", script], restart="Always", container={"volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}, volumes=[{"name": "scratch", "emptyDir": {}}])
        kube.request("POST", object_path(CORE, "pods", namespace=namespace), spec)
        path = object_path(CORE, "pods", "loops", namespace)

        def status(state: str) -> JSON | None:
            found = ((kube.get(path) or {}).get("status", {}).get("containerStatuses") or [{}])[0]
            return found if state in found.get("state", {}) and found.get("restartCount") == 1 else None

        backing_off = wait_for("CrashLoopBackOff after the first run", lambda: status("waiting"), 60)
        assert backing_off["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        query = {"container": "main", "previous": "true"}
        assert kube.text(path + "/log", query) == "run 1\n" and log(kube, namespace, "loops") == "run 1\n"
        wait_for("the second run", lambda: status("running"), 60)
        assert wait_for("the second run's log", lambda: log(kube, namespace, "loops") == "run 2\n", 30)
        assert kube.text(path + "/log", query) == "run 1\n"

    def test_job_fails_on_the_real_exit_code(self, kube: Kube, namespace: str) -> None:
        job = {"apiVersion": BATCH, "kind": "Job", "metadata": {"name": "exits"}, "spec": {"backoffLimit": 0, "template": {"spec": pod("x", ["/bin/sh", "-c", "exit 2"])["spec"]}}}
        kube.request("POST", object_path(BATCH, "jobs", namespace=namespace), job)
        failed = wait_for("job failed", lambda: (j := kube.get(object_path(BATCH, "jobs", "exits", namespace))) and any(c["type"] == "Failed" and c["status"] == "True" for c in (j.get("status") or {}).get("conditions") or []) and j, 90)
        assert failed["status"]["failed"] == 1

    def test_deployment_is_available_only_when_its_probe_passes_and_its_service_answers(self, kube: Kube, namespace: str) -> None:
        labels = {"app": "web"}
        server = python("import time, http.server; time.sleep(3); http.server.ThreadingHTTPServer(('0.0.0.0', 8080), http.server.SimpleHTTPRequestHandler).serve_forever()")
        container = {"name": "web", "image": PYTHON_IMAGE, "command": server, "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1}}
        deployment = {"apiVersion": APPS, "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"automountServiceAccountToken": False, "containers": [container]}}}}
        kube.request("POST", object_path(APPS, "deployments", namespace=namespace), deployment)
        kube.request("POST", object_path(CORE, "services", namespace=namespace), {"metadata": {"name": "web"}, "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
        started = time.monotonic()
        wait_for("Available", lambda: any(c["type"] == "Available" and c["status"] == "True" for c in ((kube.get(object_path(APPS, "deployments", "web", namespace)) or {}).get("status") or {}).get("conditions") or []), 90)
        assert time.monotonic() - started >= 3  # not before the server listened
        code = "import urllib.request; print(urllib.request.urlopen('http://web/', timeout=5).status, urllib.request.urlopen(f'http://web.{__import__(\"os\").environ[\"NS\"]}.svc.cluster.local/', timeout=5).status)"
        client = run(kube, namespace, pod("client", python(code), container={"env": [{"name": "NS", "value": namespace}]}))
        assert log(kube, namespace, "client").strip() == "200 200"
        assert client["status"]["phase"] == "Succeeded"

    def test_cluster_names_do_not_resolve_from_the_controller(self, kube: Kube) -> None:
        service = kube.get(object_path(CORE, "services", "s3", "openshift-storage")) or {}
        assert service["spec"]["clusterIP"].startswith("100.")
        with pytest.raises(OSError):
            socket.getaddrinfo("s3.openshift-storage.svc.cluster.local", 443)


class TestServiceCA:
    def test_every_namespace_gets_the_service_ca_and_annotated_configmaps_get_it_injected(self, kube: Kube, namespace: str) -> None:
        published = wait_for("openshift-service-ca.crt", lambda: kube.get(object_path(CORE, "configmaps", "openshift-service-ca.crt", namespace)))
        ca = published["data"]["service-ca.crt"]
        assert ca.startswith("-----BEGIN CERTIFICATE-----")
        kube.request("POST", object_path(CORE, "configmaps", namespace=namespace), {"metadata": {"name": "mine", "annotations": {"service.beta.openshift.io/inject-cabundle": "true"}}, "data": {"other": "dropped"}})
        injected = wait_for("injected", lambda: (c := kube.get(object_path(CORE, "configmaps", "mine", namespace))) and "service-ca.crt" in (c.get("data") or {}) and c)
        assert injected["data"] == {"service-ca.crt": ca}  # the injector replaces data as a whole

    def test_a_pod_trusts_odf_only_with_the_service_ca(self, kube: Kube, namespace: str) -> None:
        code = (
            "import ssl, urllib.request, urllib.error\n"
            "for ca in (None, '/ca/service-ca.crt'):\n"
            "  try:\n    urllib.request.urlopen('https://s3.openshift-storage.svc/', context=ssl.create_default_context(cafile=ca), timeout=5)\n"
            "  except urllib.error.HTTPError as e:\n    print(ca, 'HTTP', e.code)\n"
            "  except urllib.error.URLError as e:\n    print(ca, 'TLS', e.reason)\n"
        )
        run(kube, namespace, pod("tls", python(code), container={"volumeMounts": [{"name": "ca", "mountPath": "/ca"}]}, volumes=[{"name": "ca", "configMap": {"name": "openshift-service-ca.crt"}}]))
        lines = log(kube, namespace, "tls").strip().splitlines()
        assert "CERTIFICATE_VERIFY_FAILED" in lines[0]  # the system CAs do not know the service CA
        assert lines[1] == "/ca/service-ca.crt HTTP 403"  # TLS verified; SeaweedFS refuses the anonymous request

    def test_serving_certificate_secret_for_an_annotated_service(self, kube: Kube, namespace: str) -> None:
        kube.request("POST", object_path(CORE, "services", namespace=namespace), {"metadata": {"name": "api", "annotations": {"service.beta.openshift.io/serving-cert-secret-name": "api-tls"}}, "spec": {"ports": [{"port": 443}]}})
        secret = wait_for("serving cert", lambda: kube.get(object_path(CORE, "secrets", "api-tls", namespace)))
        assert secret["type"] == "kubernetes.io/tls"
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        assert names == [f"api.{namespace}.svc", f"api.{namespace}.svc.cluster.local"]


class TestRouter:
    def test_an_admitted_route_answers_over_edge_tls_signed_by_the_ingress_ca(self, kube: Kube, namespace: str, cluster: Any) -> None:
        labels = {"app": "echo"}
        container = {"name": "echo", "image": PYTHON_IMAGE, "command": python("import http.server; http.server.ThreadingHTTPServer(('0.0.0.0', 8080), http.server.SimpleHTTPRequestHandler).serve_forever()"), "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}
        kube.request("POST", object_path(CORE, "pods", namespace=namespace), {"metadata": {"name": "echo", "labels": labels}, "spec": {"automountServiceAccountToken": False, "containers": [container]}})
        kube.request("POST", object_path(CORE, "services", namespace=namespace), {"metadata": {"name": "echo"}, "spec": {"selector": labels, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}})
        kube.request("POST", object_path("route.openshift.io/v1", "routes", namespace=namespace), {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "echo"}, "spec": {"to": {"kind": "Service", "name": "echo"}, "port": {"targetPort": "http"}, "tls": {"termination": "edge"}}})
        route = wait_for("admitted", lambda: (r := kube.get(object_path("route.openshift.io/v1", "routes", "echo", namespace))) and (r.get("status") or {}).get("ingress") and r)
        host = route["spec"]["host"]
        ingress = kube.get(object_path(CORE, "configmaps", "default-ingress-cert", "openshift-config-managed")) or {}
        context = ssl.create_default_context(cadata=ingress["data"]["ca-bundle.crt"])
        router = _router(kube)

        def answer() -> str:
            with socket.create_connection((router, 443), timeout=5) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                return tls.recv(100).decode(errors="replace")

        assert wait_for("answer through the route", lambda: answer().startswith("HTTP/1.0 200") or answer().startswith("HTTP/1.1 200"), 60)


def _router(kube: Kube) -> str:
    service = kube.get(object_path(CORE, "services", "s3", "openshift-storage")) or {}
    prefix = ".".join(service["spec"]["clusterIP"].split(".")[:2])
    return f"{prefix}.200.1"


class TestImages:
    def test_a_local_build_becomes_an_image_that_runs_its_entrypoint(self, kube: Kube, namespace: str) -> None:
        dockerfile = 'FROM registry.access.redhat.com/ubi9/python-312:latest\nLABEL name="fraud-app"\nWORKDIR /opt/app-root/src\nCOPY hello.py ./\nENV GREETING=built\nCMD ["python", "hello.py"]\n'
        kube.request("POST", object_path(CORE, "configmaps", namespace=namespace), {"metadata": {"name": "src"}, "data": {"hello.py": "import os; print(os.environ['GREETING'], os.getcwd())\n"}})
        kube.request("POST", object_path("image.openshift.io/v1", "imagestreams", namespace=namespace), {"apiVersion": "image.openshift.io/v1", "kind": "ImageStream", "metadata": {"name": "hello"}, "spec": {}})
        build = {"apiVersion": "build.openshift.io/v1", "kind": "Build", "metadata": {"name": "hello-1"}, "spec": {"source": {"type": "Dockerfile", "dockerfile": dockerfile, "configMaps": [{"configMap": {"name": "src"}}]}, "strategy": {"type": "Docker", "dockerStrategy": {}}, "output": {"to": {"kind": "ImageStreamTag", "name": "hello:latest"}}}}
        kube.request("POST", object_path("build.openshift.io/v1", "builds", namespace=namespace), build)
        done = wait_for("build complete", lambda: (b := kube.get(object_path("build.openshift.io/v1", "builds", "hello-1", namespace))) and (b.get("status") or {}).get("phase") == "Complete" and b, 60)
        image = done["status"]["outputDockerImageReference"].rsplit(":", 1)[0] + "@" + done["status"]["output"]["to"]["imageDigest"]
        ran = run(kube, namespace, pod("hello", [], image=image))
        assert ran["status"]["phase"] == "Succeeded", log(kube, namespace, "hello")
        assert log(kube, namespace, "hello").strip() == "built /opt/app-root/src"
        unknown = image.rsplit("@", 1)[0] + "@sha256:" + "0" * 64
        kube.request("POST", object_path(CORE, "pods", namespace=namespace), pod("missing", [], image=unknown))
        waiting = wait_for("ErrImagePull", lambda: ((kube.get(object_path(CORE, "pods", "missing", namespace)) or {}).get("status", {}).get("containerStatuses") or [{}])[0].get("state", {}).get("waiting"))
        assert waiting["reason"] == "ErrImagePull"


class TestOpenShiftAI:
    def test_storage_config_is_built_from_the_data_connections_as_odh_model_controller_does(self, kube: Kube, namespace: str) -> None:
        labels = {"opendatahub.io/dashboard": "true", "opendatahub.io/managed": "true"}
        for name, endpoint in (("aws-connection-http", "http://s3.openshift-storage.svc"), ("aws-connection-https", "https://s3.openshift-storage.svc")):
            kube.request("POST", object_path(CORE, "secrets", namespace=namespace), {"metadata": {"name": name, "labels": labels, "annotations": {"opendatahub.io/connection-type": "s3"}}, "stringData": {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_S3_ENDPOINT": endpoint, "AWS_DEFAULT_REGION": "us-east-1", "AWS_S3_BUCKET": "bucket"}})
        config = wait_for("storage-config", lambda: (s := kube.get(object_path(CORE, "secrets", "storage-config", namespace))) and len(s.get("data") or {}) == 2 and s)
        entries = {k: json.loads(base64.b64decode(v)) for k, v in config["data"].items()}
        assert entries["aws-connection-http"] == {"access_key_id": "a", "bucket": "bucket", "default_bucket": "bucket", "endpoint_url": "http://s3.openshift-storage.svc", "region": "us-east-1", "secret_access_key": "b", "type": "s3"}
        # 2.x: no `certificate` without a DSCI custom CA bundle: ModelMesh's puller then uses system CAs only
        assert "certificate" not in entries["aws-connection-https"]
        assert entries["aws-connection-https"]["cabundle_configmap"] == "odh-kserve-custom-ca-bundle"
        bundle = kube.get(object_path(CORE, "configmaps", "odh-kserve-custom-ca-bundle", namespace)) or {}
        service_ca = (kube.get(object_path(CORE, "configmaps", "openshift-service-ca.crt", namespace)) or {})["data"]["service-ca.crt"]
        assert service_ca.strip() in bundle["data"]["cabundle.crt"]

    def test_a_dsci_custom_ca_bundle_reaches_the_trusted_bundle_and_modelmesh_certificate(self, kube: Kube, namespace: str) -> None:
        service_ca = wait_for("service CA", lambda: ((kube.get(object_path(CORE, "configmaps", "openshift-service-ca.crt", namespace)) or {}).get("data") or {}).get("service-ca.crt"))
        path = object_path("dscinitialization.opendatahub.io/v1", "dscinitializations")
        dsci = {"apiVersion": "dscinitialization.opendatahub.io/v1", "kind": "DSCInitialization", "metadata": {"name": "ca-dsci"}, "spec": {"applicationsNamespace": "redhat-ods-applications", "trustedCABundle": {"managementState": "Managed", "customCABundle": ""}}}
        kube.request("POST", path, dsci)
        try:
            wait_for("odh-trusted-ca-bundle", lambda: kube.get(object_path(CORE, "configmaps", "odh-trusted-ca-bundle", namespace)))
            kube.request("PATCH", object_path("dscinitialization.opendatahub.io/v1", "dscinitializations", "ca-dsci"), {"spec": {"trustedCABundle": {"customCABundle": service_ca}}}, content_type="application/merge-patch+json")
            trusted = wait_for("custom bundle in odh-trusted-ca-bundle", lambda: (c := kube.get(object_path(CORE, "configmaps", "odh-trusted-ca-bundle", namespace))) and service_ca.strip() in c["data"]["odh-ca-bundle.crt"] and c)
            assert trusted["data"]["odh-ca-bundle.crt"] == service_ca.strip() + "\n"
            labels = {"opendatahub.io/dashboard": "true", "opendatahub.io/managed": "true"}
            kube.request("POST", object_path(CORE, "secrets", namespace=namespace), {"metadata": {"name": "aws-connection-https", "labels": labels, "annotations": {"opendatahub.io/connection-type": "s3"}}, "stringData": {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_S3_ENDPOINT": "https://s3.openshift-storage.svc", "AWS_DEFAULT_REGION": "us-east-1", "AWS_S3_BUCKET": "bucket"}})
            config = wait_for("storage-config", lambda: kube.get(object_path(CORE, "secrets", "storage-config", namespace)))
            entry = json.loads(base64.b64decode(config["data"]["aws-connection-https"]))
            # 2.x: the custom bundle is the `certificate` ModelMesh's puller trusts
            assert entry["certificate"] == service_ca.strip()
        finally:
            kube.request("DELETE", object_path("dscinitialization.opendatahub.io/v1", "dscinitializations", "ca-dsci"))

    def test_kserve_storage_initializer_and_openvino_load_or_fail_as_upstream(self, kube: Kube, namespace: str) -> None:
        """A real download with kserve-storage over https (the KServe CA bundle) and a real OpenVINO load."""
        values = odf(kube)
        client = s3_client(kube)
        bucket = f"b-{namespace}"
        client.create_bucket(Bucket=bucket)
        model = logistic_model().SerializeToString()
        client.upload_fileobj(io.BytesIO(model), bucket, "good/1/model.onnx")
        client.put_object(Bucket=bucket, Key="corrupt/1/model.onnx", Body=b"not an onnx model")
        client.upload_fileobj(io.BytesIO(model), bucket, "flat/model.onnx")  # no 1/
        labels = {"opendatahub.io/dashboard": "true", "opendatahub.io/managed": "true"}
        kube.request("POST", object_path(CORE, "secrets", namespace=namespace), {"metadata": {"name": "conn", "labels": labels, "annotations": {"opendatahub.io/connection-type": "s3"}}, "stringData": {"AWS_ACCESS_KEY_ID": values["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": values["AWS_SECRET_ACCESS_KEY"], "AWS_S3_ENDPOINT": "https://s3.openshift-storage.svc", "AWS_DEFAULT_REGION": "us-east-1", "AWS_S3_BUCKET": bucket}})
        runtime = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime", "metadata": {"name": "ovms"}, "spec": {"multiModel": False, "supportedModelFormats": [{"name": "onnx", "version": "1"}], "containers": [{"name": "kserve-container", "image": OVMS_IMAGE, "args": ["--model_name={{.Name}}", "--port=8001", "--rest_port=8888", "--model_path=/mnt/models"], "ports": [{"containerPort": 8888, "protocol": "TCP"}]}]}}
        kube.request("POST", object_path("serving.kserve.io/v1alpha1", "servingruntimes", namespace=namespace), runtime)
        for name, path in (("good", "good"), ("empty", "nothing-there"), ("corrupt", "corrupt"), ("flat", "flat")):
            isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": name, "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"}}, "spec": {"predictor": {"model": {"modelFormat": {"name": "onnx", "version": "1"}, "runtime": "ovms", "storage": {"key": "conn", "path": path}}}}}
            kube.request("POST", object_path("serving.kserve.io/v1beta1", "inferenceservices", namespace=namespace), isvc)

        def model_status(name: str) -> JSON:
            return ((kube.get(object_path("serving.kserve.io/v1beta1", "inferenceservices", name, namespace)) or {}).get("status") or {}).get("modelStatus") or {}

        try:
            loaded = wait_for("good loaded", lambda: (m := model_status("good")).get("states", {}).get("activeModelState") == "Loaded" and m, 120)
        except TimeoutError:
            pods = (kube.get(object_path(CORE, "pods", namespace=namespace)) or {}).get("items") or []
            raise AssertionError(json.dumps([model_status("good"), [(p["metadata"]["name"], p.get("status")) for p in pods]])) from None
        assert loaded["transitionStatus"] == "UpToDate"
        empty = wait_for("empty failed", lambda: (m := model_status("empty")).get("states", {}).get("targetModelState") == "FailedToLoad" and m, 120)
        assert empty["transitionStatus"] == "BlockedByFailedLoad" and empty["states"]["activeModelState"] == ""
        assert "Storage initialization failed: Failed to fetch model. No model found in nothing-there." in empty["lastFailureInfo"]["message"]
        corrupt = wait_for("corrupt failed", lambda: (m := model_status("corrupt")).get("states", {}).get("targetModelState") == "FailedToLoad" and m, 180)
        assert corrupt["lastFailureInfo"]["reason"] == "ModelLoadFailed" and corrupt["lastFailureInfo"]["exitCode"] == 1
        score = "import json, urllib.request; r = urllib.request.Request('http://good-predictor:80/v2/models/good/infer', json.dumps({'inputs': [{'name': 'dense_input', 'shape': [1, 7], 'datatype': 'FP32', 'data': [300, 100, 20, 0, 0, 0, 1]}]}).encode(), {'Content-Type': 'application/json'}); print(json.load(urllib.request.urlopen(r, timeout=10))['outputs'][0]['data'])"
        headless = (kube.get(object_path(CORE, "services", "good-predictor", namespace)) or {})["spec"].get("clusterIP") == "None"
        if headless:  # 3.x's default; this cluster presents 2.x, where KServe's Service is headed
            score = score.replace("good-predictor:80", "good-predictor:8888")
        run(kube, namespace, pod("score", python(score)))
        assert json.loads(log(kube, namespace, "score").strip())[0] > 0.5
        # No version folder: OVMS starts without the model and its port answers, so KServe reports it Loaded and
        # Ready (a TCP probe) although every inference gets 404: why model_serving copies to <path>/1/model.onnx.
        flat = wait_for("flat ready", lambda: (m := model_status("flat")).get("states", {}).get("activeModelState") == "Loaded" and m, 120)
        assert flat["transitionStatus"] == "UpToDate"
        body = json.dumps({"inputs": [{"name": "dense_input", "shape": [1, 7], "datatype": "FP32", "data": [300, 100, 20, 0, 0, 0, 1]}]})
        port = "8888" if headless else "80"
        missing = (
            "import urllib.error, urllib.request\n"
            f"r = urllib.request.Request('http://flat-predictor:{port}/v2/models/flat/infer', {body!r}.encode(), {{'Content-Type': 'application/json'}})\n"
            "try:\n    urllib.request.urlopen(r, timeout=10)\nexcept urllib.error.HTTPError as e:\n    print(e.code, e.read().decode())\n"
        )
        run(kube, namespace, pod("score-flat", python(missing)))
        assert log(kube, namespace, "score-flat").startswith("404 ") and "Model with requested version is not found" in log(kube, namespace, "score-flat")

    def test_ovms_metrics_count_the_inferences_a_kserve_predictor_served(self, kube: Kube, namespace: str) -> None:
        """--metrics_enable: /metrics on the REST port (8888, the runtime's prometheus.io/port) counts real requests."""
        values = odf(kube)
        client = s3_client(kube)
        bucket = f"b-{namespace}"
        client.create_bucket(Bucket=bucket)
        client.upload_fileobj(io.BytesIO(logistic_model().SerializeToString()), bucket, "metered/1/model.onnx")
        labels = {"opendatahub.io/dashboard": "true", "opendatahub.io/managed": "true"}
        kube.request("POST", object_path(CORE, "secrets", namespace=namespace), {"metadata": {"name": "conn", "labels": labels, "annotations": {"opendatahub.io/connection-type": "s3"}}, "stringData": {"AWS_ACCESS_KEY_ID": values["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": values["AWS_SECRET_ACCESS_KEY"], "AWS_S3_ENDPOINT": "https://s3.openshift-storage.svc", "AWS_DEFAULT_REGION": "us-east-1", "AWS_S3_BUCKET": bucket}})
        args = ["--model_name={{.Name}}", "--port=8001", "--rest_port=8888", "--model_path=/mnt/models", "--metrics_enable"]
        runtime = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime", "metadata": {"name": "ovms"}, "spec": {"annotations": {"prometheus.io/port": "8888", "prometheus.io/path": "/metrics"}, "multiModel": False, "supportedModelFormats": [{"name": "onnx", "version": "1"}], "containers": [{"name": "kserve-container", "image": OVMS_IMAGE, "args": args, "ports": [{"containerPort": 8888, "protocol": "TCP"}]}]}}
        kube.request("POST", object_path("serving.kserve.io/v1alpha1", "servingruntimes", namespace=namespace), runtime)
        isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "metered", "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"}}, "spec": {"predictor": {"model": {"modelFormat": {"name": "onnx", "version": "1"}, "runtime": "ovms", "storage": {"key": "conn", "path": "metered"}}}}}
        kube.request("POST", object_path("serving.kserve.io/v1beta1", "inferenceservices", namespace=namespace), isvc)
        wait_for("metered loaded", lambda: ((((kube.get(object_path("serving.kserve.io/v1beta1", "inferenceservices", "metered", namespace)) or {}).get("status") or {}).get("modelStatus") or {}).get("states") or {}).get("activeModelState") == "Loaded", 120)
        headless = (kube.get(object_path(CORE, "services", "metered-predictor", namespace)) or {})["spec"].get("clusterIP") == "None"
        predictor = "metered-predictor:8888" if headless else "metered-predictor:80"
        body = json.dumps({"inputs": [{"name": "dense_input", "shape": [1, 7], "datatype": "FP32", "data": [300, 100, 20, 0, 0, 0, 1]}]})
        code = (
            "import urllib.error, urllib.request\n"
            f"for _ in range(4):\n    urllib.request.urlopen(urllib.request.Request('http://{predictor}/v2/models/metered/infer', {body!r}.encode()), timeout=10)\n"
            f"try:\n    urllib.request.urlopen(urllib.request.Request('http://{predictor}/v2/models/metered/infer', b'{{\"inputs\": []}}'), timeout=10)\n"
            "except urllib.error.HTTPError as e:\n    assert e.code == 400, e.code\n"
            "print(urllib.request.urlopen('http://metered-metrics:8888/metrics', timeout=10).read().decode())\n"
        )
        run(kube, namespace, pod("scrape", python(code)))
        text = log(kube, namespace, "scrape")
        rest = 'api="KServe",interface="REST",method="ModelInfer",name="metered",version="1"'
        assert f"ovms_requests_success{{{rest}}} 4\n" in text
        assert f"ovms_requests_fail{{{rest}}} 1\n" in text
        assert "# TYPE ovms_request_time_us histogram\n" in text
        assert 'ovms_request_time_us_count{interface="REST",name="metered",version="1"} 4\n' in text
        assert 'ovms_request_time_us_bucket{interface="REST",name="metered",version="1",le="+Inf"} 4\n' in text
        assert 'ovms_inference_time_us_count{name="metered",version="1"} 4\n' in text


class TestInferenceLogger:
    """KServe's `agent` sidecar for `spec.predictor.logger`: the predictor Service reaches the model through it, and it
    sends each request and answer as CloudEvents to a receiver that runs in the cluster."""

    RECEIVER = (
        "import http.server, json\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "  def do_POST(self):\n"
        "    body = self.rfile.read(int(self.headers.get('Content-Length') or 0))\n"
        "    seen = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith('ce-') or k.lower() == 'content-type'}\n"
        "    print(json.dumps({'headers': seen, 'body': body.decode()}), flush=True)\n"
        "    self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()\n"
        "  def log_message(self, *args): pass\n"
        "http.server.ThreadingHTTPServer(('0.0.0.0', 8080), H).serve_forever()\n"
    )
    BODY = json.dumps({"inputs": [{"name": "dense_input", "shape": [1, 7], "datatype": "FP32", "data": [300, 100, 20, 0, 0, 0, 1]}]})
    SCORE = (
        "import urllib.request\n"
        "r = urllib.request.Request('http://logged-predictor:80/v2/models/logged/infer', {body!r}.encode(), {{'Content-Type': 'application/json'}})\n"
        "print(urllib.request.urlopen(r, timeout=10).read().decode())\n"
    )

    def _receiver(self, kube: Kube, namespace: str) -> None:
        container = {"name": "main", "image": PYTHON_IMAGE, "command": python(self.RECEIVER), "ports": [{"containerPort": 8080}], "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}
        kube.request("POST", object_path(CORE, "pods", namespace=namespace), {"metadata": {"name": "receiver", "labels": {"app": "receiver"}}, "spec": {"automountServiceAccountToken": False, "containers": [container]}})
        kube.request("POST", object_path(CORE, "services", namespace=namespace), {"metadata": {"name": "receiver"}, "spec": {"selector": {"app": "receiver"}, "ports": [{"port": 8080, "targetPort": 8080}]}})

    def _logged_model(self, kube: Kube, namespace: str) -> None:
        """The good model in ODF behind an OVMS InferenceService `logged` whose logger points at the receiver."""
        values, bucket = odf(kube), f"b-{namespace}"
        client = s3_client(kube)
        client.create_bucket(Bucket=bucket)
        client.upload_fileobj(io.BytesIO(logistic_model().SerializeToString()), bucket, "good/1/model.onnx")
        labels = {"opendatahub.io/dashboard": "true", "opendatahub.io/managed": "true"}
        kube.request("POST", object_path(CORE, "secrets", namespace=namespace), {"metadata": {"name": "conn", "labels": labels, "annotations": {"opendatahub.io/connection-type": "s3"}}, "stringData": {"AWS_ACCESS_KEY_ID": values["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": values["AWS_SECRET_ACCESS_KEY"], "AWS_S3_ENDPOINT": "https://s3.openshift-storage.svc", "AWS_DEFAULT_REGION": "us-east-1", "AWS_S3_BUCKET": bucket}})
        runtime = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime", "metadata": {"name": "ovms"}, "spec": {"multiModel": False, "supportedModelFormats": [{"name": "onnx", "version": "1"}], "containers": [{"name": "kserve-container", "image": OVMS_IMAGE, "args": ["--model_name={{.Name}}", "--port=8001", "--rest_port=8888", "--model_path=/mnt/models"], "ports": [{"containerPort": 8888, "protocol": "TCP"}]}]}}
        kube.request("POST", object_path("serving.kserve.io/v1alpha1", "servingruntimes", namespace=namespace), runtime)
        logger = {"url": f"http://receiver.{namespace}.svc.cluster.local:8080/", "mode": "all", "metadataAnnotations": ["fraud-demo.io/model-version"]}
        metadata = {"name": "logged", "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment", "fraud-demo.io/model-version": "3"}}
        isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": metadata, "spec": {"predictor": {"logger": logger, "model": {"modelFormat": {"name": "onnx", "version": "1"}, "runtime": "ovms", "storage": {"key": "conn", "path": "good"}}}}}
        kube.request("POST", object_path("serving.kserve.io/v1beta1", "inferenceservices", namespace=namespace), isvc)

    def _events(self, kube: Kube, namespace: str, count: int) -> list[JSON]:
        lines = wait_for(f"{count} events at the receiver", lambda: len(found := log(kube, namespace, "receiver").splitlines()) >= count and found, 30)
        return [json.loads(line) for line in lines]

    def test_the_agent_sends_request_and_answer_as_cloudevents_and_a_down_receiver_fails_nothing(self, kube: Kube, namespace: str) -> None:
        self._receiver(kube, namespace)
        self._logged_model(kube, namespace)
        path = object_path("serving.kserve.io/v1beta1", "inferenceservices", "logged", namespace)
        try:
            wait_for("logged ready", lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in ((kube.get(path) or {}).get("status") or {}).get("conditions") or []), 180)
        except TimeoutError:
            pods = (kube.get(object_path(CORE, "pods", namespace=namespace)) or {}).get("items") or []
            raise AssertionError(json.dumps([(kube.get(path) or {}).get("status"), [(p["metadata"]["name"], p.get("status")) for p in pods]])) from None
        service = kube.get(object_path(CORE, "services", "logged-predictor", namespace)) or {}
        assert service["spec"]["ports"][0]["targetPort"] == 9081 and service["spec"].get("clusterIP") != "None"
        scored = run(kube, namespace, pod("score", python(self.SCORE.format(body=self.BODY))))
        answer = log(kube, namespace, "score").strip()
        assert scored["status"]["phase"] == "Succeeded", answer
        assert json.loads(answer)["outputs"][0]["data"][0] > 0.5
        request, response = sorted(self._events(kube, namespace, 2), key=lambda e: e["headers"]["ce-type"])
        assert request["headers"]["ce-type"] == "org.kubeflow.serving.inference.request" and request["body"] == self.BODY
        assert response["headers"]["ce-type"] == "org.kubeflow.serving.inference.response" and response["body"].strip() == answer
        assert request["headers"]["ce-id"] == response["headers"]["ce-id"] != ""
        for event in (request, response):
            headers = event["headers"]
            assert headers["ce-specversion"] == "1.0" and headers["content-type"] == "application/json"
            assert headers["ce-inferenceservicename"] == "logged" and headers["ce-namespace"] == namespace and headers["ce-component"] == "predictor"
            assert json.loads(headers["ce-annotations"]) == {"fraud-demo.io/model-version": "3"}
            assert headers["ce-source"] == "http://localhost:9081/"  # the webhook saw no pod name: the agent's default
        kube.request("DELETE", object_path(CORE, "pods", "receiver", namespace), {"gracePeriodSeconds": 0})
        wait_for("receiver gone", lambda: kube.get(object_path(CORE, "pods", "receiver", namespace)) is None, 60)
        again = run(kube, namespace, pod("score-again", python(self.SCORE.format(body=self.BODY))))
        assert again["status"]["phase"] == "Succeeded", log(kube, namespace, "score-again")
        assert json.loads(log(kube, namespace, "score-again"))["outputs"][0]["data"][0] > 0.5
        predictor = next(p["metadata"]["name"] for p in (kube.get(object_path(CORE, "pods", namespace=namespace)) or {})["items"] if p["metadata"]["name"].startswith("logged-predictor-"))
        assert wait_for("the failed delivery logged", lambda: "Failed to send cloud event" in log(kube, namespace, predictor, "agent"), 30)



class TestWebhooks:
    def test_kserve_standard_mode_and_the_hardware_profile_webhook_of_3_4(self, kube: Kube, namespace: str, sim_config: dict[str, str]) -> None:
        use_rhoai(kube, 3)
        try:
            sim_config["rhoai-version"] = "3.4.0"
            isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "m", "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"}}, "spec": {"predictor": {"model": {"modelFormat": {"name": "onnx"}, "runtime": "absent"}}}}
            stored = kube.request("POST", object_path("serving.kserve.io/v1beta1", "inferenceservices", namespace=namespace), isvc) or {}
            assert stored["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
            profile = {"apiVersion": "infrastructure.opendatahub.io/v1", "kind": "HardwareProfile", "metadata": {"name": "small"}, "spec": {"identifiers": [
                {"displayName": "CPU", "identifier": "cpu", "minCount": 1, "maxCount": 4, "defaultCount": 2, "resourceType": "CPU"},
                {"displayName": "Memory", "identifier": "memory", "minCount": "2Gi", "maxCount": "16Gi", "defaultCount": "4Gi", "resourceType": "Memory"}]}}
            kube.request("POST", object_path("infrastructure.opendatahub.io/v1", "hardwareprofiles", namespace=namespace), profile)
            notebook = {"apiVersion": "kubeflow.org/v1", "kind": "Notebook", "metadata": {"name": "wb", "annotations": {"opendatahub.io/hardware-profile-name": "small"}}, "spec": {"template": {"spec": {"containers": [{"name": "wb", "image": "registry.example/nb:1"}]}}}}
            created = kube.request("POST", object_path("kubeflow.org/v1", "notebooks", namespace=namespace), notebook) or {}
            # 3.4: requests = limits = defaultCount; the profile's namespace written back
            assert created["spec"]["template"]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
            assert created["metadata"]["annotations"]["opendatahub.io/hardware-profile-namespace"] == namespace
            missing = notebook | {"metadata": {"name": "wb2", "annotations": {"opendatahub.io/hardware-profile-name": "absent"}}}
            with pytest.raises(KubeError, match="failed to get hardware profile 'absent'"):
                kube.request("POST", object_path("kubeflow.org/v1", "notebooks", namespace=namespace), missing)
        finally:
            use_rhoai(kube, 2)


class TestOAuthProxy:
    """OpenShift's oauth-proxy in front of a service, reached through a reencrypt Route as the roles' MLflow is."""

    UPSTREAM = (
        "import http.server, json\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "  def do_GET(self):\n"
        "    body = json.dumps({k: self.headers.get(k) for k in ('Authorization', 'X-Forwarded-User', 'Host')}).encode()\n"
        "    self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)\n"
        "http.server.ThreadingHTTPServer(('127.0.0.1', 8080), H).serve_forever()\n"
    )

    def _proxy(self, kube: Kube, namespace: str, args: list[str]) -> None:
        from .control_plane import OAUTH_PROXY_IMAGE

        labels = {"app": "guarded"}
        account = {"projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        ]}}
        proxy = {
            "name": "oauth-proxy", "image": OAUTH_PROXY_IMAGE, "args": args, "ports": [{"name": "https", "containerPort": 8443}],
            "readinessProbe": {"httpGet": {"path": "/oauth/healthz", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 1},
            "volumeMounts": [{"name": "tls", "mountPath": "/etc/tls/private"}, {"name": "cookie", "mountPath": "/etc/proxy/secrets"},
                             {"name": "account", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        }
        upstream = {"name": "app", "image": PYTHON_IMAGE, "command": python(self.UPSTREAM)}
        volumes = [{"name": kind, "secret": {"secretName": f"guarded-{kind}"}} for kind in ("tls", "cookie")] + [{"name": "account", **account}]
        spec = {"serviceAccountName": "guarded", "automountServiceAccountToken": False, "containers": [upstream, proxy], "volumes": volumes}
        kube.request("POST", object_path(CORE, "pods", namespace=namespace), {"metadata": {"name": "guarded", "labels": labels}, "spec": spec})

    def test_bearer_tokens_are_delegated_to_the_api_server_and_everyone_else_gets_the_sign_in_page(self, kube: Kube, namespace: str) -> None:
        for account in ("guarded", "reader", "stranger"):
            kube.request("POST", object_path(CORE, "serviceaccounts", namespace=namespace), {"metadata": {"name": account}})
        kube.request("POST", object_path("rbac.authorization.k8s.io/v1", "clusterrolebindings"), {"metadata": {"name": f"{namespace}-guarded-auth-delegator"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"}, "subjects": [{"kind": "ServiceAccount", "name": "guarded", "namespace": namespace}]})
        kube.request("POST", object_path("rbac.authorization.k8s.io/v1", "roles", namespace=namespace), {"metadata": {"name": "get-guarded"}, "rules": [{"apiGroups": [""], "resources": ["services"], "resourceNames": ["guarded"], "verbs": ["get"]}]})
        kube.request("POST", object_path("rbac.authorization.k8s.io/v1", "rolebindings", namespace=namespace), {"metadata": {"name": "reader"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "get-guarded"}, "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]})
        kube.request("POST", object_path(CORE, "secrets", namespace=namespace), {"metadata": {"name": "guarded-cookie"}, "stringData": {"session_secret": secrets.token_urlsafe(24)}})
        kube.request("POST", object_path(CORE, "services", namespace=namespace), {"metadata": {"name": "guarded", "annotations": {"service.beta.openshift.io/serving-cert-secret-name": "guarded-tls"}}, "spec": {"selector": {"app": "guarded"}, "ports": [{"name": "https", "port": 8443, "targetPort": "https"}]}})
        wait_for("serving cert", lambda: kube.get(object_path(CORE, "secrets", "guarded-tls", namespace)))
        sar = json.dumps({"resource": "services", "verb": "get", "name": "guarded", "namespace": namespace})
        self._proxy(kube, namespace, [
            "--https-address=:8443", "--http-address=", "--provider=openshift", "--openshift-service-account=guarded",
            "--upstream=http://localhost:8080", "--tls-cert=/etc/tls/private/tls.crt", "--tls-key=/etc/tls/private/tls.key",
            "--cookie-secret-file=/etc/proxy/secrets/session_secret", "--proxy-prefix=/oauth",
            f"--openshift-sar={sar}", f"--openshift-delegate-urls={json.dumps({'/': json.loads(sar)})}",
        ])
        kube.request("POST", object_path("route.openshift.io/v1", "routes", namespace=namespace), {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "guarded"}, "spec": {"to": {"kind": "Service", "name": "guarded"}, "port": {"targetPort": "https"}, "tls": {"termination": "reencrypt"}}})
        route = wait_for("admitted", lambda: (r := kube.get(object_path("route.openshift.io/v1", "routes", "guarded", namespace))) and (r.get("status") or {}).get("ingress") and r)
        wait_for("proxy ready", lambda: all(c.get("ready") for c in ((kube.get(object_path(CORE, "pods", "guarded", namespace)) or {}).get("status") or {}).get("containerStatuses") or [{}]), 90)
        host = route["spec"]["host"]
        ingress = kube.get(object_path(CORE, "configmaps", "default-ingress-cert", "openshift-config-managed")) or {}
        context = ssl.create_default_context(cadata=ingress["data"]["ca-bundle.crt"])
        router = _router(kube)

        def get(path: str, token: str = "") -> tuple[int, bytes]:
            auth = f"Authorization: Bearer {token}\r\n" if token else ""
            with socket.create_connection((router, 443), timeout=10) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n".encode())
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            return int(head.split()[1]), body

        def token(account: str) -> str:
            answer = kube.request("POST", object_path(CORE, "serviceaccounts", account, namespace) + "/token", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}) or {}
            return answer["status"]["token"]

        assert get("/oauth/healthz") == (200, b"OK")
        status, page = get("/api/2.0/mlflow/experiments/search")
        assert status == 403 and b"Log in with OpenShift" in page
        assert get("/", "not-a-token")[0] == 403
        assert get("/", token("stranger"))[0] == 403  # authenticated, but the SubjectAccessReview says no
        status, body = wait_for("reader allowed", lambda: (answer := get("/", token("reader")))[0] == 200 and answer, 30)
        seen = json.loads(body)
        assert seen["X-Forwarded-User"] == f"system:serviceaccount:{namespace}:reader"
        assert seen["Authorization"] == "Basic " + base64.b64encode(f"system:serviceaccount:{namespace}:reader:".encode()).decode()
        assert seen["Host"] == host  # --pass-host-header defaults to true

    def test_an_unknown_flag_or_a_missing_cookie_secret_stops_it_as_upstream_does(self, kube: Kube, namespace: str) -> None:
        from .control_plane import OAUTH_PROXY_IMAGE

        flags = run(kube, namespace, pod("flags", [], image=OAUTH_PROXY_IMAGE, container={"args": ["--provider=openshift", "--no-such-flag=1"]}))
        assert terminated(flags)["exitCode"] == 2 and "flag provided but not defined: -no-such-flag" in log(kube, namespace, "flags")
        invalid = run(kube, namespace, pod("invalid", [], image=OAUTH_PROXY_IMAGE, container={"args": ["--provider=openshift", "--https-address=", "--upstream=http://localhost:8080"]}))
        assert terminated(invalid)["exitCode"] == 1
        assert "Invalid configuration:\n  missing setting: cookie-secret\n  missing setting: client-id" in log(kube, namespace, "invalid")


def test_the_ovms_stand_in_serves_metrics_only_with_metrics_enable(tmp_path: Any) -> None:
    """runtimes/ovms.py on its own: OVMS's families, HELP/TYPE lines and buckets; 404 without the flag."""
    import subprocess  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "1" / "model.onnx").write_bytes(logistic_model().SerializeToString())
    platform = Path(__file__).parents[2] / ".venv" / "platform" / "bin" / "python"
    body = json.dumps({"inputs": [{"name": "dense_input", "shape": [1, 7], "datatype": "FP32", "data": [300, 100, 20, 0, 0, 0, 1]}]}).encode()

    def scrape(*flags: str) -> tuple[int, str]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([str(platform), "-m", "tests.cluster.runtimes.ovms", "--model_name=m", f"--model_path={tmp_path / 'm'}", f"--rest_port={port}", "--rest_bind_address=127.0.0.1", *flags], cwd=Path(__file__).parents[2])
        try:
            wait_for("model ready", lambda: _answers(f"{url}/v2/models/m/ready"), 60)
            for _ in range(2):
                urllib.request.urlopen(urllib.request.Request(f"{url}/v2/models/m/infer", body), timeout=10).read()
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(urllib.request.Request(f"{url}/v2/models/m/infer", b'{"inputs": [{"name": "other"}]}'), timeout=10)
            try:
                with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
                    return answer.status, answer.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode()
        finally:
            proc.terminate()
            proc.wait(10)

    assert scrape() == (404, '{"error": "Invalid request URL"}')
    code, text = scrape("--metrics_enable")
    assert code == 200
    assert "# HELP ovms_requests_success Number of successful requests to a model or a DAG.\n# TYPE ovms_requests_success counter\n" in text
    assert 'ovms_requests_success{api="KServe",interface="REST",method="ModelInfer",name="m",version="1"} 2\n' in text
    assert 'ovms_requests_success{api="KServe",interface="REST",method="ModelReady",name="m"} 1\n' in text
    assert 'ovms_requests_fail{api="KServe",interface="REST",method="ModelInfer",name="m",version="1"} 1\n' in text
    assert 'ovms_requests_success{api="KServe",interface="gRPC",method="ModelInfer",name="m",version="1"} 0\n' in text
    bounds = [line.split('le="')[1].split('"')[0] for line in text.splitlines() if line.startswith('ovms_request_time_us_bucket{interface="REST"')]
    assert bounds[:5] == ["10", "18", "32", "58", "104"] and bounds[-1] == "+Inf" and len(bounds) == 34
    assert 'ovms_inference_time_us_count{name="m",version="1"} 2\n' in text
    assert "ovms_streams{" in text and "ovms_infer_req_queue_size" not in text  # not a default family
    _, listed = scrape("--metrics_enable", "--metrics_list=ovms_requests_success,ovms_infer_req_queue_size")
    assert "ovms_infer_req_queue_size{" in listed and "ovms_requests_fail{" not in listed and "ovms_streams" not in listed


def _answers(url: str) -> bool:
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False
