"""The run's settings: one table of options (flag, environment fallbacks, parser, default, help) and the
validated `TrainConfig` built from them."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from .threshold import ThresholdPolicy, parse_policy

REQUIRED = object()
"""The default of an option the caller must give: the model's identity is the deployment's (the Ansible roles pass
the project's; the workbench's environment carries it), so the package holds no second copy of it."""
DEFAULT_THRESHOLD_POLICY = ThresholdPolicy("f1")
"""Chosen by measurement (train_job/README.md, "Decision threshold")."""
TRACKING_SCHEMES = ("http", "https", "sqlite", "file", "postgresql", "mysql")
PROMOTION_METRICS = ("pr_auc", "roc_auc")
"""Threshold-free test metrics: versions chosen by different threshold policies compare fairly."""
OPTIMIZERS = ("adam", "sgd")
MAX_ROWS = 1_000_000_000
"""Most synthetic rows accepted at all (about 100 GB in memory); fewer are refused when memory cannot hold them."""


@dataclass(frozen=True)
class TrainConfig:
    """Validated settings of one training run (see `OPTIONS` for what each one means)."""

    data: str
    rows: int
    seed: int
    epochs: int
    batch_size: int
    optimizer: str
    learning_rate: float
    threads: int | None
    threshold_policy: ThresholdPolicy
    validation_fraction: float
    test_fraction: float
    tracking_uri: str
    experiment: str
    registered_model: str
    alias: str
    promotion_metric: str
    promotion_min_gain: float
    force_promote: bool
    drift: float
    label_noise: float
    artifacts_destination: str | None
    ca_bundle: str | None
    summary_file: Path | None

    def __post_init__(self) -> None:
        """Check the settings that depend on each other."""
        if self.validation_fraction + self.test_fraction >= 0.9:
            raise ValueError(f"--validation-fraction {self.validation_fraction} plus --test-fraction "
                             f"{self.test_fraction} leave too little to train on (keep the sum below 0.9)")


def whole_number(minimum: int, maximum: int) -> Callable[[str], int]:
    """Return a parser for integers from ``minimum`` to ``maximum`` (underscores allowed: 1_000_000)."""
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise ValueError(f"expected a whole number from {minimum:_} to {maximum:_}, got {text!r}")
        return value
    return parse


def open_interval(low: float, high: float) -> Callable[[str], float]:
    """Return a parser for numbers strictly between ``low`` and ``high``."""
    return _interval(low, high, closed=False)


def closed_interval(low: float, high: float) -> Callable[[str], float]:
    """Return a parser for numbers from ``low`` to ``high`` (inclusive)."""
    return _interval(low, high, closed=True)


def _interval(low: float, high: float, *, closed: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        inside = low <= value <= high if closed else low < value < high
        if not inside or math.isnan(value):
            bounds = f"from {low:g} to {high:g}" if closed else f"between {low:g} and {high:g} (exclusive)"
            raise ValueError(f"expected a number {bounds}, got {text!r}")
        return value
    return parse


def choice(*allowed: str) -> Callable[[str], str]:
    """Return a parser that accepts one of ``allowed`` (case-insensitive)."""
    def parse(text: str) -> str:
        if text.lower() not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return text.lower()
    return parse


def boolean(text: str) -> bool:
    """Parse true/false, yes/no, 1/0, on/off."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def tracking_uri(text: str) -> str:
    """Accept an MLflow tracking URI with a supported scheme (http(s) needs a host)."""
    parts = urlsplit(text)
    if parts.scheme not in TRACKING_SCHEMES or (parts.scheme.startswith("http") and not parts.hostname):
        raise ValueError(f"expected an MLflow tracking URI ({', '.join(TRACKING_SCHEMES)}), got {text!r}")
    return text.rstrip("/")


def model_name(text: str) -> str:
    """Accept an experiment or registered-model name: printable, no slash, at most 256 characters."""
    if not text.strip() or len(text) > 256 or "/" in text or not text.isprintable():
        raise ValueError(f"expected a name of 1-256 printable characters without '/', got {text!r}")
    return text


def alias_name(text: str) -> str:
    """Accept an MLflow registry alias: letters, digits, '_' and '-', not 'latest' nor 'v<number>'."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", text) or re.fullmatch(r"(?i)latest|v\d+", text):
        raise ValueError(f"expected an alias of letters, digits, '_' or '-' (not 'latest' or 'v<n>'), got {text!r}")
    return text


def s3_destination(text: str) -> str:
    """Accept ``s3://bucket/`` or ``s3://bucket/prefix/``."""
    parts = urlsplit(text)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"expected s3://bucket/ or s3://bucket/prefix/, got {text!r}")
    return text


def existing_file(text: str) -> str:
    """Accept the path of a readable file (a CA bundle)."""
    if not Path(text).is_file():
        raise ValueError(f"expected an existing file, got {text!r}")
    return text


def writable_path(text: str) -> Path:
    """Accept a file path whose nearest existing ancestor is a writable directory (checked before training)."""
    path = Path(text_value(text))
    if path.is_dir():
        raise ValueError(f"expected a file path, got the directory {text!r}")
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"cannot create {text!r}: {ancestor} is not a writable directory")
    return path


def text_value(text: str) -> str:
    """Accept any non-empty text."""
    if not text:
        raise ValueError("expected a non-empty value")
    return text


@dataclass(frozen=True)
class Option:
    """One setting: its flag, the environment variables read when the flag is absent, and its help."""

    field: str
    env: tuple[str, ...]
    parse: Callable[[str], Any]
    default: Any
    help: str

    @property
    def flag(self) -> str:
        """The long command-line flag."""
        return "--" + self.field.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("data", ("TRAIN_DATA",), text_value, "synthetic",
           "training data: 'synthetic' (seeded generator), a CSV path, an http(s) URL, or s3://bucket/key "
           "(read with the AWS_* data-connection variables; s3:///key uses AWS_S3_BUCKET)"),
    Option("rows", ("TRAIN_ROWS",), whole_number(100, MAX_ROWS), 1_000_000,
           "rows to generate when --data is synthetic (refused when they cannot fit in this machine's memory)"),
    Option("seed", ("TRAIN_SEED",), whole_number(0, 2**32 - 1), 42,
           "seed of the generator, the split and the weights"),
    Option("epochs", ("TRAIN_EPOCHS",), whole_number(1, 10_000), 2, "passes over the training split"),
    Option("batch_size", ("TRAIN_BATCH_SIZE",), whole_number(1, 2**20), 4096,
           "rows per gradient step (chosen by measurement, see docs/benchmarks.md; the demo used 32)"),
    Option("optimizer", ("TRAIN_OPTIMIZER",), choice(*OPTIMIZERS), "adam", "optimizer: " + " or ".join(OPTIMIZERS)),
    Option("learning_rate", ("TRAIN_LEARNING_RATE",), open_interval(0.0, 10.0), 0.03,
           "initial step size, decayed to 0 along a cosine over the run (large batches need a larger rate)"),
    Option("threads", ("TRAIN_THREADS",), whole_number(1, 1024), None,
           "TensorFlow threads (default: the CPUs this process may use, from its affinity and cgroup CPU quota, "
           "so a container with a CPU limit does not oversubscribe)"),
    Option("threshold_policy", ("TRAIN_THRESHOLD_POLICY",), parse_policy, DEFAULT_THRESHOLD_POLICY,
           "how the decision threshold (fraud when probability >= it) is chosen on the validation split: f1 (the "
           "best F1), precision:P (the best recall with precision >= P), recall:R (the best precision with "
           "recall >= R) or fixed:T (fixed:0.995 is the original demo); the test split's tn/fp/fn/tp, precision, "
           "recall and f1 are counted at it"),
    Option("validation_fraction", ("TRAIN_VALIDATION_FRACTION",), open_interval(0.0, 0.5), 0.1,
           "share of rows held out for per-epoch validation"),
    Option("test_fraction", ("TRAIN_TEST_FRACTION",), open_interval(0.0, 0.5), 0.1,
           "share of rows held out for the final metrics and the ONNX parity check"),
    Option("tracking_uri", ("MLFLOW_TRACKING_URI", "MLFLOW_ROUTE"), tracking_uri, REQUIRED,
           "MLflow tracking server (required; MLFLOW_ROUTE is the demo's name for it)"),
    Option("registered_model", ("TRAIN_REGISTERED_MODEL",), model_name, REQUIRED,
           "registered model that receives the new version (required)"),
    Option("experiment", ("MLFLOW_EXPERIMENT_NAME",), model_name, None,
           "MLflow experiment (default: the registered model's name)"),
    Option("alias", ("TRAIN_ALIAS",), alias_name, REQUIRED,
           "registry alias moved to the new version when the gate passes it (required; "
           "the one serving follows)"),
    Option("promotion_metric", ("TRAIN_PROMOTION_METRIC",), choice(*PROMOTION_METRICS), "pr_auc",
           "the gate's threshold-free metric (higher is better): the alias holder (champion) and the new version "
           "(challenger) are both scored on this run's test split, the holdout of the new data"),
    Option("promotion_min_gain", ("TRAIN_PROMOTION_MIN_GAIN",), closed_interval(0.0, 0.5), 0.0,
           "how much the challenger must beat the champion by on the holdout to take the alias (0: at least as good)"),
    Option("force_promote", ("TRAIN_FORCE_PROMOTE",), boolean, False,
           "move the alias to the new version whatever the gate says (the decision records that it was forced)"),
    Option("drift", ("TRAIN_DRIFT",), closed_interval(0.0, 1.0), 0.0,
           "synthetic data only: how far the generator has drifted, 0 (the original marginals and fraud pattern) "
           "to 1 (more online purchases, cheaper ones, more online fraud at lower purchase ratios; synthetic.py)"),
    Option("label_noise", ("TRAIN_LABEL_NOISE",), closed_interval(0.0, 0.45), 0.0,
           "share of the training split's labels flipped, as a broken labelling feed would (validation and test "
           "splits stay clean): a challenger meant to lose the gate"),
    Option("artifacts_destination", ("MLFLOW_ARTIFACTS_DESTINATION",), s3_destination, None,
           "the tracking server's --artifacts-destination (s3://bucket/prefix), to turn proxied "
           "mlflow-artifacts:/ URIs into bucket paths; required when the server proxies artifacts"),
    Option("ca_bundle", ("TRAIN_CA_BUNDLE",), existing_file, None,
           "CA certificates trusted besides the system's for TLS of the tracking server, https and S3 sources "
           "(verification is always on)"),
    Option("summary_file", ("TRAIN_SUMMARY_FILE",), writable_path, None,
           "write the run summary JSON here (run, model version, alias, metrics, ONNX location)"),
)

def defaults() -> dict[str, Any]:
    """Each option's default (REQUIRED for the ones without): what a run uses where nothing overrides it."""
    return {option.field: option.default for option in OPTIONS}


RETIRED_ENVIRONMENT = {
    "TRAIN_THRESHOLD": "TRAIN_THRESHOLD_POLICY (a fixed threshold T is written fixed:T)",
}
"""Variables earlier versions read, with what replaced them: set, they stop the run instead of being ignored."""


def check_retired(environ: Mapping[str, str]) -> None:
    """Raise ValueError naming a retired variable that is set, and its replacement."""
    for name, replacement in RETIRED_ENVIRONMENT.items():
        if name in environ:
            raise ValueError(f"environment variable {name}={environ[name]!r} is no longer read: use {replacement}")
