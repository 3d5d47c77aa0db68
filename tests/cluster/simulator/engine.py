"""The simulator's machinery: one watch per kind feeding a de-duplicating, delayed work queue, and
level-triggered handlers that read the object fresh and make the world match it (as controllers do)."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass
from pathlib import Path

from ..kube import JSON, Kube, KubeError, object_path

log = logging.getLogger("simulator")

OUTCOME_ANNOTATION = "sim.fraud-demo.test/outcome"
MESSAGE_ANNOTATION = "sim.fraud-demo.test/message"
CONFIG_MAP = ("kube-system", "simulator-config")
OUTCOMES = ("succeed", "fail", "ignore")


@dataclass(frozen=True)
class Kind:
    """A resource the simulator watches."""

    api_version: str
    plural: str
    kind: str
    namespaced: bool = True

    def path(self, name: str = "", namespace: str = "") -> str:
        """URL of the collection (all namespaces) or of one object."""
        return object_path(self.api_version, self.plural, name, namespace if self.namespaced else "")


Key = tuple[Kind, str, str]
Handler = Callable[["Simulator", Kind, str, str, "JSON | None"], "float | None"]
"""Called with the object (None when it is gone); returns seconds after which to look again, or None."""


class Simulator:
    """Runs `handlers` for their kinds; `watch_only` kinds just wake the handlers of their owners."""

    def __init__(self, kube: Kube, handlers: dict[Kind, Handler], watch_only: list[Kind]) -> None:
        self.kube = kube
        self.handlers = handlers
        self.kinds = [*handlers, *watch_only]
        self._queue: list[tuple[float, int, Key]] = []
        self._queued: set[Key] = set()
        self._counter = 0
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._listed = threading.Semaphore(0)
        # Set by simulator.build(): the node's kubelet and image registry, and what starts and stops with run().
        self.kubelet: Any = None
        self.registry: Any = None
        self.before_run: Callable[[], None] = lambda: None
        self.after_run: Callable[[], None] = lambda: None

    def enqueue(self, key: Key, delay: float = 0) -> None:
        """Ask for `key` to be reconciled after `delay` seconds; a delayed request is dropped while
        another one for the key is pending (handlers are level-triggered: one more run is harmless)."""
        with self._lock:
            if key in self._queued and delay > 0:
                return
            self._queued.add(key)
            self._counter += 1
            heapq.heappush(self._queue, (time.monotonic() + delay, self._counter, key))
            self._lock.notify()

    def run(self, ready_file: Path | None = None, workers: int = 4) -> None:
        """Start the servers, watches and workers; mark `ready_file` once every kind was listed; block until stop()."""
        self.before_run()
        for kind in self.kinds:
            threading.Thread(target=self._watch, args=(kind,), daemon=True, name=f"watch-{kind.plural}").start()
        for n in range(workers):
            threading.Thread(target=self._work, daemon=True, name=f"worker-{n}").start()
        for _ in self.kinds:
            self._listed.acquire()
        if ready_file:
            ready_file.touch()
        log.info("simulator ready: %s", ", ".join(k.plural for k in self.kinds))
        self._stop.wait()
        self.after_run()

    def stop(self) -> None:
        """Make run() return."""
        self._stop.set()

    def outcome(self, chain: list[JSON], setting: str) -> str:
        """The behaviour asked for an object: the outcome annotation of the first object in `chain`
        (the object, then its owners) that has one, else key `setting` of the simulator-config
        ConfigMap, else "succeed"."""
        value = next((a for obj in chain if (a := _annotations(obj).get(OUTCOME_ANNOTATION))), None)
        if value is None:
            namespace, name = CONFIG_MAP
            config = self.kube.get(object_path("v1", "configmaps", name, namespace)) or {}
            value = (config.get("data") or {}).get(setting, "succeed")
        if value not in OUTCOMES:
            log.error("%s: outcome %r is not one of %s; ignoring the object", setting, value, OUTCOMES)
            return "ignore"
        return value

    @staticmethod
    def failure_message(chain: list[JSON], default: str) -> str:
        """The message annotation of the first object in `chain` that has one, else `default`."""
        return next((m for obj in chain if (m := _annotations(obj).get(MESSAGE_ANNOTATION))), default)

    def _watch(self, kind: Kind) -> None:
        first = True
        while not self._stop.is_set():
            try:
                listing = self.kube.get(kind.path())
                if listing is None:  # kind not installed (yet, or any more)
                    if first:
                        self._listed.release()
                        first = False
                    time.sleep(2)
                    continue
                for item in listing.get("items", []):
                    self._event(kind, item)
                if first:
                    self._listed.release()
                    first = False
                version = listing["metadata"]["resourceVersion"]
                while not self._stop.is_set():
                    for event in self.kube.watch(kind.path(), version):
                        if event["type"] == "ERROR":
                            raise KubeError("WATCH", kind.path(), event["object"].get("code", 0), event["object"])
                        version = event["object"]["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            self._event(kind, event["object"])
            except Exception as error:  # noqa: BLE001 - a watch must survive restarts of the API server
                if not self._stop.is_set():
                    log.debug("watch %s restarts: %s", kind.plural, error)
                    time.sleep(1)

    def _event(self, kind: Kind, obj: JSON) -> None:
        meta = obj["metadata"]
        if kind in self.handlers:
            self.enqueue((kind, meta.get("namespace", ""), meta["name"]))
        for owner in meta.get("ownerReferences") or []:
            for handled in self.handlers:
                if handled.kind == owner["kind"] and handled.api_version == owner["apiVersion"]:
                    self.enqueue((handled, meta.get("namespace", ""), owner["name"]))

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while not self._queue or self._queue[0][0] > time.monotonic():
                    self._lock.wait(timeout=(self._queue[0][0] - time.monotonic()) if self._queue else 1)
                    if self._stop.is_set():
                        return
                _, _, key = heapq.heappop(self._queue)
                self._queued.discard(key)
            kind, namespace, name = key
            try:
                obj = self.kube.get(kind.path(name, namespace))
                again = self.handlers[kind](self, kind, namespace, name, obj)
            except Exception:  # noqa: BLE001 - one bad object must not stop the others
                log.exception("%s %s/%s: handler failed; retrying in 2 s", kind.kind, namespace, name)
                again = 2
            if again is not None:
                self.enqueue(key, again)


def _annotations(obj: JSON) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}
