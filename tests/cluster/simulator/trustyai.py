"""The TrustyAI service operator's TrustyAIService controller, as read in trustyai-explainability/
trustyai-service-operator at 11c335b879fcfcbd2acd9c572d12a06976d985d8 (controllers/tas/).

The opendatahub-operator deploys that operator for DataScienceCluster `spec.components.trustyai.managementState:
Managed`; the operator itself never reads the DataScienceCluster. So here the controller runs while some
DataScienceCluster has trustyai Managed, and otherwise leaves TrustyAIServices as if no operator were installed
(looked at again every 30 s, as a starting operator would list them). Outcome key `trustyaiservices`: `ignore` =
no controller; `fail` reaches the service's pod through its owner chain (it crash-loops, so the status is Not Ready).

Reconcile (trustyaiservice_controller.go Reconcile), level-triggered and requeued every 30 s (defaultRequeueDelay;
upstream's InferenceService watch enqueues the InferenceService's own name, so an InferenceService created after
the TrustyAIService is picked up by that requeue):
- finalizer `trustyai.opendatahub.io/finalizer` added first;
- ServiceAccount `<name>-proxy`, Service `<name>-tls` (443 -> 8443, kube-rbac-proxy; serving certificate
  `<name>-tls`; service_accounts.go, templates/service/service-tls.tmpl.yaml);
- the InferenceServices of its namespace (inference_services.go handleInferenceServices), by their
  `serving.kserve.io/deploymentMode` annotation: RawDeployment / Standard -> `spec.predictor.logger =
  {mode: all, url: https://<name>.<ns>.svc.cluster.local}` (utils.GenerateHTTPSKServeLoggerURL) by an Update of the
  InferenceService, left alone when the logger already has that url (nothing else is set: no caBundle, no
  annotation; the Istio DestinationRule/VirtualService only for `sidecar.istio.io/inject: "true"`, not done here);
  ModelMesh -> every Deployment labelled `modelmesh-service: modelmesh-serving`, once all are ready (else requeue
  after 1 min with nothing else done), gets volume `<name>-internal` (Secret `<name>-internal`) mounted at
  `/etc/trustyai/tls` in every container, `MM_PAYLOAD_PROCESSORS` += `https://<name>.<ns>.svc/consumer/kserve/v2`
  (space-separated, generateEnvVarValue) in every container and `MM_TLS_KEY_CERT_PATH=/etc/trustyai/tls/tls.crt`
  in `mm`; Serverless / Knative only with the operator config's `kServeServerless` enabled (default disabled, so
  skipped here); any other value or no annotation -> skipped;
- storage: PVC / migration -> PVC `<name>-pvc` (ReadWriteOnce, `spec.storage.size`; storage.go). This control plane
  has no volume provisioner, so the simulator binds it (as a default StorageClass would); DATABASE -> Secret
  `spec.storage.databaseConfigurations` (else `<name>-db-credentials`) with non-empty databaseKind,
  databaseUsername, databasePassword, databaseService, databasePort, databaseName (secrets.go), else status
  DBAvailable False (DBCredentialsNotFound / DBCredentialsError), Not Ready, and nothing more;
- Deployment `<name>` (templates/service/deployment.tmpl.yaml: replicas 1, labels app / app.kubernetes.io/*, part-of
  trustyai, version 1.39.0, containers `trustyai-service` quay.io/trustyai/trustyai-service:latest and
  `kube-rbac-proxy` (config/base/params.env), service account `<name>-proxy`); its pod gets a status only
  (workloads.py), the Deployment controller makes it Available;
- Service `<name>` (80 -> 8080 http, 443 -> 4443 https, serving certificate `<name>-internal`; service-internal
  .tmpl.yaml), the host of the logger url; Route `<name>` -> `<name>-tls` port https, reencrypt (route.go);
  ServiceMonitors are not made here;
- status (statuses.go reconcileStatuses; conditions merged by type as TrustyAIService.SetStatus, lastTransitionTime
  kept while the status does not change, observedGeneration): InferenceServicesPresent
  (InferenceServicesFound / InferenceServicesNotFound), PVCAvailable (PVCFound / PVCNotFound), RouteAvailable
  (RouteFound / RouteNotFound), DBAvailable (DBAvailable / DBConnectionError), Available (AllComponentsReady /
  NotAllComponentsReady), Ready (AllComponentsReady / ComponentsNotReady), ProvisioningSucceeded
  (ProvisioningComplete / ProvisioningInProgress), Degraded (FullyFunctional / PartialFunctionality /
  NoFunctionality); `phase` Ready or "Not Ready", deprecated `ready` True/False. Ready needs the Deployment
  Available with all replicas ready and no container crash-looping, the Route admitted and the PVC Bound (PVC) or
  the `trustyai-service` container running (DATABASE). `status.replicas` is never written upstream.
- deletion (finalizers.go deleteExternalDependency): handleInferenceServices with remove: the logger is removed
  (with annotations `internal.serving.kserve.io/logger`, `-mode`, `-sink-url`) where its url is this service's,
  the url is taken out of MM_PAYLOAD_PROCESSORS (the volume, mount and MM_TLS_KEY_CERT_PATH stay); then the
  finalizer goes and the garbage collector removes the owned objects.
"""

from __future__ import annotations

import copy

from ..kube import JSON, KubeError, object_path
from .engine import Kind, Simulator
from .objects import MANAGER, apply, now, owner_reference

TRUSTYAI_SERVICES = Kind("trustyai.opendatahub.io/v1", "trustyaiservices", "TrustyAIService")
CLUSTERS_V1 = Kind("datasciencecluster.opendatahub.io/v1", "datascienceclusters", "DataScienceCluster", namespaced=False)
ISVCS = Kind("serving.kserve.io/v1beta1", "inferenceservices", "InferenceService")
DEPLOYMENTS = Kind("apps/v1", "deployments", "Deployment")
FINALIZER = "trustyai.opendatahub.io/finalizer"
OPERATOR = "trustyai-service-operator"  # field manager of its Updates
VERSION = "1.39.0"  # controllers/constants/version.go
SERVICE_IMAGE = "quay.io/trustyai/trustyai-service:latest"
PROXY_IMAGE = "quay.io/opendatahub/odh-kube-rbac-proxy:odh-stable"
REQUEUE = 30.0
NOT_READY_REQUEUE = 60.0
TLS_MOUNT_PATH = "/etc/trustyai/tls"
PAYLOAD_PROCESSORS = "MM_PAYLOAD_PROCESSORS"
TLS_KEY_CERT_PATH = "MM_TLS_KEY_CERT_PATH"
DB_KEYS = ("databaseKind", "databaseUsername", "databasePassword", "databaseService", "databasePort", "databaseName")
LOGGER_ANNOTATIONS = ("internal.serving.kserve.io/logger", "internal.serving.kserve.io/logger-mode", "internal.serving.kserve.io/logger-sink-url")


def managed(sim: Simulator) -> bool:
    """Whether the opendatahub-operator runs the TrustyAI operator: a DataScienceCluster with trustyai Managed
    (v1 is served by both variants)."""
    clusters = sim.kube.get(CLUSTERS_V1.path()) or {}
    return any(((c.get("spec") or {}).get("components") or {}).get("trustyai", {}).get("managementState") == "Managed" for c in clusters.get("items") or [])


def logger_url(name: str, namespace: str) -> str:
    """utils.GenerateHTTPSKServeLoggerURL."""
    return f"https://{name}.{namespace}.svc.cluster.local"


def payload_processor_url(name: str, namespace: str) -> str:
    """utils.GenerateTLSServiceURL + /consumer/kserve/v2."""
    return f"https://{name}.{namespace}.svc/consumer/kserve/v2"


def trustyai_service(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Reconcile one TrustyAIService as the operator does."""
    if obj is None:
        return None
    if not managed(sim):
        return REQUEUE
    if sim.outcome([obj], "trustyaiservices") == "ignore":
        return None
    meta = obj["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER not in finalizers:
        if meta.get("deletionTimestamp"):
            return None
        _set_finalizers(sim, kind, obj, [*finalizers, FINALIZER])
        return 0
    if meta.get("deletionTimestamp"):
        try:
            _inference_services(sim, obj, remove=True)
        except KubeError:
            pass  # upstream logs the error and removes the finalizer all the same
        _set_finalizers(sim, kind, obj, [f for f in finalizers if f != FINALIZER])
        return None

    owner = [owner_reference(obj)]
    labels = _labels(name)
    apply(sim.kube, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"{name}-proxy", "namespace": namespace, "labels": {"app": name, "component": namespace}, "ownerReferences": owner}}, "serviceaccounts")
    apply(sim.kube, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": f"{name}-tls", "namespace": namespace, "ownerReferences": owner, "labels": {**labels, "trustyai-service-name": name},
                     "annotations": {"service.beta.openshift.io/serving-cert-secret-name": f"{name}-tls"}},
        "spec": {"ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443}], "selector": {"app": name}},
    }, "services")
    if not _inference_services(sim, obj, remove=False):
        return NOT_READY_REQUEUE

    storage = obj["spec"]["storage"]
    fmt = storage["format"]
    migration = _migration(obj)
    if fmt == "PVC" or migration:
        _ensure_pvc(sim, obj, owner)
    if fmt == "DATABASE":
        problem = _database_secret_problem(sim, obj)
        if problem is not None:
            def db_failed(status: JSON) -> None:
                _set_condition(obj, status, "DBAvailable", problem[0], problem[1], False)
                _not_available(obj, status)
            _update_status(sim, kind, obj, db_failed)
            return REQUEUE

    _ensure_deployment(sim, obj, owner, labels, fmt)
    apply(sim.kube, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": owner, "labels": labels,
                     "annotations": {"prometheus.io/path": "/q/metrics", "prometheus.io/scheme": "http", "prometheus.io/scrape": "true",
                                     "service.beta.openshift.io/serving-cert-secret-name": f"{name}-internal"}},
        "spec": {"type": "ClusterIP", "selector": labels,
                 "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}, {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 4443}]},
    }, "services")
    apply(sim.kube, {
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": owner, "labels": {"trustyai-service-name": name}},
        "spec": {"to": {"kind": "Service", "name": f"{name}-tls", "weight": 100}, "port": {"targetPort": "https"},
                 "tls": {"termination": "reencrypt", "insecureEdgeTerminationPolicy": "Redirect"}},
    }, "routes")
    _reconcile_statuses(sim, kind, obj, fmt, migration)
    return REQUEUE


def _labels(name: str) -> dict[str, str]:
    return {"app": name, "app.kubernetes.io/instance": name, "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "trustyai", "app.kubernetes.io/version": VERSION}


def _migration(obj: JSON) -> bool:
    """TrustyAIService.IsMigration."""
    spec = obj["spec"]
    return spec["storage"]["format"] == "DATABASE" and bool(spec["storage"].get("folder")) and bool((spec.get("data") or {}).get("filename"))


def _set_finalizers(sim: Simulator, kind: Kind, obj: JSON, finalizers: list[str]) -> None:
    meta = obj["metadata"]
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
    sim.kube.merge_patch(kind.path(meta["name"], meta["namespace"]), patch)


def _inference_services(sim: Simulator, obj: JSON, remove: bool) -> bool:
    """handleInferenceServices; False when a ModelMesh Deployment is not ready yet (upstream then requeues)."""
    namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    for isvc in (sim.kube.get(ISVCS.path(namespace=namespace)) or {}).get("items") or []:
        mode = (isvc["metadata"].get("annotations") or {}).get("serving.kserve.io/deploymentMode", "")
        if mode == "ModelMesh":
            if not _patch_modelmesh(sim, obj, namespace, remove):
                return False
        elif mode in ("RawDeployment", "Standard"):
            _patch_kserve(sim, isvc, logger_url(name, namespace), remove)
        # Serverless / Knative: only with kServeServerless enabled in the operator's ConfigMap (default disabled)
    return True


def _patch_kserve(sim: Simulator, isvc: JSON, url: str, remove: bool) -> None:
    """patchKServe: set (or remove) the InferenceService's logger by an Update."""
    predictor = isvc["spec"].setdefault("predictor", {})
    logger = predictor.get("logger")
    current = (logger or {}).get("url")
    if remove:
        if logger is None or current != url:
            return
        del predictor["logger"]
        annotations = isvc["metadata"].get("annotations") or {}
        for key in LOGGER_ANNOTATIONS:
            annotations.pop(key, None)
    else:
        if logger is not None and current == url:
            return
        predictor["logger"] = {"mode": "all", "url": url}
    meta = isvc["metadata"]
    sim.kube.request("PUT", ISVCS.path(meta["name"], meta["namespace"]), isvc, query={"fieldManager": OPERATOR})


def _env_value(current: str, new: str, remove: bool) -> str:
    """generateEnvVarValue."""
    parts = current.split(" ")
    if remove and new in parts:
        return " ".join(p for p in parts if p != new)
    if not remove and new not in parts:
        return current + " " + new
    return current


def _patch_modelmesh(sim: Simulator, obj: JSON, namespace: str, remove: bool) -> bool:
    """patchEnvVarsForDeployments for the `modelmesh-service=modelmesh-serving` Deployments."""
    name = obj["metadata"]["name"]
    url = payload_processor_url(name, namespace)
    query = {"labelSelector": "modelmesh-service=modelmesh-serving"}
    deployments = (sim.kube.request("GET", DEPLOYMENTS.path(namespace=namespace), query=query) or {}).get("items") or []
    for deployment in deployments:
        if int((deployment.get("status") or {}).get("readyReplicas") or 0) != int(deployment["spec"].get("replicas", 1)):
            return False
        before = copy.deepcopy(deployment["spec"])
        pod = deployment["spec"]["template"]["spec"]
        volume = f"{name}-internal"
        if not any(v["name"] == volume for v in pod.get("volumes") or []):
            pod.setdefault("volumes", []).append({"name": volume, "secret": {"secretName": volume}})
        for container in pod["containers"]:
            mounts = container.setdefault("volumeMounts", [])
            if not any(m["name"] == volume for m in mounts):
                mounts.append({"name": volume, "mountPath": TLS_MOUNT_PATH, "readOnly": True})
            env = container.setdefault("env", [])
            var = next((e for e in env if e["name"] == PAYLOAD_PROCESSORS), None)
            if var is None and not remove:
                env.append({"name": PAYLOAD_PROCESSORS, "value": url})
            elif var is not None and url not in (var.get("value") or "").split(" "):
                var["value"] = _env_value(var.get("value") or "", url, remove)
            elif var is not None and remove:
                var["value"] = _env_value(var.get("value") or "", url, remove)
            if container["name"] == "mm" and not any(e["name"] == TLS_KEY_CERT_PATH for e in env):
                env.append({"name": TLS_KEY_CERT_PATH, "value": f"{TLS_MOUNT_PATH}/tls.crt"})
        if deployment["spec"] != before:
            meta = deployment["metadata"]
            sim.kube.request("PUT", DEPLOYMENTS.path(meta["name"], namespace), deployment, query={"fieldManager": OPERATOR})
    return True


def _ensure_pvc(sim: Simulator, obj: JSON, owner: list[JSON]) -> None:
    """ensurePVC (created once, never updated), bound here as a default StorageClass's provisioner would."""
    namespace, name = obj["metadata"]["namespace"], f"{obj['metadata']['name']}-pvc"
    path = object_path("v1", "persistentvolumeclaims", name, namespace)
    pvc = sim.kube.get(path)
    if pvc is None:
        size = obj["spec"]["storage"].get("size", "")
        body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": namespace, "ownerReferences": owner},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}
        pvc = sim.kube.request("POST", object_path("v1", "persistentvolumeclaims", namespace=namespace), body, query={"fieldManager": OPERATOR}) or {}
    if (pvc.get("status") or {}).get("phase") != "Bound":
        request = pvc["spec"]["resources"]["requests"]["storage"]
        status = {"phase": "Bound", "accessModes": pvc["spec"]["accessModes"], "capacity": {"storage": request}}
        sim.kube.merge_patch(path + "/status", {"status": status})


def _database_secret_problem(sim: Simulator, obj: JSON) -> tuple[str, str] | None:
    """findDatabaseSecret + validateDatabaseSecret: (reason, message) of the DBAvailable condition, or None."""
    namespace = obj["metadata"]["namespace"]
    secret_name = obj["spec"]["storage"].get("databaseConfigurations") or f"{obj['metadata']['name']}-db-credentials"
    secret = sim.kube.get(object_path("v1", "secrets", secret_name, namespace))
    if secret is None:
        return "DBCredentialsNotFound", "Database credentials not found"
    data = secret.get("data") or {}
    if any(not data.get(key) for key in DB_KEYS):
        return "DBCredentialsError", "Error with database credentials"
    return None


def _ensure_deployment(sim: Simulator, obj: JSON, owner: list[JSON], labels: dict[str, str], fmt: str) -> None:
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    spec = obj["spec"]
    env = [{"name": "SERVICE_STORAGE_FORMAT", "value": fmt}, {"name": "SERVICE_METRICS_SCHEDULE", "value": spec["metrics"]["schedule"]}]
    volumes: list[JSON] = []
    mounts: list[JSON] = []
    if fmt == "PVC" or _migration(obj):
        volumes.append({"name": "volume", "persistentVolumeClaim": {"claimName": f"{name}-pvc"}})
        mounts.append({"name": "volume", "mountPath": spec["storage"].get("folder") or "/inputs"})
    service = {"name": "trustyai-service", "image": SERVICE_IMAGE, "env": env, "volumeMounts": mounts,
               "readinessProbe": {"httpGet": {"path": "/q/health/ready", "port": 8080}}}
    proxy = {"name": "kube-rbac-proxy", "image": PROXY_IMAGE,
             "ports": [{"name": "https", "containerPort": 8443}, {"name": "proxy-healthz", "containerPort": 9443}]}
    apply(sim.kube, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": owner},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels, "annotations": {"prometheus.io/path": "/q/metrics", "prometheus.io/scheme": "http", "prometheus.io/scrape": "true"}},
                         "spec": {"serviceAccountName": f"{name}-proxy", "containers": [service, proxy], "volumes": volumes}},
        },
    }, "deployments")


def _pods_of(sim: Simulator, namespace: str, labels: dict[str, str]) -> list[JSON]:
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    return (sim.kube.request("GET", object_path("v1", "pods", namespace=namespace), query={"labelSelector": selector}) or {}).get("items") or []


def _deployment_ready(sim: Simulator, obj: JSON) -> tuple[bool, bool]:
    """checkDeploymentReady and checkDatabaseAccessible (Available, all replicas ready, no crash loop / running)."""
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    deployment = sim.kube.get(DEPLOYMENTS.path(name, namespace))
    if deployment is None:
        return False, False
    status = deployment.get("status") or {}
    if not any(c["type"] == "Available" and c["status"] == "True" for c in status.get("conditions") or []):
        return False, False
    statuses = [cs for pod in _pods_of(sim, namespace, deployment["spec"]["selector"]["matchLabels"]) for cs in (pod.get("status") or {}).get("containerStatuses") or []]
    db = any(cs["name"] == "trustyai-service" and "running" in (cs.get("state") or {}) for cs in statuses)
    if int(status.get("readyReplicas") or 0) != int(deployment["spec"].get("replicas", 1)):
        return False, db
    for cs in statuses:
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff" or (state.get("terminated") or {}).get("exitCode", 0) != 0:
            return False, db
    return True, db


def _route_admitted(sim: Simulator, obj: JSON) -> bool:
    route = sim.kube.get(object_path("route.openshift.io/v1", "routes", obj["metadata"]["name"], obj["metadata"]["namespace"])) or {}
    return any(c["type"] == "Admitted" and c["status"] == "True" for i in (route.get("status") or {}).get("ingress") or [] for c in i.get("conditions") or [])


def _pvc_bound(sim: Simulator, obj: JSON) -> bool:
    pvc = sim.kube.get(object_path("v1", "persistentvolumeclaims", f"{obj['metadata']['name']}-pvc", obj["metadata"]["namespace"])) or {}
    return (pvc.get("status") or {}).get("phase") == "Bound"


def _reconcile_statuses(sim: Simulator, kind: Kind, obj: JSON, fmt: str, migration: bool) -> None:
    """reconcileStatuses."""
    pvc = _pvc_bound(sim, obj) if fmt == "PVC" or migration else False
    deployment, db = _deployment_ready(sim, obj)
    db = db if fmt == "DATABASE" or migration else False
    route = _route_admitted(sim, obj)
    isvcs = bool((sim.kube.get(ISVCS.path(namespace=obj["metadata"]["namespace"])) or {}).get("items"))
    all_ready = (pvc and deployment and route and fmt == "PVC") or (deployment and route and db and fmt == "DATABASE")

    def update(status: JSON) -> None:
        if isvcs:
            _set_condition(obj, status, "InferenceServicesPresent", "InferenceServicesFound", "InferenceServices found", True)
        else:
            _set_condition(obj, status, "InferenceServicesPresent", "InferenceServicesNotFound", "InferenceServices not found", False)
            status["ready"] = "False"
        if all_ready:
            if fmt == "PVC" or migration:
                _set_condition(obj, status, "PVCAvailable", "PVCFound", "PersistentVolumeClaim found", True)
            _set_condition(obj, status, "RouteAvailable", "RouteFound", "Route found", True)
            if fmt == "DATABASE" or migration:
                if db:
                    _set_condition(obj, status, "DBAvailable", "DBAvailable", "Database available", True)
                else:  # upstream's branch for a migration whose database is not accessible
                    _set_condition(obj, status, "DBAvailable", "DBConnectionError", "Error connecting to database", False)
                    status["phase"], status["ready"] = "Not Ready", "False"
                    _set_condition(obj, status, "Ready", "DBNotReady", "Database is not accessible", False)
                    _set_condition(obj, status, "ProvisioningSucceeded", "ProvisioningInProgress", "Service provisioning in progress", False)
                    _set_condition(obj, status, "Degraded", "PartialFunctionality", "PVC components are ready but database is not accessible", True)
                    return
            _set_condition(obj, status, "Available", "AllComponentsReady", "AllComponentsReady", True)
            status["phase"], status["ready"] = "Ready", "True"
            _set_condition(obj, status, "Ready", "AllComponentsReady", "All service components are ready", True)
            _set_condition(obj, status, "ProvisioningSucceeded", "ProvisioningComplete", "Service provisioning completed successfully", True)
            _set_condition(obj, status, "Degraded", "FullyFunctional", "All components are fully functional", False)
            return
        if fmt == "PVC" or migration:
            if pvc:
                _set_condition(obj, status, "PVCAvailable", "PVCFound", "PersistentVolumeClaim found", True)
            else:
                _set_condition(obj, status, "PVCAvailable", "PVCNotFound", "PersistentVolumeClaim not found", False)
                status["phase"], status["ready"] = "Not Ready", "False"
        if fmt == "DATABASE" or migration:
            _set_condition(obj, status, "DBAvailable", "DBConnectionError", "Error connecting to database", False)
            status["phase"], status["ready"] = "Not Ready", "False"
        if route:
            _set_condition(obj, status, "RouteAvailable", "RouteFound", "Route found", True)
        else:
            _set_condition(obj, status, "RouteAvailable", "RouteNotFound", "Route not found", False)
        _not_available(obj, status)
        _set_condition(obj, status, "Ready", "ComponentsNotReady", "Not all service components are ready", False)
        _set_condition(obj, status, "ProvisioningSucceeded", "ProvisioningInProgress", "Service provisioning in progress", False)
        if deployment or route or pvc or db:
            _set_condition(obj, status, "Degraded", "PartialFunctionality", "Some components are available but service is not fully functional", True)
        else:
            _set_condition(obj, status, "Degraded", "NoFunctionality", "No components are available", True)

    _update_status(sim, kind, obj, update)


def _not_available(obj: JSON, status: JSON) -> None:
    """UpdateTrustyAIServiceNotAvailable."""
    _set_condition(obj, status, "Available", "NotAllComponentsReady", "Not all components available", False)
    status["phase"], status["ready"] = "Not Ready", "False"


def _set_condition(obj: JSON, status: JSON, kind: str, reason: str, message: str, value: bool) -> None:
    """TrustyAIService.SetStatus: replace the condition of that type (its lastTransitionTime kept while the status
    stays the same) or append it."""
    wanted = {"type": kind, "status": "True" if value else "False", "reason": reason, "message": message,
              "observedGeneration": obj["metadata"].get("generation", 0)}
    conditions = status.setdefault("conditions", [])
    for i, existing in enumerate(conditions):
        if existing["type"] == kind:
            same = existing.get("status") == wanted["status"]
            wanted["lastTransitionTime"] = existing.get("lastTransitionTime") or now() if same else now()
            conditions[i] = wanted
            return
    wanted["lastTransitionTime"] = now()
    conditions.append(wanted)


def _update_status(sim: Simulator, kind: Kind, obj: JSON, update: object) -> None:
    """updateStatus: the stored status, changed by `update`, with observedGeneration; written when it changed."""
    current = obj.get("status") or {}
    status = copy.deepcopy(current)
    update(status)  # type: ignore[operator]
    status["observedGeneration"] = obj["metadata"].get("generation", 0)
    if status != current:
        meta = obj["metadata"]
        body = {"status": status, "metadata": {"resourceVersion": meta["resourceVersion"]}}
        sim.kube.merge_patch(kind.path(meta["name"], meta["namespace"]) + "/status", body)


__all__ = ["MANAGER", "TRUSTYAI_SERVICES", "trustyai_service"]
