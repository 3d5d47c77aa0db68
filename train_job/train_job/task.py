"""The command line: ``python -m train_job [flags]``; every flag falls back to an environment variable."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import fields
from types import FrameType
from typing import Any

from .config import OPTIONS, REQUIRED, Option, TrainConfig, check_retired

LOG = logging.getLogger("train_job")

DESCRIPTION = """\
Train the credit-card fraud model, log the run to MLflow, register the ONNX model and, when it is at least as
good as the current holder, move the registry alias to it.

Each flag falls back to the environment variable named in its help, then to the default; the tracking server,
the registered model and the alias have none. Exit status: 0 done,
1 the run failed (bad data, a threshold policy the validation split cannot meet, tracking server, parity check,
registry), 2 bad flags or environment."""

EPILOG = """\
MLflow's own variables also apply: MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR and
MLFLOW_HTTP_REQUEST_TIMEOUT bound the retries of transient tracking-server failures; MLFLOW_TRACKING_TOKEN or
MLFLOW_TRACKING_USERNAME/PASSWORD authenticate. s3:// data reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_S3_ENDPOINT, AWS_DEFAULT_REGION and AWS_S3_BUCKET."""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser; flags default to None so that unset ones can fall back to the environment."""
    parser = argparse.ArgumentParser(prog="python -m train_job", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in OPTIONS:
        fallback = f"env {' or '.join(option.env)}"
        default = "" if option.default is None or option.default is REQUIRED else f"; default {option.default}"
        if isinstance(option.default, bool):
            parser.add_argument(option.flag, dest=option.field, action=argparse.BooleanOptionalAction,
                                default=None, help=f"{option.help} ({fallback}{default})")
        else:
            parser.add_argument(option.flag, dest=option.field, metavar=option.field.upper(), default=None,
                                help=f"{option.help} ({fallback}{default})")
    return parser


def resolve(option: Option, given: Any, environ: Mapping[str, str]) -> Any:
    """Return the option's value: the flag, else the first non-empty environment variable, else the default.

    Raises ValueError naming the flag or variable when the value does not parse.
    """
    if isinstance(given, bool):
        return given
    if given is not None:
        try:
            return option.parse(given)
        except ValueError as error:
            raise ValueError(f"{option.flag}: {error}") from None
    for name in option.env:
        if environ.get(name):
            try:
                return option.parse(environ[name])
            except ValueError as error:
                raise ValueError(f"environment variable {name}: {error}") from None
    if option.default is REQUIRED:
        if option.field == "tracking_uri":
            raise ValueError("no tracking server: set MLFLOW_TRACKING_URI (or MLFLOW_ROUTE) or pass --tracking-uri")
        raise ValueError(f"{option.flag} is required: pass it or set {' or '.join(option.env)}")
    return option.default


def parse_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> TrainConfig:
    """Parse flags and environment into a validated `TrainConfig`; exit 2 with a message naming the bad value."""
    parser = build_parser()
    namespace = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        check_retired(environ)
        values = {option.field: resolve(option, getattr(namespace, option.field), environ) for option in OPTIONS}
        values["experiment"] = values["experiment"] or values["registered_model"]
        return TrainConfig(**{field.name: values[field.name] for field in fields(TrainConfig)})
    except ValueError as error:
        parser.error(str(error))


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM (a Kubernetes Job being stopped) into SystemExit, so the run is marked failed and a
    half-made model version deleted on the way out."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one training as the flags and environment say; return the exit status."""
    config = parse_config(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("tf2onnx", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    previous_handler = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return _train(config)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)


def _train(config: TrainConfig) -> int:
    """Run the pipeline, report failures as one log line each, write the summary; return the exit status."""
    from mlflow.exceptions import MlflowException

    from .data import DataError
    from .onnx_export import OnnxExportError
    from .pipeline import ArtifactStoreError, run
    from .registry import RegistryError
    from .summary import write_summary
    from .threshold import ThresholdError
    from .training import configure_threads

    LOG.info("TensorFlow uses %d thread(s)", configure_threads(config.threads))
    try:
        summary = run(config)
    except (DataError, ArtifactStoreError, OnnxExportError, RegistryError, ThresholdError) as error:
        LOG.error("%s", error)
        return 1
    except MlflowException as error:
        LOG.error("MLflow: %s", error.message)
        return 1
    if config.summary_file is not None:
        write_summary(summary, config.summary_file)
        LOG.info("summary written to %s", config.summary_file)
    LOG.info("run %s registered %s version %s", summary.run_id, summary.registered_model, summary.version)
    return 0
