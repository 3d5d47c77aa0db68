"""The ``--summary-file`` JSON: what Ansible reads after a run (see train_job/README.md for every field)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Summary:
    """One finished training run and the model version it registered."""

    run_id: str
    experiment_id: str
    experiment: str
    registered_model: str
    version: str
    alias: str
    alias_moved: bool
    alias_reason: str
    previous_alias_version: str | None
    model_uri: str
    model_id: str | None
    artifact_uri: str
    artifact_bucket: str
    artifact_path: str
    onnx_input: str
    onnx_output: str
    threshold: float
    """The decision threshold chosen on the validation split (fraud when probability >= it)."""
    threshold_policy: str
    """The policy that chose it, canonical text (``f1``, ``precision:0.9``, ``fixed:0.995``)."""
    metrics: dict[str, float]
    params: dict[str, Any]
    data_source: str
    data_rows: int
    gate: dict[str, Any]
    """The gate's decision and both scores on the holdout (gate.py): the tags it put on the version."""

    def to_json(self) -> str:
        """Return the summary as indented JSON with sorted keys."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def write_summary(summary: Summary, path: Path) -> None:
    """Write ``summary`` to ``path`` atomically (a reader never sees half a file), mode 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(summary.to_json())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
