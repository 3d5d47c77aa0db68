"""Simulated platform controllers for the test control plane.

No router, registry, bucket provisioner, notebook or serving controller runs next to the test kube-apiserver, so
this process watches their kinds and writes what they would write (see each module's docstring). The real
kube-controller-manager still runs the namespace, garbage-collector, service-account, deployment, replicaset,
statefulset, job, endpointslice and root-ca-cert-publisher controllers.

With a pod network (root, network.py) this process is also the node: the kubelet (pods/kubelet.py) runs pods
whose images run here as real processes, kube-proxy and cluster DNS (services.py), the router (router.py), the
service CA (serviceca.py), OpenShift AI's CA bundles and storage-config (odh.py) and two admission webhooks
(webhooks.py). Without one, pods get a status only (workloads.py).

Switching a behaviour, per object or for a whole kind:
- annotation `sim.fraud-demo.test/outcome: succeed | fail | ignore` on the object (for pods whose images do not
  run here: on the pod or any owner up its chain, e.g. the Job, the Deployment, the Notebook or the
  InferenceService), with an optional `sim.fraud-demo.test/message` for the failure message;
- else ConfigMap `simulator-config` in `kube-system`, key = the plural of the kind (`jobs`, `deployments`,
  `notebooks`, `inferenceservices`, `objectbucketclaims`, `builds`, `routes`, ...), value as above; key
  `rhoai-version` overrides the reported OpenShift AI version.
`fail` gives the kind's failure status; `ignore` leaves the object as if no controller ran. Pods that really run
ignore the switches: their outcome is what their processes do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..kube import JSON, Kube
from ..network import ClusterNetwork
from ..pki import Authority
from ..pods.images import Registry
from ..pods.kubelet import Kubelet
from ..pods.logs import serve as serve_logs
from . import openshift, workloads
from .engine import Kind, Simulator
from .mlflow import JOBS, MLFLOWS, mlflow
from .notebooks import NOTEBOOKS, STATEFUL_SETS, notebook
from .odh import OpenDataHub
from .platform import CLUSTERS, INITIALIZATIONS, data_science_cluster, initialization
from .router import Router
from .serviceca import CONFIG_MAPS, NAMESPACES, SECRETS, ServiceCA
from .services import SERVICES as KUBE_SERVICES
from .services import SLICES, ServiceTable, apiserver_address
from .serving import DEPLOYMENTS, RUNTIMES, SERVICES, inference_service, runtime
from .storage import CLAIMS, claim
from .trustyai import TRUSTYAI_SERVICES, trustyai_service
from .webhooks import Webhooks


@dataclass(frozen=True)
class Options:
    """Where the control plane keeps things, and the pod network (None: pods get a status only)."""

    workdir: Path
    pki: Path
    network: int | None
    apiserver: str


def build(kube: Kube, options: Options) -> Simulator:
    """The simulator with every controller, the kubelet and the network services it can run here."""
    registry = Registry(options.workdir / "registry")
    service_ca = Authority(options.pki / "service-ca.crt", options.pki / "service-ca.key")
    ca = ServiceCA(service_ca)
    odh = OpenDataHub()
    network = ClusterNetwork(options.network) if options.network is not None else None
    cert, key = service_ca.issue("fraud-demo-node", ["localhost"], ["127.0.0.1"])
    (options.pki / "kubelet.crt").write_bytes(cert)
    key_file = options.pki / "kubelet.key"
    key_file.touch(mode=0o600)
    key_file.write_bytes(key)
    kubelet = Kubelet(kube, network, options.workdir, registry, 0)
    _server, kubelet.log_port = serve_logs(kubelet.log_file, options.pki / "kubelet.crt", key_file)
    table = ServiceTable(network, apiserver_address(options.apiserver), kubelet.set_services) if network else None
    router = None
    if network and table:
        ingress = Authority(options.pki / "ingress-ca.crt", options.pki / "ingress-ca.key")
        router = Router(table, ingress.issue("*.apps.fraud-demo.test", ["*.apps.fraud-demo.test"]), service_ca.cert, options.workdir)

    def route(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        again = openshift.route(sim, kind, namespace, name, obj)
        if router is not None:
            if obj is None:
                router.forget(namespace, name)
            else:
                current = sim.kube.get(kind.path(name, namespace)) or obj
                admitted = any(c["type"] == "Admitted" and c["status"] == "True" for i in (current.get("status") or {}).get("ingress") or [] for c in i.get("conditions") or [])
                if admitted and current["spec"].get("host"):
                    router.admit(current)
        return again

    def namespaces(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        ca.namespace(sim, kind, namespace, name, obj)
        if obj is not None:
            odh.namespace(sim, name)
        return None

    def config_maps(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        ca.config_map(sim, kind, namespace, name, obj)
        odh.config_map(sim, kind, namespace, name, obj)
        return None

    def secrets(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        odh.secret(sim, kind, namespace, name, obj)
        return None

    def services(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        ca.service(sim, kind, namespace, name, obj)
        if table is not None:
            table.service(sim, kind, namespace, name, obj)
        return None

    def initializations(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        again = initialization(sim, kind, namespace, name, obj)
        odh.initialization(sim)
        return again

    handlers = {
        workloads.PODS: workloads.pod,
        CLAIMS: claim,
        openshift.ROUTES: route,
        openshift.IMAGE_STREAMS: openshift.image_stream,
        openshift.BUILDS: openshift.build,
        NOTEBOOKS: notebook,
        RUNTIMES: runtime,
        SERVICES: inference_service,
        CLUSTERS: data_science_cluster,
        INITIALIZATIONS: initializations,
        NAMESPACES: namespaces,
        CONFIG_MAPS: config_maps,
        SECRETS: secrets,
        KUBE_SERVICES: services,
        TRUSTYAI_SERVICES: trustyai_service,
        MLFLOWS: mlflow,
    }
    if table is not None:
        handlers[SLICES] = table.endpoint_slice
    simulator = Simulator(kube, handlers, [DEPLOYMENTS, STATEFUL_SETS, JOBS])
    simulator.kubelet = kubelet
    simulator.registry = registry

    def start_servers() -> None:
        kubelet.register_node()
        if table is not None and router is not None:
            table.serve_dns()
            router.serve()
        Webhooks(kube, service_ca, options.workdir).serve()

    simulator.before_run = start_servers
    simulator.after_run = kubelet.stop_all
    return simulator


__all__ = ["Options", "Simulator", "build"]
