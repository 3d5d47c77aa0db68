"""OpenShift's route, image and build controllers.

- Route: `spec.host` defaulted to `<name>-<namespace>.apps.fraud-demo.test` when empty (as
  openshift-apiserver does on create), then admitted by router `default`. Outcome key `routes`:
  fail = Admitted False (HostAlreadyClaimed).
- ImageStream: `status.dockerImageRepository` in the internal registry.
- Build (roles create them, labelled `buildconfig: <bc>`, since `buildconfigs/instantiate` needs
  openshift-apiserver): New -> Running -> Complete about a second later, with the output pushed to
  the ImageStream named by `spec.output.to` (an ImageStreamTag `<stream>:<tag>`): a new item in
  that stream's `status.tags`; the BuildConfig's `status.lastVersion` follows. A `Dockerfile` source (the
  roles' local upload: inline Dockerfile + context ConfigMaps) is built for real into the node's image
  registry under its content digest (pods/images.py), so its pods run; a git source only gets a digest.
  Outcome key `builds`: fail = Failed (DockerBuildFailed); a missing output ImageStream fails it as
  InvalidOutputReference, a COPY of a file the context lacks as DockerBuildFailed.
"""

from __future__ import annotations

import hashlib

from ..kube import JSON, object_path
from ..pods.images import context_files
from .engine import Kind, Simulator
from .objects import condition, label, now, set_status

ROUTES = Kind("route.openshift.io/v1", "routes", "Route")
IMAGE_STREAMS = Kind("image.openshift.io/v1", "imagestreams", "ImageStream")
BUILDS = Kind("build.openshift.io/v1", "builds", "Build")
BUILD_CONFIGS = Kind("build.openshift.io/v1", "buildconfigs", "BuildConfig")
APPS_DOMAIN = "apps.fraud-demo.test"
REGISTRY = "image-registry.openshift-image-registry.svc:5000"
BUILD_SECONDS = 1.0


def route(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Default the host and admit the route."""
    if obj is None:
        return None
    outcome = sim.outcome([obj], "routes")
    if outcome == "ignore":
        return None
    host = obj["spec"].get("host") or f"{name}-{namespace}.{APPS_DOMAIN}"
    if not obj["spec"].get("host"):
        obj = sim.kube.merge_patch(kind.path(name, namespace), {"spec": {"host": host}}) or obj
    admitted = outcome == "succeed"
    reason = "" if admitted else "HostAlreadyClaimed"
    message = "" if admitted else sim.failure_message([obj], f"route {name} already exposes {host}")
    ingress = {
        "host": host,
        "routerName": "default",
        "routerCanonicalHostname": f"router-default.{APPS_DOMAIN}",
        "wildcardPolicy": "None",
        "conditions": [condition("Admitted", admitted, reason or "Admitted", message)],
    }
    set_status(sim.kube, kind, obj, {"ingress": [ingress]})
    return None


def image_stream(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Give the stream its internal-registry repository."""
    if obj is None:
        return None
    repository = f"{REGISTRY}/{namespace}/{name}"
    set_status(
        sim.kube,
        kind,
        obj,
        {"dockerImageRepository": repository, "publicDockerImageRepository": f"default-route-openshift-image-registry.{APPS_DOMAIN}/{namespace}/{name}"},
    )
    return None


def build(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Advance one build by a phase."""
    if obj is None:
        return None
    status = obj.get("status") or {}
    phase = status.get("phase", "New")
    if phase in ("Complete", "Failed", "Error", "Cancelled"):
        return None
    outcome = sim.outcome([obj], "builds")
    if outcome == "ignore":
        return None
    config = label(obj, "buildconfig") or label(obj, "openshift.io/build-config.name")
    if phase != "Running":
        running = {"phase": "Running", "startTimestamp": now()}
        if config:
            running["config"] = {"kind": "BuildConfig", "name": config, "namespace": namespace}
            _record_version(sim, namespace, config, name)
        set_status(sim.kube, kind, obj, running)
        return BUILD_SECONDS
    to = ((obj["spec"].get("output") or {}).get("to")) or {}
    stream_name, _, tag = to.get("name", "").partition(":")
    stream_namespace = to.get("namespace") or namespace
    stream = sim.kube.get(IMAGE_STREAMS.path(stream_name, stream_namespace)) if stream_name else None
    done = {"completionTimestamp": now(), "duration": int(BUILD_SECONDS * 1e9)}
    if outcome == "fail":
        message = sim.failure_message([obj], "simulated Docker build failure")
        set_status(sim.kube, kind, obj, done | {"phase": "Failed", "reason": "DockerBuildFailed", "message": message, "logSnippet": message})
        return None
    if to and (to.get("kind") != "ImageStreamTag" or stream is None or not tag):
        message = f"output image stream tag {to.get('name')!r} in {stream_namespace} cannot be pushed to"
        set_status(sim.kube, kind, obj, done | {"phase": "Failed", "reason": "InvalidOutputReference", "message": message})
        return None
    source = obj["spec"].get("source") or {}
    if source.get("type") == "Dockerfile" and sim.registry is not None:
        # A local source: build it for real from the inline Dockerfile and the uploaded context (pods/images.py).
        maps = {}
        for ref in source.get("configMaps") or []:
            found = sim.kube.get(object_path("v1", "configmaps", ref["configMap"]["name"], namespace))
            if found is None:
                message = f'configmaps "{ref["configMap"]["name"]}" not found'
                set_status(sim.kube, kind, obj, done | {"phase": "Failed", "reason": "FetchSourceFailed", "message": message, "logSnippet": message})
                return None
            maps[ref["configMap"]["name"]] = found
        try:
            digest, _config = sim.registry.build(source.get("dockerfile", ""), context_files(obj["spec"], maps))
        except ValueError as error:
            set_status(sim.kube, kind, obj, done | {"phase": "Failed", "reason": "DockerBuildFailed", "message": "Docker build strategy has failed.", "logSnippet": str(error)})
            return None
    else:
        digest = "sha256:" + hashlib.sha256(obj["metadata"]["uid"].encode()).hexdigest()
    reference = f"{REGISTRY}/{stream_namespace}/{stream_name}"
    if stream is not None:
        _push(sim, stream, tag, f"{reference}@{digest}", digest)
    set_status(
        sim.kube,
        kind,
        obj,
        done
        | {
            "phase": "Complete",
            "outputDockerImageReference": f"{reference}:{tag}" if stream else "",
            "output": {"to": {"imageDigest": digest}} if stream else {},
            "conditions": [condition("Complete", True, "BuildCompleted")],
        },
    )
    return None


def _push(sim: Simulator, stream: JSON, tag: str, reference: str, digest: str) -> None:
    tags = [t for t in (stream.get("status") or {}).get("tags") or [] if t["tag"] != tag]
    previous = next((t["items"] for t in (stream.get("status") or {}).get("tags") or [] if t["tag"] == tag), [])
    item = {"created": now(), "dockerImageReference": reference, "image": digest, "generation": stream["metadata"].get("generation", 1)}
    tags.append({"tag": tag, "items": [item, *previous]})
    set_status(sim.kube, IMAGE_STREAMS, stream, {"tags": tags})


def _record_version(sim: Simulator, namespace: str, config: str, build_name: str) -> None:
    number = build_name.rsplit("-", 1)[-1]
    bc = sim.kube.get(BUILD_CONFIGS.path(config, namespace))
    if bc is None or not number.isdigit():
        return
    if int(number) > int((bc.get("status") or {}).get("lastVersion", 0)):
        sim.kube.merge_patch(BUILD_CONFIGS.path(config, namespace) + "/status", {"status": {"lastVersion": int(number)}})
