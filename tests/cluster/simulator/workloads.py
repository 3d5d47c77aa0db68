"""The scheduler's and the kubelet's part for every pod: bind it to the one node, run it when its images run here
(pods/kubelet.py, with the real outcome), else write the status a kubelet would; finalise deleted pods. The real
deployment, replicaset, statefulset and job controllers take it from there (Deployment Available, StatefulSet
ready, Job Complete or Failed after its backoffLimit).

Pods that do not run here follow the outcome switch (annotation on the pod or any owner up the chain, else
simulator-config key named after the top owner's plural, e.g. `jobs`, `deployments`, `notebooks`): succeed =
Running and Ready (Succeeded for run-to-completion pods), fail = not ready in CrashLoopBackOff (Failed, exit code
1, for run-to-completion pods), ignore = left Pending. They have no logs and no exec.
"""

from __future__ import annotations

import threading

from ..kube import JSON
from .engine import Kind, Simulator
from .objects import condition, now

PODS = Kind("v1", "pods", "Pod")


def owner_chain(sim: Simulator, obj: JSON) -> list[JSON]:
    """`obj` followed by its controller owner, that one's owner, and so on (as far as they exist)."""
    chain = [obj]
    while len(chain) < 5:
        meta = chain[-1]["metadata"]
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
        if owner is None:
            break
        api = owner["apiVersion"]
        plural = owner["kind"].lower() + "s"
        prefix = "/api/v1" if api == "v1" else f"/apis/{api}"
        found = sim.kube.get(f"{prefix}/namespaces/{meta['namespace']}/{plural}/{owner['name']}")
        if found is None:
            break
        chain.append(found)
    return chain


def pod(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Bind, run (or simulate) and finalise one pod."""
    kubelet = sim.kubelet
    if obj is None:
        kubelet.forget(namespace, name)
        return None
    if obj["metadata"].get("deletionTimestamp"):
        threading.Thread(target=kubelet.finalize, args=(obj,), daemon=True, name=f"finalize-{name}").start()
        return None
    if not obj["spec"].get("nodeName"):
        kubelet.bind(obj)
        return None
    if kubelet.runnable(obj):
        kubelet.sync(obj)
        return None
    return _simulate(sim, kind, namespace, name, obj)


def _simulate(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON) -> float | None:
    """Take a pending pod that does not run here to the status the outcome asks for."""
    if (obj.get("status") or {}).get("startTime"):
        return None
    chain = owner_chain(sim, obj)
    top = chain[-1]
    outcome = sim.outcome(chain, top["kind"].lower() + "s")
    if outcome == "ignore":
        return None
    started = now()
    run_to_completion = obj["spec"].get("restartPolicy", "Always") != "Always"
    message = sim.failure_message(chain, "simulated failure")
    statuses = []
    for container in obj["spec"]["containers"]:
        status = {"name": container["name"], "image": container["image"], "imageID": "", "restartCount": 0}
        if run_to_completion:
            code = 0 if outcome == "succeed" else 1
            reason = "Completed" if code == 0 else "Error"
            terminated = {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now()}
            if code:
                terminated["message"] = message
            status |= {"ready": False, "started": False, "state": {"terminated": terminated}}
        elif outcome == "succeed":
            status |= {"ready": True, "started": True, "state": {"running": {"startedAt": started}}}
        else:
            waiting = {"reason": "CrashLoopBackOff", "message": message}
            status |= {"ready": False, "started": False, "restartCount": 3, "state": {"waiting": waiting}}
        statuses.append(status)
    ready = outcome == "succeed" and not run_to_completion
    if run_to_completion:
        phase = "Succeeded" if outcome == "succeed" else "Failed"
    else:
        phase = "Running"
    address = sim.kubelet.network.pod_address() if sim.kubelet.network else "127.0.0.1"
    status = {
        "phase": phase,
        "startTime": started,
        "hostIP": sim.kubelet.network.gateway if sim.kubelet.network else "127.0.0.1",
        "podIP": address,
        "conditions": [
            condition("PodScheduled", True),
            condition("Initialized", True),
            condition("ContainersReady", ready, "" if ready else "ContainersNotReady"),
            condition("Ready", ready, "" if ready else ("PodCompleted" if run_to_completion else "ContainersNotReady")),
        ],
        "containerStatuses": statuses,
    }
    sim.kube.merge_patch(kind.path(name, namespace) + "/status", {"status": status})
    return None
