"""OpenShift AI 3.x's MLflow operator: the MLflow controller of opendatahub-io/mlflow-operator at
e9dbb9fe55d70d5ea5cb14ea54328fade80f03fb (internal/controller/mlflow_controller.go Reconcile, migration.go,
status_urls.go, routing.go, operator_config.go, charts/mlflow/templates/), as opendatahub-operator deploys it
(internal/controller/modules/mlflowoperator/handler.go, v3.5.0 d9a9ab8b: ENABLE_MLFLOW_OPERATOR_MODULE_CONTROLLER
true, gateway name `data-science-gateway`, gateway domain from the GatewayConfig).

The opendatahub-operator runs that operator for DataScienceCluster (v2) `spec.components.mlflowoperator
.managementState: Managed`; here the controller acts while some DataScienceCluster has it Managed, and otherwise
leaves MLflows alone (looked at again every 30 s). Outcome key `mlflows` (or the annotation on the MLflow): `ignore`
= no controller; `fail` makes the migration Job's pod fail (the simulator's outcome annotation on its pod template,
and backoffLimit 0 instead of 3 so that it fails at once), so the MLflow stays Available False, Progressing True,
Migration Unknown / MigrationRetrying.

Reconcile of the cluster-scoped MLflow (the CRD admits only the name `mlflow`, so every name below has no suffix):
- operand namespace = the operator's APPLICATIONS_NAMESPACE, the DSCInitialization's `applicationsNamespace`
  (default `redhat-ods-applications`; created here if missing, as the opendatahub-operator does);
- condition MLflowOperatorReady True / Ready (ensureMLflowOperatorReady: the singleton MLflowOperator module CR
  `default-mlflowoperator`, not simulated, is taken as Ready); `status.address.url` =
  `https://mlflow.<ns>.svc:8443/mlflow` (buildStatusAddress) from the start;
- the chart's objects, owned by the MLflow: ServiceAccount `<spec.serviceAccountName>` (mlflow-sa), Service `mlflow`
  (https 8443 -> the container's `https` port; service-ca serving certificate `mlflow-tls`), ClusterRole and
  ClusterRoleBinding `mlflow` (the server's own: namespaces, secret `mlflow-artifact-connection`, mlflowconfigs, all
  get/list/watch), PVC `mlflow-pvc` with `spec.storage` (bound here as a default StorageClass would), Deployment
  `mlflow` (container `mlflow`, `mlflow server --app-name=kubernetes-auth --enable-workspaces
  --workspace-store-uri=kubernetes://`, MLFLOW_K8S_AUTH_AUTHORIZATION_MODE=self_subject_access_review; the image,
  spec.image.image or the operator's default, does not run here, so its pods get a status only: workloads.py).
  Not made: NetworkPolicy, ServiceMonitor, the ca-bundle-watcher sidecar, the GC / trace-archival CronJobs;
  ConsoleLink only where console.openshift.io is served (not here);
- migration (handleMigration), needed while `status.version` is not the supported MLflow version (v3.14.0,
  config/component_metadata.yaml), the current generation's Migration condition is not True, or mode Always:
  the Deployment is applied with 0 replicas, then Job `mlflow-mg-3140-g<generation>` (container `db-migrate`,
  restartPolicy Never, backoffLimit 3, ttlSecondsAfterFinished spec.migration's or 86400) is created;
  Available False, Progressing True and Migration Unknown with reason MigrationRunning ("Created migration Job ...
  because status.version is empty during bootstrap", then "Waiting for migration Job ... to finish"); a failed Job
  (exit code not one of the script's terminal codes 10-14) gives MigrationRetrying (Available False, Progressing
  True, Migration Unknown) and is deleted 2 min after it failed (a new one follows); a terminal code gives
  Available, Progressing and Migration False / MigrationFailed;
- HTTPRoute `mlflow` in the operand namespace (parent Gateway `data-science-gateway` in `openshift-ingress`;
  `/mlflow/v1` rewritten to `/v1`, `/mlflow` as is; both to Service mlflow:8443) where gateway.networking.k8s.io/v1
  is served; then `status.url` = `https://<gateway host>/mlflow` (buildStatusURL), the gateway host being
  `rh-ai.<apps domain>` from OpenShift AI 3.4 on and `data-science-gateway.<apps domain>` before (opendatahub-operator
  gateway_support.go GetFQDN); no HTTPRoute kind: no url;
- readiness of Deployment `mlflow`: all desired replicas ready -> `status.version` = v3.14.0 and Migration True /
  MigrationSucceeded ("Migration for generation <n> completed successfully") when the Job succeeded, Available True
  / DeploymentReady, Progressing False / ReconcileComplete; else Available False / DeploymentNotReady, Progressing
  True / DeploymentProgressing ("MLflow deployment not ready: <ready>/<desired> replicas ready").
Conditions as meta.SetStatusCondition: replaced by type, lastTransitionTime kept while the status stays the same;
only Migration and MLflowOperatorReady carry observedGeneration. Deletion: the garbage collector removes the owned
objects (no finalizer upstream).

MLflowConfig (mlflow.kubeflow.org/v1, namespaced, named `mlflow`) has no controller: the MLflow server's
kubernetes:// workspace provider reads it per request (mlflow-operator ARCHITECTURE.md), so nothing here acts on it.
"""

from __future__ import annotations

import copy
import datetime

from ..kube import JSON, object_path
from .engine import Kind, Simulator
from .objects import apply, now, owner_reference
from .platform import rhoai_version

MLFLOWS = Kind("mlflow.opendatahub.io/v1", "mlflows", "MLflow", namespaced=False)
CLUSTERS_V2 = Kind("datasciencecluster.opendatahub.io/v2", "datascienceclusters", "DataScienceCluster", namespaced=False)
INITIALIZATIONS_V1 = Kind("dscinitialization.opendatahub.io/v1", "dscinitializations", "DSCInitialization", namespaced=False)
DEPLOYMENTS = Kind("apps/v1", "deployments", "Deployment")
JOBS = Kind("batch/v1", "jobs", "Job")
HTTP_ROUTES = "gateway.networking.k8s.io/v1"
APPLICATIONS_NAMESPACE = "redhat-ods-applications"
GATEWAY_NAME, GATEWAY_NAMESPACE = "data-science-gateway", "openshift-ingress"
APPS_DOMAIN = "apps.fraud-demo.test"
SUPPORTED_VERSION = "v3.14.0"  # config/component_metadata.yaml
DEFAULT_IMAGE = "quay.io/opendatahub/mlflow:odh-stable"  # config/base/params.env MLFLOW_IMAGE
PORT = 8443
PREFIX = "/mlflow"
TLS_SECRET = "mlflow-tls"
OUTCOME, MESSAGE = "sim.fraud-demo.test/outcome", "sim.fraud-demo.test/message"
REQUEUE = 30.0
PROGRESS_REQUEUE = 5.0  # upstream requeues; Owns(Deployment, Job) wakes it sooner, as the watches here do
RETRY_DELAY = 120.0  # migrationRetryDelay
TERMINAL_EXIT_CODES = {
    10: f"migration image reports an unexpected MLflow version; expected {SUPPORTED_VERSION}",
    11: "operator-managed migration only supports SQL backend store URIs",
    12: "operator-managed migration only supports SQL registry store URIs",
    13: "migration completed but the resulting schema revision does not match the image's Alembic head",
    14: "migration failed because Alembic could not resolve the schema revision graph",
}
FORCE_MIGRATE = "mlflow.opendatahub.io/force-migrate"


def managed(sim: Simulator) -> bool:
    """A DataScienceCluster (v2, the 3.x variant only) with mlflowoperator Managed."""
    clusters = sim.kube.get(CLUSTERS_V2.path()) or {}
    return any(((c.get("spec") or {}).get("components") or {}).get("mlflowoperator", {}).get("managementState") == "Managed" for c in clusters.get("items") or [])


def applications_namespace(sim: Simulator) -> str:
    for item in (sim.kube.get(INITIALIZATIONS_V1.path()) or {}).get("items") or []:
        if ns := (item.get("spec") or {}).get("applicationsNamespace"):
            return str(ns)
    return APPLICATIONS_NAMESPACE


def gateway_host(sim: Simulator) -> str:
    """GetFQDN's default subdomain: `rh-ai` from 3.4 (v3.4.0 gateway_support.go), `data-science-gateway` before."""
    return f"{'rh-ai' if rhoai_version(sim) >= (3, 4) else GATEWAY_NAME}.{APPS_DOMAIN}"


def address_url(namespace: str) -> str:
    """buildStatusAddress."""
    return f"https://mlflow.{namespace}.svc:{PORT}{PREFIX}"


def migration_job_name(generation: int) -> str:
    """migrationJobName: the supported version's alphanumerics without the leading v, and the generation."""
    key = "".join(ch for ch in SUPPORTED_VERSION if ch.isalnum()).lower().removeprefix("v") or "unknown"
    return f"mlflow-mg-{key}-g{generation}"


def mlflow(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Reconcile the MLflow as the operator does."""
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return None
    if not managed(sim):
        return REQUEUE
    outcome = sim.outcome([obj], kind.plural)
    if outcome == "ignore":
        return None
    target = applications_namespace(sim)
    if sim.kube.get(object_path("v1", "namespaces", target)) is None:
        sim.kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": target}})
    status = copy.deepcopy(obj.get("status") or {})
    generation = int(obj["metadata"].get("generation", 1))
    _set_condition(status, "MLflowOperatorReady", "True", "Ready", "MLflowOperator is ready to manage MLflow custom resources", generation)
    status["address"] = {"url": address_url(target)}
    owner = [owner_reference(obj)]
    spec = obj.get("spec") or {}
    replicas = int(spec.get("replicas", 1))

    handled = _migration(sim, obj, status, target, owner, outcome, generation, replicas)
    if handled is not None:
        _write_status(sim, obj, status)
        return handled
    _apply_objects(sim, obj, target, owner, replicas)
    routes = sim.kube.get(f"/apis/{HTTP_ROUTES}") is not None
    if routes:
        _apply_route(sim, target, owner)
        status["url"] = f"https://{gateway_host(sim)}{PREFIX}"
    else:
        status.pop("url", None)

    deployment = sim.kube.get(DEPLOYMENTS.path("mlflow", target))
    if deployment is None:
        _write_status(sim, obj, status)
        return 5.0
    desired = int(deployment["spec"].get("replicas", 1))
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    if desired > 0 and ready >= desired:
        job = sim.kube.get(JOBS.path(migration_job_name(generation), target))
        if job is not None and int((job.get("status") or {}).get("succeeded") or 0) > 0:
            status["version"] = SUPPORTED_VERSION
            _set_condition(status, "Migration", "True", "MigrationSucceeded", f"Migration for generation {generation} completed successfully", generation)
        _set_condition(status, "Available", "True", "DeploymentReady", "MLflow deployment is ready and available")
        _set_condition(status, "Progressing", "False", "ReconcileComplete", "MLflow reconciliation completed successfully")
        _write_status(sim, obj, status)
        return REQUEUE
    message = f"MLflow deployment not ready: {ready}/{desired} replicas ready" if desired else "MLflow deployment scaled to zero replicas"
    _set_condition(status, "Available", "False", "DeploymentNotReady", message)
    _set_condition(status, "Progressing", "True", "DeploymentProgressing", message)
    _write_status(sim, obj, status)
    return PROGRESS_REQUEUE


def _migration(sim: Simulator, obj: JSON, status: JSON, target: str, owner: list[JSON], outcome: str, generation: int, replicas: int) -> float | None:
    """handleMigration; None when nothing is left to do for the migration (go on with the full rollout)."""
    spec = obj.get("spec") or {}
    mode = (spec.get("migration") or {}).get("mode") or "Automatic"
    forced = FORCE_MIGRATE in (obj["metadata"].get("annotations") or {})
    current = next((c for c in status.get("conditions") or [] if c["type"] == "Migration" and c.get("observedGeneration") == generation), None)
    requested = forced or status.get("version") != SUPPORTED_VERSION or (current is not None and current["status"] != "True") or (current is None and mode == "Always")
    if not requested:
        return None
    if forced:
        trigger = f"the {FORCE_MIGRATE} annotation is present"
    elif mode == "Always":
        trigger = f"spec.migration.mode=Always and desired generation {generation} has not completed migration yet"
    elif not status.get("version"):
        trigger = "status.version is empty during bootstrap"
    else:
        trigger = f"status.version={status['version']!r} does not match supported version {SUPPORTED_VERSION}"
    job_name = migration_job_name(generation)
    job = sim.kube.get(JOBS.path(job_name, target))
    job_status = (job or {}).get("status") or {}
    if job is not None and int(job_status.get("succeeded") or 0) > 0:
        return None
    _apply_objects(sim, obj, target, owner, 0)
    failed = next((c for c in job_status.get("conditions") or [] if c["type"] == "Failed" and c["status"] == "True"), None)
    if job is not None and failed is not None:
        code, message = _failure(sim, job)
        if code in TERMINAL_EXIT_CODES:
            text = f"{message.rstrip('.')}. After fixing the issue, add the {FORCE_MIGRATE} annotation to the MLflow resource to force a rerun."
            _migration_conditions(status, "MigrationFailed", text, "False", "False", generation)
            return REQUEUE
        failed_at = _parse(failed.get("lastTransitionTime")) or datetime.datetime.now(datetime.timezone.utc)
        retry_at = failed_at + datetime.timedelta(seconds=RETRY_DELAY)
        text = (f"{message} Retrying automatically after {retry_at.strftime('%Y-%m-%dT%H:%M:%SZ')}. If you want to rerun immediately "
                f"after fixing the issue, add the {FORCE_MIGRATE} annotation.")
        _migration_conditions(status, "MigrationRetrying", text, "True", "Unknown", generation)
        left = (retry_at - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        if left > 0:
            return min(left, REQUEUE)
        sim.kube.request("DELETE", JOBS.path(job_name, target), query={"propagationPolicy": "Background"})
        return 2.0
    deployment = sim.kube.get(DEPLOYMENTS.path("mlflow", target)) or {}
    active = int((deployment.get("status") or {}).get("replicas") or 0)
    if active > 0:
        _migration_conditions(status, "MigrationScalingDown", f"Waiting for MLflow pods to quiesce before migration: {active} replicas remain because {trigger}", "True", "Unknown", generation)
        return PROGRESS_REQUEUE
    if job is None:
        sim.kube.request("POST", JOBS.path(namespace=target), _job(obj, target, owner, job_name, outcome))
        _migration_conditions(status, "MigrationRunning", f"Created migration Job {job_name} because {trigger}", "True", "Unknown", generation)
    else:
        _migration_conditions(status, "MigrationRunning", f"Waiting for migration Job {job_name} to finish because {trigger}", "True", "Unknown", generation)
    return PROGRESS_REQUEUE


def _migration_conditions(status: JSON, reason: str, message: str, progressing: str, migration: str, generation: int) -> None:
    """MLflow.SetMigrationProgress / SetMigrationError / SetMigrationFailure (api/v1/mlflow_types.go)."""
    _set_condition(status, "Available", "False", reason, message)
    _set_condition(status, "Progressing", progressing, reason, message)
    _set_condition(status, "Migration", migration, reason, message, generation)


def _failure(sim: Simulator, job: JSON) -> tuple[int | None, str]:
    """jobFailureDetails: the exit code and message of the latest pod's terminated container, else the Job's."""
    namespace = job["metadata"]["namespace"]
    query = {"labelSelector": f"job-name={job['metadata']['name']}"}
    pods = (sim.kube.request("GET", object_path("v1", "pods", namespace=namespace), query=query) or {}).get("items") or []
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)[:1]:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (cs.get("state") or {}).get("terminated")
            if terminated:
                code = int(terminated.get("exitCode", 0))
                if code in TERMINAL_EXIT_CODES:
                    return code, TERMINAL_EXIT_CODES[code]
                return code, terminated.get("reason") or f"migration Job container exited with code {code}"
    failed = next((c for c in (job.get("status") or {}).get("conditions") or [] if c["type"] == "Failed"), {})
    return None, failed.get("message") or failed.get("reason") or "migration Job failed"


def _parse(stamp: str | None) -> datetime.datetime | None:
    if not stamp:
        return None
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def _pod_spec(obj: JSON, target: str) -> JSON:
    spec = obj.get("spec") or {}
    image = (spec.get("image") or {}).get("image") or DEFAULT_IMAGE
    args = ["server", "--host=0.0.0.0", f"--port={PORT}", "--serve-artifacts" if spec.get("serveArtifacts") else "--no-serve-artifacts",
            "--app-name=kubernetes-auth", "--enable-workspaces", "--workspace-store-uri=kubernetes://", f"--static-prefix={PREFIX}"]
    env = [{"name": "MLFLOW_K8S_AUTH_AUTHORIZATION_MODE", "value": "self_subject_access_review"}]
    if spec.get("backendStoreUri"):
        env.append({"name": "MLFLOW_BACKEND_STORE_URI", "value": spec["backendStoreUri"]})
    elif spec.get("backendStoreUriFrom"):
        ref = spec["backendStoreUriFrom"]
        env.append({"name": "MLFLOW_BACKEND_STORE_URI", "valueFrom": {"secretKeyRef": {"name": ref.get("name", ""), "key": ref["key"]}}})
    if spec.get("artifactsDestination"):
        env.append({"name": "MLFLOW_ARTIFACTS_DESTINATION", "value": spec["artifactsDestination"]})
    env += [e for e in spec.get("env") or [] if "name" in e]
    container = {"name": "mlflow", "image": image, "args": args, "env": env, "envFrom": spec.get("envFrom") or [],
                 "ports": [{"name": "https", "containerPort": PORT, "protocol": "TCP"}],
                 "volumeMounts": [{"name": "mlflow-tls", "mountPath": "/etc/tls/private", "readOnly": True}]}
    if (pull := (spec.get("image") or {}).get("imagePullPolicy")):
        container["imagePullPolicy"] = pull
    volumes = [{"name": "mlflow-tls", "secret": {"secretName": TLS_SECRET}}]
    if spec.get("storage"):
        container["volumeMounts"].append({"name": "mlflow-storage", "mountPath": "/mlflow"})
        volumes.append({"name": "mlflow-storage", "persistentVolumeClaim": {"claimName": "mlflow-pvc"}})
    return {"serviceAccountName": spec.get("serviceAccountName") or "mlflow-sa", "automountServiceAccountToken": True,
            "containers": [container], "volumes": volumes}


def _apply_objects(sim: Simulator, obj: JSON, target: str, owner: list[JSON], replicas: int) -> None:
    """The chart's objects (applyRenderedObjects), the Deployment with `replicas`."""
    spec = obj.get("spec") or {}
    labels = {"app": "mlflow", "component": "mlflow"}
    account = spec.get("serviceAccountName") or "mlflow-sa"
    apply(sim.kube, {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
                     "metadata": {"name": account, "namespace": target, "labels": labels, "ownerReferences": owner}}, "serviceaccounts")
    apply(sim.kube, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "mlflow", "namespace": target, "labels": labels, "ownerReferences": owner,
                     "annotations": {"service.beta.openshift.io/serving-cert-secret-name": TLS_SECRET}},
        "spec": {"type": "ClusterIP", "selector": {"app": "mlflow"}, "ports": [{"name": "https", "protocol": "TCP", "port": PORT, "targetPort": "https"}]},
    }, "services")
    rules = [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["mlflow-artifact-connection"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["mlflow.kubeflow.org"], "resources": ["mlflowconfigs"], "verbs": ["get", "list", "watch"]},
    ]
    rbac = "rbac.authorization.k8s.io/v1"
    apply(sim.kube, {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": "mlflow", "labels": labels, "ownerReferences": owner}, "rules": rules}, "clusterroles")
    apply(sim.kube, {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": "mlflow", "labels": labels, "ownerReferences": owner},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "mlflow"},
                     "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": target}]}, "clusterrolebindings")
    if spec.get("storage"):
        _ensure_pvc(sim, spec["storage"], target, labels, owner)
    template_meta: JSON = {"labels": {**labels, "app.kubernetes.io/instance": "mlflow", **(spec.get("podLabels") or {})}}
    if spec.get("podAnnotations"):
        template_meta["annotations"] = dict(spec["podAnnotations"])
    strategy = {"type": "Recreate"} if spec.get("storage") else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    apply(sim.kube, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "mlflow", "namespace": target, "labels": labels, "ownerReferences": owner},
        "spec": {"replicas": replicas, "strategy": strategy, "selector": {"matchLabels": {"app": "mlflow"}},
                 "template": {"metadata": template_meta, "spec": _pod_spec(obj, target)}},
    }, "deployments")


def _ensure_pvc(sim: Simulator, storage: JSON, target: str, labels: dict[str, str], owner: list[JSON]) -> None:
    """pvc.yaml (first access mode, requested size), bound as a default StorageClass's provisioner would."""
    path = object_path("v1", "persistentvolumeclaims", "mlflow-pvc", target)
    pvc = sim.kube.get(path)
    if pvc is None:
        size = ((storage.get("resources") or {}).get("requests") or {}).get("storage", "10Gi")
        mode = (storage.get("accessModes") or ["ReadWriteOnce"])[0]
        pvc_spec: JSON = {"accessModes": [mode], "resources": {"requests": {"storage": size}}}
        if storage.get("storageClassName"):
            pvc_spec["storageClassName"] = storage["storageClassName"]
        body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "mlflow-pvc", "namespace": target, "labels": labels, "ownerReferences": owner}, "spec": pvc_spec}
        pvc = sim.kube.request("POST", object_path("v1", "persistentvolumeclaims", namespace=target), body) or {}
    if (pvc.get("status") or {}).get("phase") != "Bound":
        bound = {"phase": "Bound", "accessModes": pvc["spec"]["accessModes"], "capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]}}
        sim.kube.merge_patch(path + "/status", {"status": bound})


def _job(obj: JSON, target: str, owner: list[JSON], name: str, outcome: str) -> JSON:
    """buildMigrationJobFromDeployment: the mlflow container as `db-migrate`, no ports or probes, run once."""
    pod = _pod_spec(obj, target)
    container = pod["containers"][0]
    container.update({"name": "db-migrate", "command": ["/bin/sh", "-ec"], "args": ['exec python3.12 -c "$MIGRATION_PYTHON_SCRIPT"']})
    container.pop("ports")
    container["env"] = [*container["env"], {"name": "SUPPORTED_MLFLOW_VERSION", "value": SUPPORTED_VERSION}]
    pod["restartPolicy"] = "Never"
    labels = {"component": "mlflow-migration", "mlflow.opendatahub.io/migration-job": "true", "mlflow.opendatahub.io/migration-instance": obj["metadata"]["name"]}
    template_meta: JSON = {"labels": dict(labels)}
    if outcome == "fail":  # the simulator's switch, read by workloads.py on the pod
        message = Simulator.failure_message([obj], "simulated migration failure")
        template_meta["annotations"] = {OUTCOME: "fail", MESSAGE: message}
    ttl = int((obj.get("spec") or {}).get("migration", {}).get("ttlSecondsAfterFinished") or 86400)
    backoff = 0 if outcome == "fail" else 3  # the switch fails at once, not after the job controller's 3 retries
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": target, "labels": labels, "ownerReferences": owner},
            "spec": {"backoffLimit": backoff, "ttlSecondsAfterFinished": ttl, "template": {"metadata": template_meta, "spec": pod}}}


def _apply_route(sim: Simulator, target: str, owner: list[JSON]) -> None:
    """reconcileHttpRoute."""
    backend = [{"name": "mlflow", "port": PORT, "weight": 1}]
    rules = [
        {"matches": [{"path": {"type": "PathPrefix", "value": f"{PREFIX}/v1"}}],
         "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v1"}}}],
         "backendRefs": backend},
        {"matches": [{"path": {"type": "PathPrefix", "value": PREFIX}}], "backendRefs": backend},
    ]
    apply(sim.kube, {"apiVersion": HTTP_ROUTES, "kind": "HTTPRoute",
                     "metadata": {"name": "mlflow", "namespace": target, "labels": {"app": "mlflow"}, "ownerReferences": owner},
                     "spec": {"parentRefs": [{"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE}], "rules": rules}}, "httproutes")


def _set_condition(status: JSON, kind: str, value: str, reason: str, message: str, generation: int | None = None) -> None:
    """meta.SetStatusCondition."""
    conditions = status.setdefault("conditions", [])
    wanted: JSON = {"type": kind, "status": value, "reason": reason, "message": message}
    if generation is not None:
        wanted["observedGeneration"] = generation
    for i, existing in enumerate(conditions):
        if existing["type"] == kind:
            wanted["lastTransitionTime"] = existing.get("lastTransitionTime") or now() if existing.get("status") == value else now()
            conditions[i] = wanted
            return
    wanted["lastTransitionTime"] = now()
    conditions.append(wanted)


def _write_status(sim: Simulator, obj: JSON, status: JSON) -> None:
    """updateStatus: the whole status (a Status().Update), written when it changed."""
    if status == (obj.get("status") or {}):
        return
    meta = obj["metadata"]
    body = dict(obj)
    body["status"] = status
    body["metadata"] = {**meta, "resourceVersion": meta["resourceVersion"]}
    sim.kube.request("PUT", MLFLOWS.path(meta["name"]) + "/status", body)


__all__ = ["JOBS", "MLFLOWS", "mlflow"]
