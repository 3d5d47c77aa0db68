"""Simulated platform controllers for the test control plane.

No kubelet, router, registry, bucket provisioner, notebook or serving controller runs next to the
test kube-apiserver, so this process watches their kinds and writes what they would write (see each
module's docstring). The real kube-controller-manager still runs the namespace, garbage-collector,
service-account, deployment, replicaset, statefulset and job controllers.

Switching a behaviour, per object or for a whole kind:
- annotation `sim.fraud-demo.test/outcome: succeed | fail | ignore` on the object (for pods: on the
  pod or any owner up its chain, e.g. the Job, the Deployment, the Notebook or the InferenceService),
  with an optional `sim.fraud-demo.test/message` for the failure message;
- else ConfigMap `simulator-config` in `kube-system`, key = the plural of the kind (`jobs`,
  `deployments`, `notebooks`, `inferenceservices`, `objectbucketclaims`, `builds`, `routes`, ...),
  value as above; key `rhoai-version` overrides the reported OpenShift AI version.
`fail` gives the kind's failure status; `ignore` leaves the object as if no controller ran.
"""

from __future__ import annotations

from .engine import Kind, Simulator
from .notebooks import NOTEBOOKS, STATEFUL_SETS, notebook
from .openshift import BUILDS, IMAGE_STREAMS, ROUTES, build, image_stream, route
from .platform import CLUSTERS, INITIALIZATIONS, data_science_cluster, initialization
from .serving import DEPLOYMENTS, RUNTIMES, SERVICES, inference_service, runtime
from .storage import CLAIMS, claim
from .workloads import PODS, pod

HANDLERS = {
    PODS: pod,
    CLAIMS: claim,
    ROUTES: route,
    IMAGE_STREAMS: image_stream,
    BUILDS: build,
    NOTEBOOKS: notebook,
    RUNTIMES: runtime,
    SERVICES: inference_service,
    CLUSTERS: data_science_cluster,
    INITIALIZATIONS: initialization,
}
WATCH_ONLY: list[Kind] = [DEPLOYMENTS, STATEFUL_SETS]

__all__ = ["HANDLERS", "WATCH_ONLY", "Simulator"]
