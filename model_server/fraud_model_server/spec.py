"""The model a running server should serve, and what each of its processes serves: the files of a rollout.

``--serving-spec FILE`` names a JSON file ``{"storage_path": ..., "sha256": ..., "version": ..., "threshold": ...}``
(the model_serving role writes it, 0600; the threshold, the version's ``threshold`` tag, only feeds the metrics'
count of flagged rows: changed alone, it is taken without loading the model again). The server reads it at start, and again on SIGHUP: each server process then
fetches and loads the named model beside the one it serves and swaps it in between two requests, so a rollout
drops nothing (requests already running finish on the model they started with). Each process reports what it serves
in ``<workdir>/workers/<pid>.json`` (its status), and the server's main process id is in ``<workdir>/server.pid``;
``python -m fraud_model_server.switch`` reads both to signal a rollout and wait until every process serves it.
"""

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SHA256 = re.compile(r"[0-9a-f]{64}")
PID_FILE = "server.pid"
STATUS_DIR = "workers"
METRICS_DIR = "metrics"


class SpecError(ValueError):
    """The serving spec cannot be used; the message names the file and the bad value."""


@dataclass(frozen=True)
class ServingSpec:
    """Which model to serve: its storage path, the SHA-256 its file must have, the registered version it is, and the
    score from which that version calls a transaction fraud."""

    storage_path: str
    sha256: str | None = None
    version: str | None = None
    threshold: float | None = None

    @classmethod
    def from_mapping(cls, values: Any, source: str) -> "ServingSpec":
        """Check every field; SpecError naming ``source`` and the bad value."""
        if not isinstance(values, dict):
            raise SpecError(f"{source}: expected a JSON object with storage_path, sha256, version, threshold")
        unknown = sorted(set(values) - {"storage_path", "sha256", "version", "threshold"})
        if unknown:
            raise SpecError(f"{source}: unknown key(s) {unknown}; expected storage_path, sha256, version, threshold")
        storage_path, sha256, version = values.get("storage_path"), values.get("sha256"), values.get("version")
        if not isinstance(storage_path, str) or not storage_path.strip():
            raise SpecError(f"{source}: storage_path must be a non-empty string, got {storage_path!r}")
        if sha256 not in (None, "") and not (isinstance(sha256, str) and SHA256.fullmatch(sha256.lower())):
            raise SpecError(f"{source}: sha256 must be 64 hexadecimal digits, got {sha256!r}")
        if version not in (None, "") and not (isinstance(version, str) and VERSION.fullmatch(version)):
            raise SpecError(f"{source}: version must be 1-64 letters, digits, '.', '_' or '-', got {version!r}")
        threshold = values.get("threshold")
        if threshold is not None and not (type(threshold) in (int, float) and 0.0 <= threshold <= 1.0):
            raise SpecError(f"{source}: threshold must be a number from 0 to 1, got {threshold!r}")
        return cls(storage_path, sha256.lower() if sha256 else None, version or None,
                   None if threshold is None else float(threshold))

    @classmethod
    def read(cls, path: Path) -> "ServingSpec":
        """Read and check ``path``."""
        try:
            values = json.loads(path.read_text())
        except OSError as error:
            raise SpecError(f"cannot read the serving spec {path}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise SpecError(f"{path} is not JSON: {error}") from None
        return cls.from_mapping(values, str(path))

    def describe(self) -> str:
        """``version V (storage path, sha256 ...)`` for logs."""
        digest = f", sha256 {self.sha256[:12]}" if self.sha256 else ""
        return f"version {self.version or '(none)'} ({self.storage_path}{digest})"


def write_private_json(path: Path, values: Any) -> None:
    """Replace ``path`` atomically with ``values`` as JSON, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(values, out)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


@dataclass
class WorkerStatus:
    """What one server process serves, how many rollouts it has taken, and the last one that failed."""

    pid: int
    serving: dict[str, Any]
    rollouts: int = 0
    failed: dict[str, Any] | None = None

    def write(self, workdir: Path) -> None:
        """Publish it as ``<workdir>/workers/<pid>.json``."""
        write_private_json(workdir / STATUS_DIR / f"{self.pid}.json", asdict(self))


def read_statuses(workdir: Path) -> dict[int, dict[str, Any]]:
    """Every published worker status by pid (a file being replaced is read on the next look)."""
    statuses: dict[int, dict[str, Any]] = {}
    for path in (workdir / STATUS_DIR).glob("*.json"):
        try:
            statuses[int(path.stem)] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return statuses


def reset_statuses(workdir: Path, pid: int, workers: int) -> None:
    """At start: forget the statuses of earlier servers, and publish this server's main process id and how many
    processes serve."""
    _remove_pid_files(workdir / STATUS_DIR, ".json")
    write_private_json(workdir / PID_FILE, {"pid": pid, "workers": workers})


def reset_metrics(workdir: Path) -> None:
    """At start: forget the counts of earlier servers (metrics.py; only the ``<pid>.bin`` files servers wrote)."""
    _remove_pid_files(workdir / METRICS_DIR, ".bin")


def _remove_pid_files(folder: Path, suffix: str) -> None:
    """Make ``folder`` (0700) and remove the ``<pid><suffix>`` files servers wrote in it, nothing else."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in folder.glob(f"*{suffix}"):
        if path.stem.isdigit():
            path.unlink(missing_ok=True)
