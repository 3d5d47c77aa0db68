"""KServe's RawDeployment / Standard mode with OpenShift AI's additions, as read in opendatahub-io/kserve odh-v3.4
(a2efb39e) and odh-model-controller odh-v3.4 (d0bf7869):

- Deployment `<isvc>-predictor` (pod label `app: isvc.<isvc>-predictor`): the runtime's `kserve-container`
  (`{{.Name}}` in its args replaced, the model's resources, `/mnt/models` read-only, a TCP readiness probe on
  its first port when it has none) after the `storage-initializer` init container that KServe's pod webhook
  adds for `storage: {key, path}`: image `quay.io/opendatahub/kserve-storage-initializer`, args
  `s3://<bucket>/<path> /mnt/models`, `STORAGE_CONFIG` from `storage-config[<key>]`, and for an entry with
  `cabundle_configmap` that ConfigMap at `/etc/ssl/custom-certs` (CA_BUNDLE_CONFIGMAP_NAME,
  CA_BUNDLE_VOLUME_MOUNT_POINT), FallbackToLogsOnError. A key missing from storage-config is refused by the
  webhook, so no pod is created (PredictorReady False, FailedCreate). Its strategy: the predictor's
  `deploymentStrategy`, else RollingUpdate 25% / 25% (kserve/kserve raw deployment reconciler,
  setDeploymentStrategy); the kube-controller-manager's Deployment controller rolls it out for real.
- Inference logger (`spec.predictor.logger`), read in opendatahub-io/kserve at 3cf0a041: the controller's pod
  annotations (components/component.go addLoggerAnnotations: `internal.serving.kserve.io/logger: "true"`,
  `logger-sink-url`, `logger-mode` (default `all`), `logger-metadata-headers` and `logger-metadata-annotations`
  comma-joined) next to the InferenceService's own annotations less serviceAnnotationDisallowedList (predictor.go
  buildObjectMeta); then the pod webhook's `agent` container (webhook/admission/pod/agent_injector.go InjectAgent,
  `_agent_container`): image `quay.io/opendatahub/kserve-agent`, args `--log-url --source-uri --log-mode
  --inference-service --namespace --endpoint --component [--metadata-headers] [--metadata-annotations k=v,...]
  --logger-tls-skip-verify false --component-port <kserve-container's first port, else 8080>`; `--source-uri` is the
  pod's name at admission, empty for a Deployment's pods (the API server names a generateName pod after mutating
  admission), so the agent falls back to `http://localhost:9081/`. Port `agent-port` 9081, readiness probe HTTP GET
  `/` (or the kserve-container's httpGet path) on 9081 with `K-Network-Probe: queue`, `SERVING_READINESS_PROBE` =
  the kserve-container's readiness probe as JSON when it is httpGet or tcpSocket, the kserve-container's
  securityContext, the agent config's resources (100m/100Mi, 1/1Gi). The Service's targetPort becomes 9081
  (reconcilers/service/service_reconciler.go createDefaultSvc). Runs as runtimes/kserve_agent.py.
- Service `<isvc>-predictor`: port `http` 80 -> the container port (9081 with a logger, also when one is added or
  removed later); headless (ClusterIP None) unless the DataScienceCluster says `rawDeploymentServiceConfig: Headed`
  (3.x's default is Headless).
- Status (`PropagateRawStatus`, `PropagateModelStatus`): PredictorReady from the Deployment's Available and
  Progressing conditions; `modelStatus` from the newest pod: storage-initializer terminated with an error (or in
  CrashLoopBackOff) -> targetModelState FailedToLoad, transitionStatus BlockedByFailedLoad, lastFailureInfo
  {reason ModelLoadFailed, message = its termination message, exitCode}; running -> Loading/InProgress;
  Ready -> Loaded/UpToDate with activeModelState Loaded; kserve-container failing -> FailedToLoad likewise, else
  Pending. activeModelState is never FailedToLoad (that is ModelMesh's). `observedGeneration` is the
  Deployment's. IngressReady once the URLs can be made: `url` and `address.url`
  `http://<isvc>-predictor.<ns>.svc.cluster.local` (address `:8080` for a headless Service, whatever the
  container port), `https://...:8443` with `security.opendatahub.io/enable-auth`, `url` the Route's with the
  label `networking.kserve.io/visibility: exposed` (odh-model-controller's Route `<isvc>`: edge, or reencrypt
  with auth). A named runtime that is missing or does not serve the format -> transitionStatus InvalidSpec,
  targetModelState FailedToLoad (RuntimeNotRecognized / NoSupportingRuntime).
- odh-model-controller's metrics objects (57b43aad, `kserve_metrics_service_reconciler.go`,
  `kserve_metrics_servicemonitor_reconciler.go`): Service `<isvc>-metrics` (labels `name: <isvc>-metrics` and
  `monitoring.opendatahub.io/scrape: "true"`, port `<runtime>-metrics` = the runtime's `spec.annotations`
  `prometheus.io/port`, selector `serving.kserve.io/inferenceservice: <isvc>`) only when that annotation is set,
  and ServiceMonitor `<isvc>-metrics` (same scrape label, endpoint that port, `scheme: http`, path from
  `prometheus.io/path` with a leading `/`) whenever the runtime is found; both owned by the InferenceService.
- `status.deploymentMode`: `Standard` on 3.4 and later (the defaulting webhook rewrites the RawDeployment
  annotation there, webhooks.py), `RawDeployment` before.
"""

from __future__ import annotations

import base64
import json

from ..kube import JSON, object_path
from .engine import Kind, Simulator
from .objects import annotation, apply, condition, label, owner_reference, set_status
from .platform import rhoai_version

DEPLOYMENTS = Kind("apps/v1", "deployments", "Deployment")
DEFAULT_STRATEGY: JSON = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
STORAGE_INITIALIZER_IMAGE = "quay.io/opendatahub/kserve-storage-initializer:latest"
AGENT_IMAGE = "quay.io/opendatahub/kserve-agent:latest"
AGENT_PORT = 9081
LOGGER = "internal.serving.kserve.io/logger"
LOGGER_DEFAULT_URL = "http://default-broker"  # the ODH overlay's inferenceservice-config `logger.defaultUrl`
# constants.ServiceAnnotationDisallowedList: InferenceService annotations that do not reach the pods
DISALLOWED_ANNOTATIONS = {
    "autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/max-scale", "internal.serving.kserve.io/storage-initializer-sourceuri",
    "kubectl.kubernetes.io/last-applied-configuration", "modelFormat",
}
# corev1.Probe's JSON field order, as Go's encoding/json writes SERVING_READINESS_PROBE
PROBE_FIELDS = ("exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold", "terminationGracePeriodSeconds")
PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
CA_MOUNT = "/etc/ssl/custom-certs"
HEADLESS_PORT = "8080"
AUTH_PORT = 8443
SCRAPE_LABEL = {"monitoring.opendatahub.io/scrape": "true"}


def _true(obj: JSON, kind: str) -> str:
    return next((c.get("status", "Unknown") for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), "")


def _storage_entry(sim: Simulator, namespace: str, key: str) -> JSON | None:
    secret = sim.kube.get(object_path("v1", "secrets", "storage-config", namespace)) or {}
    raw = (secret.get("data") or {}).get(key)
    return json.loads(base64.b64decode(raw)) if raw else None


def _headless(sim: Simulator) -> bool:
    if rhoai_version(sim)[0] < 3:
        return False
    listing = sim.kube.get(object_path("datasciencecluster.opendatahub.io/v2", "datascienceclusters")) or {}
    for item in listing.get("items") or []:
        kserve = ((item.get("spec") or {}).get("components") or {}).get("kserve") or {}
        return kserve.get("rawDeploymentServiceConfig", "Headless") != "Headed"
    return True


def _container(runtime: JSON, isvc: JSON, name: str) -> JSON:
    source = dict((runtime["spec"].get("containers") or [{}])[0])
    container = {k: v for k, v in source.items() if k in ("image", "command", "env", "ports", "resources", "readinessProbe", "livenessProbe", "securityContext")}
    container["name"] = "kserve-container"
    container["args"] = [a.replace("{{.Name}}", name) for a in source.get("args") or []]
    model = isvc["spec"]["predictor"].get("model") or {}
    if model.get("resources"):
        container["resources"] = model["resources"]
    container["volumeMounts"] = [{"name": "kserve-provision-location", "mountPath": "/mnt/models", "readOnly": True}]
    ports = container.get("ports") or []
    if "readinessProbe" not in container:
        container["readinessProbe"] = {"tcpSocket": {"port": ports[0]["containerPort"] if ports else 8080}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    return container


def _init_container(entry: JSON, path: str) -> tuple[JSON, list[JSON]]:
    env = [{"name": "STORAGE_CONFIG", "valueFrom": {"secretKeyRef": {"name": "storage-config", "key": "__KEY__"}}}]
    mounts = [{"name": "kserve-provision-location", "mountPath": "/mnt/models"}]
    volumes = [{"name": "kserve-provision-location", "emptyDir": {}}]
    if entry.get("cabundle_configmap"):
        env += [
            {"name": "AWS_CA_BUNDLE_CONFIGMAP", "value": entry["cabundle_configmap"]},
            {"name": "CA_BUNDLE_CONFIGMAP_NAME", "value": entry["cabundle_configmap"]},
            {"name": "CA_BUNDLE_VOLUME_MOUNT_POINT", "value": CA_MOUNT},
        ]
        mounts.append({"name": "cabundle-cert", "mountPath": CA_MOUNT, "readOnly": True})
        volumes.append({"name": "cabundle-cert", "configMap": {"name": entry["cabundle_configmap"]}})
    container = {
        "name": "storage-initializer",
        "image": STORAGE_INITIALIZER_IMAGE,
        "args": [f"{entry.get('type', 's3')}://{entry.get('bucket', '')}/{path.lstrip('/')}", "/mnt/models"],
        "env": env,
        "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    }
    return container, volumes


def _logger_annotations(isvc: JSON, logger: JSON) -> JSON:
    """The pod template's annotations for a logger: the InferenceService's own (buildObjectMeta) and addLoggerAnnotations'."""
    annotations = {k: v for k, v in (isvc["metadata"].get("annotations") or {}).items() if k not in DISALLOWED_ANNOTATIONS}
    annotations[LOGGER] = "true"
    if logger.get("url") is not None:
        annotations[f"{LOGGER}-sink-url"] = logger["url"]
    annotations[f"{LOGGER}-mode"] = logger.get("mode") or "all"  # the CRD's default
    if logger.get("metadataHeaders") is not None:
        annotations[f"{LOGGER}-metadata-headers"] = ",".join(logger["metadataHeaders"])
    if logger.get("metadataAnnotations") is not None:
        annotations[f"{LOGGER}-metadata-annotations"] = ",".join(logger["metadataAnnotations"])
    return annotations


def _serving_probe(probe: JSON) -> str:
    """SERVING_READINESS_PROBE: the probe as the API server defaulted it, in Go's field order."""
    defaulted = PROBE_DEFAULTS | probe
    if "httpGet" in defaulted:
        action = {"scheme": "HTTP"} | defaulted["httpGet"]
        defaulted["httpGet"] = {k: action[k] for k in ("path", "port", "host", "scheme", "httpHeaders") if k in action}
    return json.dumps({k: defaulted[k] for k in PROBE_FIELDS if k in defaulted}, separators=(",", ":"))


def _logger_args(annotations: JSON, labels: JSON, namespace: str) -> list[str]:
    """InjectAgent's logger arguments from the pod's annotations and labels (the pod has no name yet)."""
    args = [
        "--log-url", annotations.get(f"{LOGGER}-sink-url", LOGGER_DEFAULT_URL), "--source-uri", "",
        "--log-mode", annotations.get(f"{LOGGER}-mode", "all"), "--inference-service", labels.get("serving.kserve.io/inferenceservice", ""),
        "--namespace", namespace, "--endpoint", labels.get("endpoint", ""), "--component", labels.get("component", ""),
    ]
    if f"{LOGGER}-metadata-headers" in annotations:
        args += ["--metadata-headers", annotations[f"{LOGGER}-metadata-headers"]]
    if f"{LOGGER}-metadata-annotations" in annotations:
        keys = annotations[f"{LOGGER}-metadata-annotations"].split(",")
        args += ["--metadata-annotations", ",".join(f"{k}={annotations[k]}" for k in keys if k in annotations)]
    return [*args, "--logger-tls-skip-verify", "false"]


def _agent_container(annotations: JSON, labels: JSON, namespace: str, kserve: JSON) -> JSON:
    """The `agent` sidecar KServe's pod webhook injects for a pod with the logger annotation."""
    ports = kserve.get("ports") or []
    args = [*_logger_args(annotations, labels, namespace), "--component-port", str(ports[0]["containerPort"]) if ports else "8080"]
    probe = kserve.get("readinessProbe") or {}
    path = (probe.get("httpGet") or {}).get("path") or "/"
    container: JSON = {
        "name": "agent",
        "image": AGENT_IMAGE,
        "args": args,
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "100Mi"}},
        "ports": [{"name": "agent-port", "containerPort": AGENT_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}], "port": AGENT_PORT, "path": path, "scheme": "HTTP"}},
    }
    if "httpGet" in probe or "tcpSocket" in probe:
        container["env"] = [{"name": "SERVING_READINESS_PROBE", "value": _serving_probe(probe)}]
    if kserve.get("securityContext"):
        container["securityContext"] = kserve["securityContext"]
    return container


def _predictor_service(sim: Simulator, service: JSON) -> None:
    """Create the predictor Service; later its ports follow a logger added or removed (targetPort 9081 or back), as
    the service reconciler updates a Service that differs from the desired one (other changes are not followed)."""
    path = object_path("v1", "services", service["metadata"]["name"], service["metadata"]["namespace"])
    live = sim.kube.get(path)
    if live is None:
        apply(sim.kube, service, "services")
        return
    wanted = [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]]
    current = [(p["port"], p.get("targetPort")) for p in live["spec"].get("ports") or []]
    if current != wanted and AGENT_PORT in {target for _, target in current + wanted}:
        sim.kube.merge_patch(path, {"spec": {"ports": service["spec"]["ports"]}})


def _predictor_ready(deployment: JSON | None) -> tuple[str, str, str]:
    """(status, reason, message) of PredictorReady from the Deployment's conditions (PropagateRawStatus)."""
    if not deployment:
        return "False", "", ""
    conditions = {c["type"]: c for c in (deployment.get("status") or {}).get("conditions") or []}
    state: tuple[str, str, str] = ("False", "", "")
    available = conditions.get("Available")
    if available and available["status"] == "True":
        state = ("True", available.get("reason", ""), available.get("message", ""))
    progressing = conditions.get("Progressing")
    if progressing:
        if progressing["status"] == "False" and progressing.get("message"):
            state = ("False", progressing.get("reason", ""), progressing["message"])
        elif progressing["status"] == "True" and progressing.get("reason") == "NewReplicaSetAvailable":
            state = ("True", progressing["reason"], progressing.get("message", ""))
        elif progressing["status"] == "True" and state[0] != "True":
            state = ("Unknown", progressing.get("reason", ""), progressing.get("message", ""))
    if available and available["status"] == "False":
        state = ("False", available.get("reason", ""), available.get("message", ""))
    failure = conditions.get("ReplicaFailure")
    if failure and failure["status"] == "True":
        state = ("False", failure.get("reason", ""), failure.get("message", ""))
    return state


def _model_status(pods: list[JSON], ready: bool, previous: JSON) -> JSON:
    """PropagateModelStatus for the newest predictor pod."""
    status = {"transitionStatus": previous.get("transitionStatus", ""), "states": dict(previous.get("states") or {"activeModelState": ""})}
    if previous.get("lastFailureInfo"):
        status["lastFailureInfo"] = previous["lastFailureInfo"]
    ready_pods = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running" and _true(p, "Ready") == "True")
    status["copies"] = {"failedCopies": 0, "totalCopies": ready_pods}

    def update(state: str, failure: JSON | None = None) -> JSON:
        status["states"]["targetModelState"] = state
        status["transitionStatus"] = {"Pending": "InProgress", "Loading": "InProgress", "Loaded": "UpToDate", "FailedToLoad": "BlockedByFailedLoad"}[state]
        if state == "Loaded":
            status["states"]["activeModelState"] = "Loaded"
        if failure:
            status["lastFailureInfo"] = failure
        return status

    if not pods:
        return update("Pending")
    pod_status = pods[0].get("status") or {}

    def failure(cs: JSON) -> JSON | None:
        state = cs.get("state") or {}
        if (state.get("terminated") or {}).get("reason") == "Error":
            done = state["terminated"]
        elif (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            done = (cs.get("lastState") or {}).get("terminated") or {}
        else:
            return None
        return {"reason": "ModelLoadFailed", "message": done.get("message", ""), "exitCode": done.get("exitCode", 0)}

    for cs in pod_status.get("initContainerStatuses") or []:
        if cs["name"] == "storage-initializer":
            if "running" in (cs.get("state") or {}):
                if (cs.get("lastState") or {}).get("terminated"):
                    return previous or update("Loading")
                return update("Loading")
            found = failure(cs)
            if found:
                return update("FailedToLoad", {k: v for k, v in found.items() if v or k == "message"})
    if ready:
        return update("Loaded")
    for cs in pod_status.get("containerStatuses") or []:
        if cs["name"] == "kserve-container":
            found = failure(cs)
            return update("FailedToLoad", found) if found else update("Pending")
    return status


def _metrics_objects(sim: Simulator, isvc: JSON, namespace: str, name: str, runtime: JSON) -> None:
    """odh-model-controller's metrics Service (when the runtime names its Prometheus port) and ServiceMonitor."""
    annotations = runtime["spec"].get("annotations") or {}
    port_name = f"{runtime['metadata']['name']}-metrics"
    metadata = {"namespace": namespace, "ownerReferences": [owner_reference(isvc)]}
    port = annotations.get("prometheus.io/port", "")
    if port and sim.kube.get(object_path("v1", "services", f"{name}-metrics", namespace)) is None:
        apply(sim.kube, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": metadata | {"name": f"{name}-metrics", "labels": {"name": f"{name}-metrics", **SCRAPE_LABEL}},
            "spec": {"type": "ClusterIP", "selector": {"serving.kserve.io/inferenceservice": name},
                     "ports": [{"name": port_name, "protocol": "TCP", "port": int(port), "targetPort": int(port)}]},
        }, "services")
    endpoint: JSON = {"port": port_name, "scheme": "http"}
    if path := (annotations.get("prometheus.io/path") or "").strip():
        endpoint["path"] = "/" + path.lstrip("/")
    apply(sim.kube, {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": metadata | {"name": f"{name}-metrics", "labels": dict(SCRAPE_LABEL)},
        "spec": {"selector": {"matchLabels": {"name": f"{name}-metrics"}}, "endpoints": [endpoint]},
    }, "servicemonitors")


def reconcile(sim: Simulator, kind: Kind, obj: JSON, namespace: str, name: str, runtime: JSON | None) -> float | None:
    """One pass of KServe's InferenceService controller in Raw/Standard mode."""
    model = obj["spec"]["predictor"].get("model") or {}
    previous = (obj.get("status") or {}).get("modelStatus") or {}
    major, minor = rhoai_version(sim)
    mode = "Standard" if (major, minor) >= (3, 4) else "RawDeployment"
    auth = annotation(obj, "security.opendatahub.io/enable-auth") == "true"
    base: JSON = {"deploymentMode": (obj.get("status") or {}).get("deploymentMode") or mode}

    def invalid(reason: str, message: str) -> None:
        states = dict(previous.get("states") or {"activeModelState": ""})
        states["targetModelState"] = "FailedToLoad"
        status = base | {
            "conditions": [condition("PredictorReady", False, reason, message), condition("IngressReady", False), condition("Ready", False, reason, message)],
            "modelStatus": {"transitionStatus": "InvalidSpec", "states": states, "lastFailureInfo": {"reason": reason, "message": message}},
        }
        set_status(sim.kube, kind, obj, status)

    if runtime is None:
        invalid("RuntimeNotRecognized", "Waiting for runtime to become available")
        return 5
    fmt = (model.get("modelFormat") or {}).get("name", "")
    if fmt not in {f["name"] for f in runtime["spec"].get("supportedModelFormats") or []}:
        invalid("NoSupportingRuntime", f"Specified runtime does not support specified framework/version: {fmt}")
        return None
    storage = model.get("storage") or {}
    entry = _storage_entry(sim, namespace, storage.get("key", "")) if storage.get("key") else {}
    if entry is None:
        message = (
            'admission webhook "inferenceservice.kserve-webhook-server.pod-mutator" denied the request: '
            f"specified storage key {storage.get('key')} not found in storage secret storage-config"
        )
        status = base | {
            "conditions": [condition("PredictorReady", False, "FailedCreate", message), condition("IngressReady", False), condition("Ready", False, "FailedCreate", message)],
            "modelStatus": {"transitionStatus": "InProgress", "states": {"activeModelState": "", "targetModelState": "Pending"}},
        }
        set_status(sim.kube, kind, obj, status)
        return 3  # storage-config may be written in a moment
    labels = {"app": f"isvc.{name}-predictor", "serving.kserve.io/inferenceservice": name, "component": "predictor"}
    container = _container(runtime, obj, name)
    pod_spec: JSON = {"containers": [container]}
    if storage.get("key"):
        init, volumes = _init_container(entry, storage.get("path", ""))
        init["env"][0]["valueFrom"]["secretKeyRef"]["key"] = storage["key"]
        pod_spec |= {"initContainers": [init], "volumes": volumes}
    else:
        pod_spec["volumes"] = [{"name": "kserve-provision-location", "emptyDir": {}}]
    if obj["spec"]["predictor"].get("serviceAccountName"):
        pod_spec["serviceAccountName"] = obj["spec"]["predictor"]["serviceAccountName"]
    source_uri = f"<scheme-placeholder>://{storage.get('path', '').lstrip('/')}"
    pod_annotations = {"internal.serving.kserve.io/storage-initializer-sourceuri": source_uri, "serving.kserve.io/deploymentMode": mode}
    logger = obj["spec"]["predictor"].get("logger")
    if logger is not None:
        pod_annotations = _logger_annotations(obj, logger) | pod_annotations
        pod_spec["containers"].append(_agent_container(pod_annotations, labels, namespace, container))
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{name}-predictor", "namespace": namespace, "labels": labels, "ownerReferences": [owner_reference(obj)]},
        "spec": {
            "replicas": int(obj["spec"]["predictor"].get("minReplicas") or 1),
            # the predictor's deploymentStrategy when given, else the controller's default (setDeploymentStrategy:
            # RollingUpdate with the configured 25% / 25%)
            "strategy": obj["spec"]["predictor"].get("deploymentStrategy") or DEFAULT_STRATEGY,
            "selector": {"matchLabels": {"app": labels["app"]}},
            "template": {
                "metadata": {"labels": labels, "annotations": pod_annotations},
                "spec": pod_spec,
            },
        },
    }
    apply(sim.kube, deployment, DEPLOYMENTS.plural)
    target_port = (container.get("ports") or [{"containerPort": 8080}])[0]["containerPort"] if logger is None else AGENT_PORT
    ports = [{"name": "https", "port": AUTH_PORT, "targetPort": "https", "protocol": "TCP"}] if auth else [{"name": "http", "port": 80, "targetPort": target_port, "protocol": "TCP"}]
    headless = _headless(sim)
    service_spec: JSON = {"selector": {"app": labels["app"]}, "ports": ports}
    if headless:
        service_spec["clusterIP"] = "None"
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{name}-predictor", "namespace": namespace, "labels": labels, "ownerReferences": [owner_reference(obj)], "annotations": {"service.beta.openshift.io/serving-cert-secret-name": f"{name}-predictor-serving-cert"}},
        "spec": service_spec,
    }
    _predictor_service(sim, service)
    _metrics_objects(sim, obj, namespace, name, runtime)
    host = f"{name}-predictor.{namespace}.svc.cluster.local"
    url = f"https://{host}:{AUTH_PORT}" if auth else f"http://{host}"
    address = url if auth else f"http://{host}" + (f":{HEADLESS_PORT}" if headless else "")
    ingress_ready = True
    if label(obj, "networking.kserve.io/visibility") == "exposed":
        route = {
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "metadata": {"name": name, "namespace": namespace, "labels": {"inferenceservice-name": name}, "ownerReferences": [owner_reference(obj)]},
            "spec": {
                "to": {"kind": "Service", "name": f"{name}-predictor", "weight": 100},
                "port": {"targetPort": "https" if auth else "http"},
                "tls": {"termination": "reencrypt" if auth else "edge", "insecureEdgeTerminationPolicy": "Redirect"},
                "wildcardPolicy": "None",
            },
        }
        apply(sim.kube, route, "routes")
        current = sim.kube.get(object_path("route.openshift.io/v1", "routes", name, namespace)) or {}
        admitted = any(c["type"] == "Admitted" and c["status"] == "True" for i in (current.get("status") or {}).get("ingress") or [] for c in i.get("conditions") or [])
        ingress_ready = admitted
        url = f"https://{current['spec']['host']}" if admitted else url
    live = sim.kube.get(DEPLOYMENTS.path(f"{name}-predictor", namespace))
    predictor = _predictor_ready(live)
    query = {"labelSelector": f"app={labels['app']}"}
    pods = (sim.kube.request("GET", object_path("v1", "pods", namespace=namespace), query=query) or {}).get("items") or []
    pods.sort(key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
    ingress_state = "True" if ingress_ready else "False"
    ready = predictor[0] == "True" and ingress_ready
    conditions = [
        {"type": "PredictorReady", "status": predictor[0], "reason": predictor[1] or ("" if predictor[0] == "True" else "PredictorNotReady"), "message": predictor[2]},
        {"type": "IngressReady", "status": ingress_state},
        {"type": "Ready", "status": "True" if ready else ("Unknown" if predictor[0] == "Unknown" else "False"), "reason": "" if ready else (predictor[1] or "PredictorNotReady"), "message": "" if ready else predictor[2]},
        {"type": "Stopped", "status": "False"},
    ]
    status = base | {
        "conditions": [{**c, "lastTransitionTime": condition(c["type"], True)["lastTransitionTime"]} for c in conditions],
        "modelStatus": _model_status(pods, ready, previous),
        "address": {"url": address},
        "url": url,
    }
    if ready:
        status["components"] = {"predictor": {"url": f"http://{name}-predictor-{namespace}.example.com"}}
    generation = ((live or {}).get("status") or {}).get("observedGeneration")
    if generation:
        status["observedGeneration"] = generation
    set_status(sim.kube, kind, obj, status)
    return 1 if not ready or status["modelStatus"]["transitionStatus"] != "UpToDate" else 10
