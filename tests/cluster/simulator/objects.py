"""Helpers shared by the simulated controllers: timestamps, conditions, owner references, writes."""

from __future__ import annotations

import datetime
from typing import Any

from ..kube import JSON, Kube, object_path
from .engine import Kind

MANAGER = "fraud-demo-simulator"


def now() -> str:
    """RFC 3339 UTC timestamp, as the API writes them."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(kind: str, status: bool, reason: str = "", message: str = "") -> JSON:
    """One status condition."""
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason or (kind if status else f"Not{kind}"),
        "message": message,
        "lastTransitionTime": now(),
    }


def owner_reference(owner: JSON, controller: bool = True) -> JSON:
    """An ownerReference to `owner`, so the garbage collector removes the child with it."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def apply(kube: Kube, obj: JSON, plural: str) -> JSON | None:
    """Server-side apply a child object as the simulator's field manager."""
    meta = obj["metadata"]
    return kube.apply(object_path(obj["apiVersion"], plural, meta["name"], meta.get("namespace", "")), obj, MANAGER)


def set_status(kube: Kube, kind: Kind, obj: JSON, status: JSON) -> None:
    """Merge `status` into the object's status subresource unless it already holds those values."""
    if _contains(obj.get("status") or {}, status, ignore={"lastTransitionTime", "lastUpdateTime"}):
        return
    meta = obj["metadata"]
    kube.merge_patch(kind.path(meta["name"], meta.get("namespace", "")) + "/status", {"status": status})


def replace_status(kube: Kube, kind: Kind, obj: JSON, status: JSON) -> None:
    """Make the status exactly `status` (a controller that rebuilds it each time): a merge patch that also
    removes what `status` lacks; no write when only timestamps would change."""
    current = obj.get("status") or {}
    ignore = {"lastTransitionTime", "lastUpdateTime", "time"}
    if _contains(current, status, ignore) and _contains(status, current, ignore):
        return
    meta = obj["metadata"]
    kube.merge_patch(kind.path(meta["name"], meta.get("namespace", "")) + "/status", {"status": _diff(current, status)})


def _diff(current: Any, wanted: Any) -> Any:
    if not (isinstance(current, dict) and isinstance(wanted, dict)):
        return wanted
    patch = {k: None for k in current if k not in wanted}
    patch.update({k: _diff(current.get(k), v) for k, v in wanted.items()})
    return patch


def _contains(current: Any, wanted: Any, ignore: set[str]) -> bool:
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(
            k in ignore or _contains(current.get(k), v, ignore) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(current, list)
            and len(current) == len(wanted)
            and all(_contains(c, w, ignore) for c, w in zip(current, wanted, strict=True))
        )
    return bool(current == wanted)


def annotation(obj: JSON, key: str, default: str = "") -> str:
    """One annotation of `obj`."""
    return str((obj["metadata"].get("annotations") or {}).get(key, default))


def label(obj: JSON, key: str, default: str = "") -> str:
    """One label of `obj`."""
    return str((obj["metadata"].get("labels") or {}).get(key, default))
