"""A kubelet for the test control plane: pods whose images can run here (pods/images.py) run as real processes.

Each pod gets a network namespace on the cluster bridge (its own IP, the cluster DNS, the Service range through the
host's proxy), its volumes as files under the control plane's directory, and each container a sandbox
(pods/sandbox.py) as the pod's user. The kubelet writes what a kubelet writes: the binding to the one node,
`status.podIP`, container states (waiting with the kubelet's reasons, running, terminated with the exit code and
the termination message, FallbackToLogsOnError included), restart counts with the kubelet's back-off, the
conditions (readiness from the real probes), the phase; it finalises deleted pods after their grace period.
Logs stay under `<workdir>/pods/<namespace>_<pod>_<uid>/<container>/` and are served to the API server's
`pods/log` through the node's log endpoint (pods/logs.py), so `kubectl logs` and `k8s_log` work.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..kube import JSON, Kube, KubeError, object_path
from ..network import ClusterNetwork
from . import probes, volumes
from .images import REPO, Image, ImageError, Registry, platform_command

log = logging.getLogger("kubelet")

NODE = "fraud-demo-node"
DEFAULT_UID = 1000680000
UID_RANGE_ANNOTATION = "openshift.io/sa.scc.uid-range"
TERMINATION_LIMIT = 4096
FALLBACK_LINES, FALLBACK_BYTES = 80, 2048
BACKOFF_START_S, BACKOFF_MAX_S = 10.0, 300.0
CONFIG_RETRY_S = 2.0
_PR_SET_PDEATHSIG = 1


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _tail(path: Path, lines: int, limit: int) -> str:
    if not path.exists():
        return ""
    data = path.read_bytes()[-64 * 1024 :]
    text = b"\n".join(data.splitlines()[-lines:])[-limit:]
    return text.decode(errors="replace")


@dataclass
class ContainerState:
    """What the kubelet knows of one container (init or app)."""

    spec: JSON
    init: bool
    image: Image | None = None
    process: subprocess.Popen[bytes] | None = None
    state: JSON = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: JSON = field(default_factory=dict)
    restarts: int = 0
    ready: bool = False
    started_at: float = 0.0
    next_start: float = 0.0
    container_id: str = ""
    readiness: probes.Prober | None = None
    liveness: probes.Prober | None = None
    startup: probes.Prober | None = None
    done: bool = False

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def status(self) -> JSON:
        status: JSON = {
            "name": self.name,
            "image": self.spec["image"],
            "imageID": self.image.image_id if self.image else "",
            "ready": self.ready,
            "restartCount": self.restarts,
            "state": self.state,
            "lastState": self.last_state,
            "started": "running" in self.state and (self.startup is None or self.startup.passed),
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


class PodWorker:
    """Runs one pod until it ends or is deleted."""

    def __init__(self, kubelet: Kubelet, pod: JSON) -> None:
        self.kubelet = kubelet
        self.kube = kubelet.kube
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.pod = pod
        self.dir = kubelet.workdir / "pods" / f"{self.namespace}_{self.name}_{self.uid[:8]}"
        self.ip = ""
        self.pause: subprocess.Popen[bytes] | None = None
        self.inits = [ContainerState(c, True) for c in pod["spec"].get("initContainers") or []]
        self.apps = [ContainerState(c, False) for c in pod["spec"]["containers"]]
        self.stopping = threading.Event()
        self.started = now()
        self.conditions: dict[str, JSON] = {}
        self.phase = "Pending"
        self.uid_number = DEFAULT_UID
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)

    # --- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self, grace: float) -> None:
        """Stop every container (SIGTERM, SIGKILL after `grace` s) and the pod's network namespace."""
        self.stopping.set()
        with self.lock:
            running = [c for c in [*self.inits, *self.apps] if c.process and c.process.poll() is None]
        for container in running:
            with contextlib.suppress(ProcessLookupError):
                container.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + grace
        for container in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                container.process.wait(max(0.0, deadline - time.monotonic()))  # type: ignore[union-attr]
            if container.process.poll() is None:  # type: ignore[union-attr]
                container.process.kill()  # type: ignore[union-attr]
                container.process.wait()  # type: ignore[union-attr]
        if self.pause and self.pause.poll() is None:
            self.pause.kill()
            self.pause.wait()

    def _run(self) -> None:
        try:
            self._prepare()
            if not self.stopping.is_set():
                self._loop()
        except Exception:  # noqa: BLE001 - a broken pod must not take the kubelet down
            log.exception("pod %s/%s: kubelet error", self.namespace, self.name)

    def _prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        namespace = self.kube.get(object_path("v1", "namespaces", self.namespace)) or {"metadata": {}}
        uid_range = (namespace["metadata"].get("annotations") or {}).get(UID_RANGE_ANNOTATION, "")
        self.uid_number = int(uid_range.split("/")[0]) if uid_range[:1].isdigit() else DEFAULT_UID
        for container in [*self.inits, *self.apps]:
            try:
                container.image = self.kubelet.registry.resolve(container.spec["image"])
            except ImageError as error:
                container.state = {"waiting": {"reason": error.reason, "message": str(error)}}
        self.ip = self.kubelet.network.pod_address()
        self.pause = subprocess.Popen(  # noqa: S603 - the pod's network namespace holder
            ["unshare", "--net", "--", "sleep", "infinity"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        # The namespace exists once /proc/<pid>/ns/net differs from ours.
        for _ in range(100):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{self.pause.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                    break
            time.sleep(0.02)
        self.kubelet.network.attach(self.pause.pid, self.ip, hashlib.sha1(self.uid.encode()).hexdigest()[:8])  # noqa: S324
        self.conditions["PodScheduled"] = _condition("PodScheduled", True)
        self.conditions["PodReadyToStartContainers"] = _condition("PodReadyToStartContainers", True)
        self.conditions["Initialized"] = _condition("Initialized", not self.inits, "" if not self.inits else "ContainersNotInitialized")
        self._publish()

    def _loop(self) -> None:
        restart_policy = self.pod["spec"].get("restartPolicy", "Always")
        while not self.stopping.is_set():
            with self.lock:
                pending_init = next((c for c in self.inits if not c.done), None)
                if pending_init is not None:
                    self._drive(pending_init, "OnFailure" if restart_policy == "Always" else restart_policy)
                    if pending_init.done and all(c.done for c in self.inits):
                        self.conditions["Initialized"] = _condition("Initialized", True)
                    if self.phase == "Failed":
                        self._publish()
                        return
                else:
                    for container in self.apps:
                        self._drive(container, restart_policy)
                    self._probe()
                self._update_phase(restart_policy)
            self._publish()
            if self.phase in ("Succeeded", "Failed"):
                return
            self.stopping.wait(0.5)

    # --- one container ---------------------------------------------------------------------------------------------

    def _drive(self, container: ContainerState, restart_policy: str) -> None:
        """Start, watch and restart one container as its restart policy says."""
        if container.done:
            return
        if container.process is not None and container.process.poll() is not None:
            self._exited(container, restart_policy)
            return
        if container.process is None and time.monotonic() >= container.next_start and container.image is not None:
            self._start_container(container)

    def _start_container(self, container: ContainerState) -> None:
        spec, image = container.spec, container.image
        assert image is not None
        source = volumes.Source(self.kube, self.namespace)
        try:
            env = self._environment(container, source)
            mounts = self._mounts(container, source)
        except volumes.ConfigError as error:
            container.state = {"waiting": {"reason": error.reason, "message": str(error)}}
            container.next_start = time.monotonic() + CONFIG_RETRY_S
            return
        command = [volumes.expand(a, env) for a in platform_command(image, spec.get("command") or [])]
        args = [volumes.expand(a, env) for a in spec.get("args") or []]
        argv = command + args if command else image.entrypoint + (args if "args" in spec else image.cmd)
        if not argv:
            container.state = {"waiting": {"reason": "CreateContainerError", "message": "no command specified"}}
            container.done = True
            return
        count = container.restarts
        cdir = self.dir / container.name
        cdir.mkdir(parents=True, exist_ok=True)
        termination = cdir / f"termination-{count}"
        termination.write_bytes(b"")
        termination.chmod(0o666)
        sandbox = {
            "root": str(cdir / f"root-{count}"),
            "argv": argv,
            "env": env,
            "workdir": spec.get("workingDir") or image.workdir,
            "uid": self._run_as(container),
            "gid": 0,
            "etc": self._etc(),
            "hostname": self.pod["spec"].get("hostname") or self.name,
            "image_root": str(image.rootfs) if image.rootfs else None,
            "mounts": mounts,
            "termination_log": str(termination),
            "termination_path": spec.get("terminationMessagePath", "/dev/termination-log"),
        }
        spec_file = cdir / f"sandbox-{count}.json"
        spec_file.touch(mode=0o600)
        spec_file.write_text(json.dumps(sandbox))
        log_file = cdir / f"{count}.log"
        with log_file.open("ab") as output:
            container.process = subprocess.Popen(  # noqa: S603 - our sandbox, our spec
                [
                    "nsenter", f"--net=/proc/{self.pause.pid}/ns/net", "--",  # type: ignore[union-attr]
                    "unshare", "--mount", "--propagation", "private", "--uts", "--pid", "--fork", "--kill-child=SIGKILL", "--",
                    sys.executable, "-m", "tests.cluster.pods.sandbox", str(spec_file),
                ],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, cwd=REPO,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)},
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
        container.started_at = time.monotonic()
        container.container_id = "fraud-demo://" + hashlib.sha256(f"{self.uid}/{container.name}/{count}".encode()).hexdigest()
        container.state = {"running": {"startedAt": now()}}
        container.ready = False
        for attribute in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = spec.get(attribute)
            setattr(container, attribute.removesuffix("Probe"), probes.Prober(probe) if probe else None)
        log.info("pod %s/%s: started container %s (%s)", self.namespace, self.name, container.name, " ".join(argv[:4]))

    def _exited(self, container: ContainerState, restart_policy: str) -> None:
        process = container.process
        assert process is not None
        code = process.returncode if process.returncode >= 0 else 128 - process.returncode
        count = container.restarts
        cdir = self.dir / container.name
        message = (cdir / f"termination-{count}").read_bytes()[:TERMINATION_LIMIT].decode(errors="replace")
        if not message.strip() and code != 0 and container.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            message = _tail(cdir / f"{count}.log", FALLBACK_LINES, FALLBACK_BYTES)
        started = container.state.get("running", {}).get("startedAt", now())
        terminated: JSON = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": started,
            "finishedAt": now(),
            "containerID": container.container_id,
        }
        if message:
            terminated["message"] = message
        container.process = None
        container.ready = False
        restart = restart_policy == "Always" or (restart_policy == "OnFailure" and code != 0)
        log.info("pod %s/%s: container %s exited %d%s", self.namespace, self.name, container.name, code, " (restarting)" if restart else "")
        if container.init and code == 0:
            container.state = {"terminated": terminated}
            container.done = True
            return
        if not restart:
            container.state = {"terminated": terminated}
            container.done = True
            if container.init:
                self.phase = "Failed"
            return
        ran = time.monotonic() - container.started_at
        backoff = BACKOFF_START_S if ran > 600 else min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** min(count, 5))
        container.last_state = {"terminated": terminated}
        container.restarts += 1
        container.next_start = time.monotonic() + backoff
        container.state = {"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off {backoff:.0f}s restarting failed container={container.name} pod={self.name}_{self.namespace}({self.uid})"}}

    def _probe(self) -> None:
        current = time.monotonic()
        for container in self.apps:
            if container.process is None or container.process.poll() is not None:
                continue
            if container.startup and not container.startup.passed:
                if container.startup.due(current):
                    ok, _ = probes.check(container.startup.probe, container.spec, self.ip, self._exec_prefix(container))
                    container.startup.record(ok, current)
                    if container.startup.failed:
                        container.process.terminate()
                continue
            if container.liveness and container.liveness.due(current):
                ok, _ = probes.check(container.liveness.probe, container.spec, self.ip, self._exec_prefix(container))
                container.liveness.record(ok, current)
                if container.liveness.failed:
                    log.info("pod %s/%s: liveness probe of %s failed; restarting it", self.namespace, self.name, container.name)
                    container.process.terminate()
                    continue
            if container.readiness is None:
                container.ready = True
            elif container.readiness.due(current):
                ok, _ = probes.check(container.readiness.probe, container.spec, self.ip, self._exec_prefix(container))
                container.readiness.record(ok, current)
                container.ready = container.readiness.passed

    def _exec_prefix(self, container: ContainerState) -> Callable[[list[str]], list[str] | None]:
        """How an exec probe's command runs: in the container's namespaces and root, as its user, a platform
        image's own programs mapped to their stand-ins."""

        def argv(command: list[str]) -> list[str] | None:
            prefix = self._nsenter(container)
            if prefix is None or container.image is None:
                return None
            env = ["env", f"PATH={container.image.path_env()}", f"PYTHONPATH={REPO}", f"HOME={container.image.env.get('HOME', '/')}"]
            return [*prefix, *env, *platform_command(container.image, command)]

        return argv

    def _nsenter(self, container: ContainerState) -> list[str] | None:
        """nsenter into the container's process (the sandbox's child) as its user."""
        if container.process is None:
            return None
        try:
            children = Path(f"/proc/{container.process.pid}/task/{container.process.pid}/children").read_text().split()
            init = children[0]
            user = Path(f"/proc/{init}/task/{init}/children").read_text().split()[0]
        except (OSError, IndexError):
            return None
        uid = str(self._run_as(container))
        return ["nsenter", f"--target={user}", "--mount", "--net", "--pid", "--root", "--wd", f"--setuid={uid}", "--setgid=0", "--"]

    # --- what a container is given --------------------------------------------------------------------------------

    def _run_as(self, container: ContainerState) -> int:
        context = {**(self.pod["spec"].get("securityContext") or {}), **(container.spec.get("securityContext") or {})}
        return int(context.get("runAsUser", self.uid_number))

    def _environment(self, container: ContainerState, source: volumes.Source) -> dict[str, str]:
        assert container.image is not None
        links = self.kubelet.service_env(self.namespace, self.pod["spec"].get("enableServiceLinks", True))
        values = volumes.environment(self.pod | {"status": {"podIP": self.ip, "hostIP": self.kubelet.network.gateway}}, container.spec, source, links)
        env = {"PATH": container.image.path_env(), "HOSTNAME": self.name, **container.image.env}
        env.update(values)
        if "PATH" in {v["name"] for v in container.spec.get("env") or []}:
            env["PATH"] = values["PATH"]
        return env

    def _mounts(self, container: ContainerState, source: volumes.Source) -> list[JSON]:
        by_name = {v["name"]: v for v in self.pod["spec"].get("volumes") or []}
        mounts = []
        for mount in container.spec.get("volumeMounts") or []:
            volume = by_name.get(mount["name"])
            if volume is None:
                raise volumes.ConfigError("CreateContainerConfigError", f'volume "{mount["name"]}" not found in the pod spec')
            backing = volumes.materialize(self.pod, volume, self.dir / "volumes" / volume["name"], source, self.kubelet.workdir / "claims")
            path = backing / mount["subPath"] if mount.get("subPath") else backing
            mounts.append({"source": str(path), "target": mount["mountPath"], "readonly": bool(mount.get("readOnly"))})
        return mounts

    def _etc(self) -> dict[str, str]:
        hostname = self.pod["spec"].get("hostname") or self.name
        search = f"{self.namespace}.svc.cluster.local svc.cluster.local cluster.local"
        return {
            "hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{self.ip}\t{hostname}\n",
            "resolv.conf": f"search {search}\nnameserver {self.kubelet.network.gateway}\noptions ndots:5\n",
            "hostname": hostname + "\n",
            "passwd": Path("/etc/passwd").read_text() + f"default:x:{self.uid_number}:0:Default Application User:/opt/app-root/src:/sbin/nologin\n",
        }

    # --- status ----------------------------------------------------------------------------------------------------

    def _update_phase(self, restart_policy: str) -> None:
        if self.phase == "Failed":
            return
        apps_ready = all(c.ready for c in self.apps)
        self.conditions["ContainersReady"] = _condition("ContainersReady", apps_ready, "" if apps_ready else "ContainersNotReady", self.conditions.get("ContainersReady"))
        self.conditions["Ready"] = _condition("Ready", apps_ready, "" if apps_ready else "ContainersNotReady", self.conditions.get("Ready"))
        if all(c.done for c in self.apps) and self.apps:
            codes = [c.state["terminated"]["exitCode"] for c in self.apps if "terminated" in c.state]
            self.phase = "Succeeded" if codes and all(code == 0 for code in codes) else "Failed"
            reason = "PodCompleted"
            self.conditions["Ready"] = _condition("Ready", False, reason, self.conditions.get("Ready"))
            self.conditions["ContainersReady"] = _condition("ContainersReady", False, reason, self.conditions.get("ContainersReady"))
        elif any("running" in c.state or c.restarts for c in self.apps):
            self.phase = "Running"
        _ = restart_policy

    def _publish(self) -> None:
        with self.lock:
            status: JSON = {
                "phase": self.phase,
                "hostIP": self.kubelet.network.gateway,
                "hostIPs": [{"ip": self.kubelet.network.gateway}],
                "podIP": self.ip,
                "podIPs": [{"ip": self.ip}] if self.ip else [],
                "startTime": self.started,
                "conditions": list(self.conditions.values()),
                "containerStatuses": [c.status() for c in self.apps],
            }
            if self.inits:
                status["initContainerStatuses"] = [c.status() for c in self.inits]
        if status == getattr(self, "_published", None) or self.stopping.is_set():
            return
        try:
            self.kube.merge_patch(object_path("v1", "pods", self.name, self.namespace) + "/status", {"status": status})
            self._published = status
        except KubeError as error:
            if error.status != 404:
                log.warning("pod %s/%s: status not written: %s", self.namespace, self.name, error)


def _condition(kind: str, status: bool, reason: str = "", previous: JSON | None = None) -> JSON:
    value = "True" if status else "False"
    if previous and previous["status"] == value:
        return previous
    condition: JSON = {"type": kind, "status": value, "lastProbeTime": None, "lastTransitionTime": now()}
    if reason:
        condition["reason"] = reason
    return condition


class Kubelet:
    """The node's kubelet: binds pods, runs those it can, finalises deletions."""

    def __init__(self, kube: Kube, network: ClusterNetwork | None, workdir: Path, registry: Registry, log_port: int) -> None:
        self.kube = kube
        self.network = network
        self.workdir = workdir
        self.registry = registry
        self.log_port = log_port
        self.workers: dict[tuple[str, str], PodWorker] = {}
        self.finalizing: set[str] = set()
        self._lock = threading.Lock()
        self._services: dict[str, list[JSON]] = {}
        self._master: JSON | None = None

    def register_node(self) -> None:
        """Create the Node the pods are bound to (Ready, its log endpoint at 127.0.0.1)."""
        node: JSON = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux", "node-role.kubernetes.io/worker": ""}},
        }
        path = object_path("v1", "nodes", NODE)
        if self.kube.get(path) is None:
            self.kube.request("POST", object_path("v1", "nodes"), node)
        status = {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.log_port}},
            "capacity": {"cpu": str(os.cpu_count() or 2), "memory": "24Gi", "pods": "250"},
            "allocatable": {"cpu": str(os.cpu_count() or 2), "memory": "24Gi", "pods": "250"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test kubelet", "lastHeartbeatTime": now(), "lastTransitionTime": now()}],
            "nodeInfo": {"kubeletVersion": "v1.36.4", "operatingSystem": "linux", "architecture": "amd64", "containerRuntimeVersion": "fraud-demo://1", "kernelVersion": os.uname().release, "osImage": "test", "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
        }
        self.kube.merge_patch(path + "/status", {"status": status})

    def set_services(self, namespace: str, services: list[JSON], master: JSON | None) -> None:
        """The Services known per namespace (for service links), kept by the proxy."""
        with self._lock:
            self._services[namespace] = services
            if master is not None:
                self._master = master

    def service_env(self, namespace: str, links: bool) -> dict[str, str]:
        with self._lock:
            services = list(self._services.get(namespace, [])) if links else []
            master = self._master
        return volumes.service_links(services, master)

    def runnable(self, pod: JSON) -> bool:
        """Whether this kubelet runs the pod's containers (else the simulator writes a status only)."""
        if self.network is None:
            return False
        for container in [*(pod["spec"].get("initContainers") or []), *pod["spec"]["containers"]]:
            try:
                if self.registry.resolve(container["image"]) is None:
                    return False
            except ImageError:
                continue
        return True

    def bind(self, pod: JSON) -> None:
        """Bind an unscheduled pod to the node, as kube-scheduler would."""
        meta = pod["metadata"]
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]}, "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}}
        with contextlib.suppress(KubeError):
            self.kube.request("POST", object_path("v1", "pods", meta["name"], meta["namespace"]) + "/binding", binding)

    def sync(self, pod: JSON) -> None:
        """Start the pod's worker the first time it is seen."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        with self._lock:
            worker = self.workers.get(key)
            if worker is not None and worker.uid == pod["metadata"]["uid"]:
                return
            worker = PodWorker(self, pod)
            self.workers[key] = worker
        worker.start()

    def finalize(self, pod: JSON) -> None:
        """A deleted pod: stop its containers within its grace period, then remove it for good."""
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        with self._lock:
            if meta["uid"] in self.finalizing:
                return
            self.finalizing.add(meta["uid"])
            worker = self.workers.pop(key, None)
        if worker is not None and worker.uid == meta["uid"]:
            grace = float(meta.get("deletionGracePeriodSeconds") or pod["spec"].get("terminationGracePeriodSeconds", 30))
            worker.stop(grace)
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
        with contextlib.suppress(KubeError):
            self.kube.request("DELETE", object_path("v1", "pods", meta["name"], meta["namespace"]), options)

    def forget(self, namespace: str, name: str) -> None:
        """The pod is gone from the API (deleted without a node, or force-deleted): stop what runs."""
        with self._lock:
            worker = self.workers.pop((namespace, name), None)
        if worker is not None:
            worker.stop(0)

    def log_file(self, namespace: str, name: str, container: str, previous: bool) -> Path | None:
        """The log of a container's current run, or with `previous` of its last terminated one (lastState), as the
        kubelet's validateContainerLogStatus (pkg/kubelet/kubelet_pods.go) chooses: in CrashLoopBackOff both are the
        run that just died; once it runs again, `previous` is the one before."""
        with self._lock:
            worker = self.workers.get((namespace, name))
        if worker is not None and previous:
            state = next((c for c in [*worker.inits, *worker.apps] if c.name == container), None)
            if state is None or not state.last_state:
                return None
            return worker.dir / container / f"{state.restarts - 1}.log"
        directories = [worker.dir] if worker else sorted((self.workdir / "pods").glob(f"{namespace}_{name}_*"), key=lambda p: p.stat().st_mtime)[-1:]
        for directory in directories:
            logs = sorted((directory / container).glob("*.log"), key=lambda p: int(p.stem))
            if previous:
                logs = logs[:-1]
            if logs:
                return logs[-1]
        return None

    def stop_all(self) -> None:
        with self._lock:
            workers = list(self.workers.values())
            self.workers.clear()
        for worker in workers:
            worker.stop(2)
        shutil.rmtree(self.workdir / "pods" / "roots", ignore_errors=True)
