"""What the kubelet reads from the API for a container: its volumes as files, and its environment.

Both follow the kubelet: a missing Secret or ConfigMap that is not `optional` is a CreateContainerConfigError
(env) or keeps the pod in ContainerCreating (volumes) with the kubelet's message; `$(VAR)` is expanded from the
variables defined before it (`$$` escapes); service links (`<SVC>_SERVICE_HOST`, ...) and the `kubernetes`
Service's variables are added as with `enableServiceLinks: true`.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..kube import JSON, Kube, KubeError, object_path

DEFAULT_MODE = 0o644
TOKEN_SECONDS = 3607  # what the ServiceAccount admission plugin asks for (bound tokens are then extended)
_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(RuntimeError):
    """The container cannot be configured yet; `reason` is the kubelet's waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def expand(text: str, values: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined variables are replaced, others left as written, `$$` is `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return _VAR.sub(replace, text)


@dataclass
class Source:
    """Reads Secrets and ConfigMaps of one namespace for one pod (each object once)."""

    kube: Kube
    namespace: str

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, str], JSON | None] = {}

    def get(self, kind: str, name: str) -> JSON | None:
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = self.kube.get(object_path("v1", kind, name, self.namespace))
        return self._cache[key]

    def values(self, kind: str, name: str) -> dict[str, str] | None:
        """The decoded data of a Secret ("secrets") or ConfigMap ("configmaps"); None when it does not exist."""
        obj = self.get(kind, name)
        if obj is None:
            return None
        if kind == "secrets":
            return {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
        data = dict(obj.get("data") or {})
        data.update({k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("binaryData") or {}).items()})
        return data

    def raw(self, kind: str, name: str) -> dict[str, bytes] | None:
        """The data of a Secret or ConfigMap as bytes (for files)."""
        obj = self.get(kind, name)
        if obj is None:
            return None
        if kind == "secrets":
            return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        files = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        files.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return files


_KINDS = {"secretRef": ("secrets", "secret"), "configMapRef": ("configmaps", "configmap")}


def environment(pod: JSON, container: JSON, source: Source, service_env: dict[str, str]) -> dict[str, str]:
    """The container's variables from envFrom and env, after the service links, in the kubelet's order."""
    values: dict[str, str] = dict(service_env)
    for item in container.get("envFrom") or []:
        ref_key = "secretRef" if "secretRef" in item else "configMapRef"
        kind, word = _KINDS[ref_key]
        ref = item[ref_key]
        data = source.values(kind, ref["name"])
        if data is None:
            if ref.get("optional"):
                continue
            raise ConfigError("CreateContainerConfigError", f'{word} "{ref["name"]}" not found')
        prefix = item.get("prefix", "")
        values.update({prefix + k: v for k, v in data.items() if re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", prefix + k)})
    for variable in container.get("env") or []:
        name = variable["name"]
        if "value" in variable or "valueFrom" not in variable:
            values[name] = expand(variable.get("value", ""), values)
            continue
        value = _value_from(pod, container, variable["valueFrom"], source)
        if value is not None:
            values[name] = value
    return values


def _value_from(pod: JSON, container: JSON, spec: JSON, source: Source) -> str | None:
    for key, (kind, word) in (("secretKeyRef", ("secrets", "secret")), ("configMapKeyRef", ("configmaps", "configmap"))):
        if key in spec:
            ref = spec[key]
            data = source.values(kind, ref["name"])
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    return None
                what = f'{word} "{ref["name"]}" not found' if data is None else f'couldn\'t find key {ref["key"]} in {word} {source.namespace}/{ref["name"]}'
                raise ConfigError("CreateContainerConfigError", what)
            return data[ref["key"]]
    if "fieldRef" in spec:
        return field_value(pod, spec["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in spec:
        ref = spec["resourceFieldRef"]
        kind, _, resource = ref["resource"].partition(".")
        return str(((container.get("resources") or {}).get(kind) or {}).get(resource, "0"))
    return None


def field_value(pod: JSON, path: str) -> str:
    """The downward API's fieldPath values."""
    meta = pod["metadata"]
    simple = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta["namespace"],
        "metadata.uid": meta["uid"],
        "spec.nodeName": pod["spec"].get("nodeName", ""),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "status.podIP": (pod.get("status") or {}).get("podIP", ""),
        "status.hostIP": (pod.get("status") or {}).get("hostIP", ""),
    }
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ConfigError("CreateContainerConfigError", f"unsupported fieldPath {path}")


def service_links(services: list[JSON], master: JSON | None) -> dict[str, str]:
    """`<NAME>_SERVICE_HOST`, `<NAME>_PORT_<port>_TCP`, ... for the namespace's Services with a ClusterIP, and the
    `kubernetes` Service's (always), as the kubelet writes them."""
    values: dict[str, str] = {}
    for service in [s for s in services if s is not master] + ([master] if master else []):
        ip = (service.get("spec") or {}).get("clusterIP")
        ports = (service.get("spec") or {}).get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        name = service["metadata"]["name"].upper().replace("-", "_")
        values[f"{name}_SERVICE_HOST"] = ip
        values[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            protocol = port.get("protocol", "TCP")
            if port.get("name"):
                values[f"{name}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port["port"])
            prefix = f"{name}_PORT_{port['port']}_{protocol}"
            values[prefix] = f"{protocol.lower()}://{ip}:{port['port']}"
            values[f"{prefix}_PROTO"] = protocol.lower()
            values[f"{prefix}_PORT"] = str(port["port"])
            values[f"{prefix}_ADDR"] = ip
        first = ports[0]
        values[f"{name}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}"
    return values


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)


def _project_items(target: Path, data: dict[str, bytes], items: list[JSON] | None, mode: int, what: str) -> None:
    if items:
        for item in items:
            if item["key"] not in data:
                raise ConfigError("ContainerCreating", f"configmap/secret {what} has no key {item['key']!r}")
            _write(target / item["path"], data[item["key"]], item.get("mode", mode))
    else:
        for key, value in data.items():
            _write(target / key, value, mode)


def materialize(pod: JSON, volume: JSON, target: Path, source: Source, claims_dir: Path) -> Path:
    """Write one pod volume under `target` (or return the directory that backs it); raise ConfigError with the
    kubelet's FailedMount message while its Secret, ConfigMap or claim does not exist."""
    name = volume["name"]
    if "emptyDir" in volume:
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o777)
        return target
    if "configMap" in volume or "secret" in volume:
        config_map = "configMap" in volume
        spec = volume["configMap"] if config_map else volume["secret"]
        object_name = spec["name"] if config_map else spec["secretName"]
        data = source.raw("configmaps" if config_map else "secrets", object_name)
        if data is None:
            if spec.get("optional"):
                target.mkdir(parents=True, exist_ok=True)
                return target
            word = "configmap" if config_map else "secret"
            raise ConfigError("ContainerCreating", f'MountVolume.SetUp failed for volume "{name}" : {word} "{object_name}" not found')
        target.mkdir(parents=True, exist_ok=True)
        _project_items(target, data, spec.get("items"), spec.get("defaultMode", DEFAULT_MODE), object_name)
        return target
    if "persistentVolumeClaim" in volume:
        claim = volume["persistentVolumeClaim"]["claimName"]
        found = source.kube.get(object_path("v1", "persistentvolumeclaims", claim, source.namespace))
        if found is None:
            raise ConfigError("ContainerCreating", f'persistentvolumeclaim "{claim}" not found')
        backing = claims_dir / f"{source.namespace}_{claim}_{found['metadata']['uid'][:8]}"
        backing.mkdir(parents=True, exist_ok=True)
        backing.chmod(0o777)
        return backing
    if "projected" in volume:
        target.mkdir(parents=True, exist_ok=True)
        mode = volume["projected"].get("defaultMode", DEFAULT_MODE)
        for item in volume["projected"].get("sources") or []:
            _projected(pod, item, target, source, mode)
        return target
    if "downwardAPI" in volume:
        target.mkdir(parents=True, exist_ok=True)
        for item in volume["downwardAPI"].get("items") or []:
            _write(target / item["path"], field_value(pod, item["fieldRef"]["fieldPath"]).encode(), item.get("mode", DEFAULT_MODE))
        return target
    raise ConfigError("ContainerCreating", f'volume "{name}": this test kubelet supports emptyDir, configMap, secret, persistentVolumeClaim, projected and downwardAPI')


def _projected(pod: JSON, item: JSON, target: Path, source: Source, mode: int) -> None:
    if "serviceAccountToken" in item:
        spec = item["serviceAccountToken"]
        account = pod["spec"].get("serviceAccountName") or "default"
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [spec["audience"]] if spec.get("audience") else None,
                "expirationSeconds": spec.get("expirationSeconds", TOKEN_SECONDS),
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
            },
        }
        try:
            answer = source.kube.request("POST", object_path("v1", "serviceaccounts", account, source.namespace) + "/token", request) or {}
        except KubeError as error:
            raise ConfigError("ContainerCreating", f"failed to fetch token: {error}") from None
        _write(target / spec["path"], answer["status"]["token"].encode(), mode)
    for key, kind in (("configMap", "configmaps"), ("secret", "secrets")):
        if key in item:
            spec = item[key]
            data = source.raw(kind, spec["name"])
            if data is None:
                if spec.get("optional"):
                    continue
                raise ConfigError("ContainerCreating", f'{key.lower()} "{spec["name"]}" not found')
            _project_items(target, data, spec.get("items"), mode, spec["name"])
    if "downwardAPI" in item:
        for entry in item["downwardAPI"].get("items") or []:
            _write(target / entry["path"], field_value(pod, entry["fieldRef"]["fieldPath"]).encode(), entry.get("mode", mode))


def volume_source(volume: JSON) -> str:
    """The kind of a volume (emptyDir, configMap, ...)."""
    return next((k for k in volume if k != "name"), "")
