"""Start and stop a real control plane (etcd, kube-apiserver, kube-controller-manager) plus the
simulator of the platform controllers, all on 127.0.0.1 free ports, for tests and molecule.

    with ControlPlane(rhoai_major=2) as cp:
        ...  # cp.kubeconfig, cp.url
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

import yaml

try:  # pytest imports this package as `cluster` with tests/ on the path; `python -m tests.cluster` as tests.cluster
    from support.s3 import S3Server, run_s3_server
except ImportError:
    from tests.support.s3 import S3Server, run_s3_server

from . import binaries, network, pki
from .kube import Kube, object_path
from .polling import wait_for

CRD_DIR = Path(__file__).with_name("crds")
RHOAI_MAJORS = (2, 3)
# pvc-protection: the apiserver's StorageObjectInUseProtection admission gives every PVC the finalizer
# kubernetes.io/pvc-protection; without this controller a deleted PVC stays Terminating forever. endpointslice:
# Services' endpoints from the pods' readiness (what the proxy forwards to); root-ca-cert-publisher: the
# kube-root-ca.crt ConfigMap that service-account token volumes project.
CONTROLLERS = (
    "namespace,garbagecollector,serviceaccount,serviceaccount-token,deployment,replicaset,job,statefulset,"
    "pvc-protection,endpointslice,root-ca-cert-publisher"
)
SIMULATOR_S3_SECRET = ("kube-system", "simulator-s3")
# OpenShift Data Foundation's S3 endpoint, as NooBaa's Service `s3` in openshift-storage serves it: 80 plain
# http, 443 https with a service-CA certificate (noobaa-operator deploy/internal/service-s3.yaml, 2583ea7a).
ODF_NAMESPACE, ODF_SERVICE, ODF_BUCKET = "openshift-storage", "s3", "odf-admin"
APPS_DOMAIN = "apps.fraud-demo.test"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Run in the child before exec: get SIGTERM when the process that started us dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def crd_documents(path: Path) -> list[dict[str, Any]]:
    """The CRDs in one file, a `List` document or plain documents."""
    crds: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            crds.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    return crds


def install_crds(kube: Kube, files: list[Path], timeout: float = 60) -> list[str]:
    """Server-side apply every CRD in `files` and wait until each is Established; returns their names."""
    names = []
    for path in files:
        for crd in crd_documents(path):
            name = crd["metadata"]["name"]
            kube.apply(object_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name), crd, "fraud-demo-tests")
            names.append(name)

    def established(name: str) -> bool:
        crd = kube.get(object_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name)) or {}
        conditions = (crd.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    for name in names:
        wait_for(f"CRD {name} Established", lambda n=name: established(n), timeout)
    return names


def use_rhoai(kube: Kube, major: int | None, timeout: float = 60) -> None:
    """Present an OpenShift AI `major` (2 or 3) cluster: remove every variant's DataScienceCluster,
    DSCInitialization and HardwareProfile CRDs (and so their objects), then install that variant's;
    None leaves none installed."""
    if major is not None and major not in RHOAI_MAJORS:
        raise ValueError(f"rhoai major must be one of {RHOAI_MAJORS} or None, got {major!r}")
    for name in sorted({c["metadata"]["name"] for m in RHOAI_MAJORS for c in _variant_crds(m)}):
        path = object_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name)
        if kube.get(path) is not None:
            kube.request("DELETE", path)
            wait_for(f"CRD {name} removed", lambda p=path: kube.get(p) is None, timeout)
    if major is not None:
        install_crds(kube, sorted((CRD_DIR / f"rhoai-{major}").glob("*.yaml")), timeout)


def _variant_crds(major: int) -> list[dict[str, Any]]:
    return [c for f in sorted((CRD_DIR / f"rhoai-{major}").glob("*.yaml")) for c in crd_documents(f)]


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + simulator, started by `start()` (or `with`)
    and stopped by `stop()`; SIGTERM to this process stops them too (from the main thread).

    rhoai_major: which OpenShift AI API generation to present (2, 3, or None for none).
    s3: the data-connection dict (AWS_*) of a real S3 server that backs ObjectBucketClaims, or None.
    pods: run pods whose images run here (network.py, pods/); None = when this machine can (root, iproute2),
        unless FRAUD_DEMO_TEST_PODS=simulate. With pods, the control plane also runs OpenShift Data Foundation's
        S3 endpoint (SeaweedFS behind `s3.openshift-storage.svc`, https with a service-CA certificate), which
        backs ObjectBucketClaims unless `s3` names another server.
    """

    def __init__(
        self, rhoai_major: int | None = 2, s3: dict[str, str] | None = None, workdir: Path | None = None, pods: bool | None = None
    ) -> None:
        if rhoai_major is not None and rhoai_major not in RHOAI_MAJORS:
            raise ValueError(f"rhoai_major must be one of {RHOAI_MAJORS} or None, got {rhoai_major!r}")
        self.rhoai_major = rhoai_major
        self.s3 = s3
        if pods is None:
            pods = os.environ.get("FRAUD_DEMO_TEST_PODS", "run") != "simulate" and not network.available()
        elif pods and network.available():
            raise network.NetworkError(f"pods cannot run here: {network.available()}")
        self.pods = pods
        self.network: network.ClusterNetwork | None = None
        self.odf: S3Server | None = None
        self._stack = contextlib.ExitStack()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="fraud-demo-cluster-"))
        self.kubeconfig = self.workdir / "kubeconfig"
        self.url = ""
        self.controllers = False
        self._processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []
        self._previous_sigterm: Any = None

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start everything and wait until the API answers, CRDs are Established and the simulator runs."""
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    @property
    def pki_dir(self) -> Path:
        return self.workdir / "pki"

    @property
    def ingress_ca(self) -> Path:
        """The CA of the router's default certificate (trust it to reach Routes over https)."""
        return self.pki_dir / "ingress-ca.crt"

    def _start(self) -> None:
        bins = binaries.find()
        if self.pods:
            preferred = os.environ.get("FRAUD_DEMO_TEST_NETWORK")
            self.network = network.ClusterNetwork.allocate(int(preferred) if preferred else None)
        service_range = self.network.service_cidr if self.network else "10.0.0.0/24"
        keys = pki.generate(self.pki_dir, service_ip=str(ipaddress.ip_network(service_range)[1]))
        pki.Authority.create(self.pki_dir, "service-ca", f"openshift-service-serving-signer@{int(time.time())}")
        pki.Authority.create(self.pki_dir, "ingress-ca", f"ingress-operator@{int(time.time())}")
        etcd_url = self._start_etcd(bins.etcd)
        self._start_apiserver(bins.apiserver, keys, etcd_url, service_range)
        self._write_kubeconfig(keys)
        kube = Kube(self.kubeconfig)
        wait_for("namespace default", lambda: kube.get("/api/v1/namespaces/default"), 60)
        if bins.controller_manager is not None:
            self._spawn(
                "kube-controller-manager",
                [
                    str(bins.controller_manager),
                    f"--kubeconfig={self.kubeconfig}",
                    "--leader-elect=false",
                    f"--controllers={CONTROLLERS}",
                    "--secure-port=0",
                    "--use-service-account-credentials=false",
                    # the serviceaccount-token controller fills kubernetes.io/service-account-token Secrets
                    f"--service-account-private-key-file={keys.sa_private_key}",
                    f"--root-ca-file={keys.ca_cert}",
                ],
            )
            self.controllers = True
        install_crds(kube, sorted(CRD_DIR.glob("*.yaml")))
        use_rhoai(kube, self.rhoai_major)
        publish_ingress_ca(kube, self.ingress_ca)
        publish_oauth_proxy_image(kube)
        build_strategy_policy(kube)
        if self.network:
            self._start_odf(kube)
        if self.s3:
            set_simulator_s3(kube, self.s3)
        package = __package__ or "cluster"
        root = Path(__file__).parents[len(package.split("."))]
        argv = [
            sys.executable, "-m", f"{package}.simulator", f"--kubeconfig={self.kubeconfig}",
            f"--ready-file={self.workdir / 'simulator.ready'}", f"--workdir={self.workdir}", f"--pki={self.pki_dir}",
            f"--apiserver={self.url}",
        ]
        if self.network:
            argv.append(f"--network={self.network.index}")
        self._spawn("simulator", argv, env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))})
        wait_for("simulator", lambda: (self.workdir / "simulator.ready").exists(), 60, *self._process("simulator"))

    def _start_odf(self, kube: Kube) -> None:
        """SeaweedFS as ODF's S3 endpoint: Service openshift-storage/s3 (80 http, 443 https) in front of it."""
        assert self.network is not None
        names = [f"{ODF_SERVICE}.{ODF_NAMESPACE}.svc", f"{ODF_SERVICE}.{ODF_NAMESPACE}.svc.cluster.local"]
        cert, key = pki.Authority(self.pki_dir / "service-ca.crt", self.pki_dir / "service-ca.key").issue(names[0], names)
        tls = (self.pki_dir / "odf-s3.crt", self.pki_dir / "odf-s3.key")
        for path, data in zip(tls, (cert, key), strict=True):
            path.touch(mode=0o600)
            path.write_bytes(data)
        self.odf = self._stack.enter_context(run_s3_server(self.workdir / "odf", bucket=ODF_BUCKET, tls=tls))
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ODF_NAMESPACE}}
        kube.apply(object_path("v1", "namespaces", ODF_NAMESPACE), namespace, "fraud-demo-tests")
        ports = [("s3", 80, self.odf.ports["s3.port"]), ("s3-https", 443, self.odf.ports["s3.port.https"])]
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": ODF_SERVICE, "namespace": ODF_NAMESPACE, "labels": {"app": "noobaa"}},
            "spec": {"ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"} for n, p, t in ports]},
        }
        kube.apply(object_path("v1", "services", ODF_SERVICE, ODF_NAMESPACE), service, "fraud-demo-tests")
        endpoints = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": f"{ODF_SERVICE}-host", "namespace": ODF_NAMESPACE, "labels": {"kubernetes.io/service-name": ODF_SERVICE, "endpointslice.kubernetes.io/managed-by": "fraud-demo-tests"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [self.network.gateway], "conditions": {"ready": True}}],
            "ports": [{"name": n, "port": t, "protocol": "TCP"} for n, _, t in ports],
        }
        kube.apply(object_path("discovery.k8s.io/v1", "endpointslices", f"{ODF_SERVICE}-host", ODF_NAMESPACE), endpoints, "fraud-demo-tests")
        set_simulator_s3(kube, self.odf.env | {"AWS_S3_ENDPOINT": self.odf.endpoint, "BUCKET_HOST": names[0], "BUCKET_PORT": "443"})

    def _start_etcd(self, etcd: Path) -> str:
        data = self.workdir / "etcd"
        data.mkdir(mode=0o700, exist_ok=True)
        client, peer = free_port(), free_port()
        url = f"http://127.0.0.1:{client}"
        self._spawn(
            "etcd",
            [
                str(etcd),
                "--name=default",
                f"--data-dir={data}",
                f"--listen-client-urls={url}",
                f"--advertise-client-urls={url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )

        def healthy() -> bool:
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 - loopback
                    return b'"true"' in response.read()
            return False

        wait_for("etcd /health", healthy, 60, *self._process("etcd"))
        return url

    def _start_apiserver(self, apiserver: Path, keys: pki.Pki, etcd_url: str, service_range: str) -> None:
        port = free_port()
        self.url = f"https://127.0.0.1:{port}"
        self._spawn(
            "kube-apiserver",
            [
                str(apiserver),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={keys.serving_cert}",
                f"--tls-private-key-file={keys.serving_key}",
                f"--client-ca-file={keys.ca_cert}",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                f"--service-cluster-ip-range={service_range}",
                # The node's log endpoint (pods/logs.py) is on 127.0.0.1, its only address.
                "--kubelet-preferred-address-types=InternalIP",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={keys.sa_public_key}",
                f"--service-account-signing-key-file={keys.sa_private_key}",
                "--profiling=false",
            ],
        )

        def ready() -> bool:
            context = _tls_context(keys)
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2, context=context) as response:  # noqa: S310
                    return response.status == 200
            return False

        wait_for("kube-apiserver /readyz", ready, 120, *self._process("kube-apiserver"))

    def _write_kubeconfig(self, keys: pki.Pki) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.url, "certificate-authority-data": _b64(keys.ca_cert)}}],
            "users": [
                {
                    "name": "admin",
                    "user": {"client-certificate-data": _b64(keys.admin_cert), "client-key-data": _b64(keys.admin_key)},
                }
            ],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin", "namespace": "default"}}],
            "current-context": "test",
        }
        self.kubeconfig.touch(mode=0o600)
        self.kubeconfig.write_text(yaml.safe_dump(config))

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen(  # noqa: S603 - our binaries, fixed arguments
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=env,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before threads matter
        )
        self._processes.append((name, process, log))

    def _process(self, name: str) -> tuple[subprocess.Popen[bytes], Path]:
        process = next(p for n, p, _ in self._processes if n == name)
        return process, self.workdir / f"{name}.log"

    def stop(self) -> None:
        """Stop what was started, newest first (SIGTERM, then SIGKILL after 10 s), and remove the workdir."""
        simulator = [entry for entry in self._processes if entry[0] == "simulator"]
        ordered = simulator + [entry for entry in reversed(self._processes) if entry[0] != "simulator"]
        for _name, process, log in ordered:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()
        self._processes.clear()
        self._stack.close()
        if self.network is not None:
            self.network.down()
            self.network = None
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        if self._own_workdir and not os.environ.get("FRAUD_DEMO_KEEP_CLUSTER_DIR"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _on_sigterm(self, signum: int, frame: types.FrameType | None) -> None:
        raise SystemExit(128 + signum)


def _tls_context(keys: pki.Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(keys.ca_cert))
    context.load_cert_chain(str(keys.admin_cert), str(keys.admin_key))
    return context


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def publish_ingress_ca(kube: Kube, ca: Path) -> None:
    """ConfigMap openshift-config-managed/default-ingress-cert (key ca-bundle.crt), where OpenShift publishes the
    CA of the router's default certificate."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "openshift-config-managed"}}
    kube.apply(object_path("v1", "namespaces", "openshift-config-managed"), namespace, "fraud-demo-tests")
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "default-ingress-cert", "namespace": "openshift-config-managed"},
        "data": {"ca-bundle.crt": ca.read_text()},
    }
    kube.apply(object_path("v1", "configmaps", "default-ingress-cert", "openshift-config-managed"), config_map, "fraud-demo-tests")


# What the `oauth-proxy` ImageStream of namespace `openshift` (from the release payload) resolves to here: a
# reference pods/images.py runs as runtimes/oauth_proxy.py.
OAUTH_PROXY_IMAGE = "registry.redhat.io/openshift4/ose-oauth-proxy-rhel9@sha256:" + "4" * 64


def publish_oauth_proxy_image(kube: Kube) -> None:
    """ImageStream openshift/oauth-proxy, tag v4.4, as every OpenShift 4 cluster has it (the image of the oauth-proxy
    sidecars that operators and charts add), with the tag's resolved image in its status."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "openshift"}}
    kube.apply(object_path("v1", "namespaces", "openshift"), namespace, "fraud-demo-tests")
    path = object_path("image.openshift.io/v1", "imagestreams", "oauth-proxy", "openshift")
    stream = {
        "apiVersion": "image.openshift.io/v1",
        "kind": "ImageStream",
        "metadata": {"name": "oauth-proxy", "namespace": "openshift"},
        "spec": {"tags": [{"name": "v4.4", "from": {"kind": "DockerImage", "name": OAUTH_PROXY_IMAGE}, "referencePolicy": {"type": "Source"}}]},
    }
    kube.apply(path, stream, "fraud-demo-tests")
    status = {
        "dockerImageRepository": "image-registry.openshift-image-registry.svc:5000/openshift/oauth-proxy",
        "tags": [{"tag": "v4.4", "items": [{"created": "2026-01-01T00:00:00Z", "dockerImageReference": OAUTH_PROXY_IMAGE, "image": OAUTH_PROXY_IMAGE.split("@")[1], "generation": 1}]}],
    }
    kube.merge_patch(path + "/status", {"status": status})


def build_strategy_policy(kube: Kube) -> None:
    """OpenShift's guard on Docker-strategy builds: ClusterRole `system:build-strategy-docker` (create on
    builds/docker and builds/optimizeddocker in build.openshift.io and the legacy "" group) bound to every
    authenticated user by `system:build-strategy-docker-binding` (openshift-apiserver's bootstrappolicy policy.go and
    constants.go), and the BuildByStrategy admission plugin (strategyrestrictions/admission.go, read in
    openshift/origin's pkg/build/apiserver/admission), which refuses a Docker-strategy Build or BuildConfig, on create
    and update, to whoever may not create builds/docker there: 403 "build strategy Docker is not allowed". Here the
    admission is a ValidatingAdmissionPolicy asking the real authorizer the same question; hardened clusters delete
    the binding (the preflight scenario does)."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:build-strategy-docker"},
        "rules": [{"apiGroups": ["", "build.openshift.io"], "resources": ["builds/docker", "builds/optimizeddocker"], "verbs": ["create"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:build-strategy-docker-binding"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:build-strategy-docker"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}],
    }
    rbac = "rbac.authorization.k8s.io/v1"
    kube.apply(object_path(rbac, "clusterroles", role["metadata"]["name"]), role, "fraud-demo-tests")
    kube.apply(object_path(rbac, "clusterrolebindings", binding["metadata"]["name"]), binding, "fraud-demo-tests")
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "build-by-strategy"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": ["build.openshift.io"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"], "resources": ["builds", "buildconfigs"]}]},
            "matchConditions": [{"name": "docker-strategy", "expression": "has(object.spec.strategy) && has(object.spec.strategy.type) && object.spec.strategy.type == 'Docker'"}],
            "validations": [{
                "expression": "authorizer.group('build.openshift.io').resource('builds').subresource('docker').namespace(object.metadata.namespace).check('create').allowed()",
                "message": "build strategy Docker is not allowed",
                "reason": "Forbidden",
            }],
        },
    }
    binding_policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "build-by-strategy"},
        "spec": {"policyName": "build-by-strategy", "validationActions": ["Deny"]},
    }
    admission = "admissionregistration.k8s.io/v1"
    kube.apply(object_path(admission, "validatingadmissionpolicies", "build-by-strategy"), policy, "fraud-demo-tests")
    kube.apply(object_path(admission, "validatingadmissionpolicybindings", "build-by-strategy"), binding_policy, "fraud-demo-tests")


def set_simulator_s3(kube: Kube, connection: dict[str, str]) -> None:
    """Point the simulator's ObjectBucketClaim provisioner at a real S3 server: the Secret
    kube-system/simulator-s3 holds its data-connection keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_S3_ENDPOINT, AWS_DEFAULT_REGION)."""
    required = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT")
    missing = [k for k in required if not connection.get(k)]
    if missing:
        raise ValueError(f"S3 connection lacks {', '.join(missing)}")
    namespace, name = SIMULATOR_S3_SECRET
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in connection.items() if k.startswith(("AWS_", "BUCKET_"))},
    }
    kube.apply(object_path("v1", "secrets", name, namespace), secret, "fraud-demo-tests")


def simulator_s3(kube: Kube) -> dict[str, str] | None:
    """The connection set_simulator_s3 gave the provisioner, or None."""
    namespace, name = SIMULATOR_S3_SECRET
    secret = kube.get(object_path("v1", "secrets", name, namespace))
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()} if secret else None
