"""The command line: flags, environment fallbacks (MLFLOW_ROUTE included), and errors that name the bad value."""

import subprocess
import sys
from pathlib import Path

import pytest

from train_job.config import OPTIONS
from train_job.task import parse_config
from train_job.threshold import ThresholdPolicy

# What every run must be given (the roles pass it; in the workbench its environment carries it).
REQUIRED = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000", "TRAIN_REGISTERED_MODEL": "fraud-model",
            "TRAIN_ALIAS": "champion"}


def test_defaults() -> None:
    """Given only what it must be given, the run is the measured one (synthetic 1M rows, 2 epochs) with the
    threshold of the best validation F1, in an experiment named after the registered model."""
    config = parse_config([], REQUIRED)
    assert (config.data, config.rows, config.epochs) == ("synthetic", 1_000_000, 2)
    assert config.threshold_policy == ThresholdPolicy("f1")
    assert (config.experiment, config.registered_model) == ("fraud-model", "fraud-model")  # experiment: the model's
    assert (config.alias, config.promotion_metric, config.force_promote) == ("champion", "pr_auc", False)
    assert config.summary_file is None and config.ca_bundle is None


def test_environment_fallback_and_flag_precedence(tmp_path: Path) -> None:
    """Environment variables fill unset flags; a flag wins over its variable."""
    environ = {
        "MLFLOW_ROUTE": "http://mlflow-server.mlflow.svc.cluster.local:8080/",
        "TRAIN_EPOCHS": "5",
        "TRAIN_BATCH_SIZE": "1_024",
        "TRAIN_OPTIMIZER": "SGD",
        "TRAIN_THRESHOLD_POLICY": "precision:0.9",
        "TRAIN_FORCE_PROMOTE": "yes",
        "TRAIN_SUMMARY_FILE": str(tmp_path / "out" / "summary.json"),
        "TRAIN_REGISTERED_MODEL": "fraud-model", "MLFLOW_EXPERIMENT_NAME": "fraud-runs", "TRAIN_ALIAS": "staging",
    }
    config = parse_config(["--epochs", "3", "--no-force-promote", "--alias", "production"], environ)
    assert (config.registered_model, config.experiment, config.alias) == ("fraud-model", "fraud-runs", "production")
    assert config.tracking_uri == "http://mlflow-server.mlflow.svc.cluster.local:8080"
    assert (config.epochs, config.batch_size, config.optimizer, config.force_promote) == (3, 1024, "sgd", False)
    assert config.summary_file == tmp_path / "out" / "summary.json"
    assert config.threshold_policy == ThresholdPolicy("precision", 0.9)
    flag = parse_config(["--threshold-policy", "FIXED:0.995"], environ)
    assert flag.threshold_policy == ThresholdPolicy("fixed", 0.995)
    both = parse_config([], {**environ, "MLFLOW_TRACKING_URI": "https://mlflow.example.org"})
    assert both.tracking_uri == "https://mlflow.example.org"


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--epochs", "0"], REQUIRED, "--epochs: expected a whole number from 1 to 10_000, got '0'"),
        ([], {**REQUIRED, "TRAIN_EPOCHS": "two"}, "environment variable TRAIN_EPOCHS: expected a whole number, got 'two'"),
        (["--threshold-policy", "precision:1.5"], REQUIRED,
         "--threshold-policy: expected a threshold policy f1, precision:P, recall:R (P, R in (0, 1]) or fixed:T "
         "(T in (0, 1)), got 'precision:1.5'"),
        ([], {**REQUIRED, "TRAIN_THRESHOLD_POLICY": "best"}, "environment variable TRAIN_THRESHOLD_POLICY: expected a "
         "threshold policy f1, precision:P, recall:R (P, R in (0, 1]) or fixed:T (T in (0, 1)), got 'best'"),
        (["--threshold=0.995"], REQUIRED,  # the old flag: argparse takes it for --threshold-policy
         "--threshold-policy: expected a threshold policy f1, precision:P, recall:R (P, R in (0, 1]) or fixed:T "
         "(T in (0, 1)), got '0.995' (a fixed threshold is written fixed:0.995)"),
        ([], {**REQUIRED, "TRAIN_THRESHOLD": "0.995"},  # the old variable: refused, not ignored
         "environment variable TRAIN_THRESHOLD='0.995' is no longer read: use TRAIN_THRESHOLD_POLICY (a fixed "
         "threshold T is written fixed:T)"),
        (["--learning-rate", "nan"], REQUIRED, "--learning-rate: expected a number between 0 and 10"),
        (["--optimizer", "rmsprop"], REQUIRED, "--optimizer: expected one of adam, sgd, got 'rmsprop'"),
        (["--alias", "latest"], REQUIRED, "--alias: expected an alias of letters"),
        (["--alias", "v2"], REQUIRED, "got 'v2'"),
        (["--promotion-metric", "accuracy"], REQUIRED, "expected one of pr_auc, roc_auc, got 'accuracy'"),
        (["--promotion-metric", "f1"], REQUIRED, "--promotion-metric: expected one of pr_auc, roc_auc, got 'f1'"),
        ([], {**REQUIRED, "TRAIN_FORCE_PROMOTE": "maybe"}, "TRAIN_FORCE_PROMOTE: expected true or false, got 'maybe'"),
        (["--drift", "1.5"], REQUIRED, "--drift: expected a number from 0 to 1, got '1.5'"),
        ([], {**REQUIRED, "TRAIN_LABEL_NOISE": "0.9"}, "TRAIN_LABEL_NOISE: expected a number from 0 to 0.45, got '0.9'"),
        (["--promotion-min-gain", "-0.1"], REQUIRED, "--promotion-min-gain: expected a number from 0 to 0.5, got '-0.1'"),
        ([], {}, "no tracking server: set MLFLOW_TRACKING_URI (or MLFLOW_ROUTE) or pass --tracking-uri"),
        ([], {"MLFLOW_ROUTE": "mlflow-server:8080"}, "environment variable MLFLOW_ROUTE: expected an MLflow tracking URI"),
        (["--tracking-uri", "http://"], {}, "--tracking-uri: expected an MLflow tracking URI"),
        (["--artifacts-destination", "bucket/prefix"], REQUIRED, "expected s3://bucket/ or s3://bucket/prefix/"),
        (["--ca-bundle", "/nonexistent/ca.pem"], REQUIRED, "--ca-bundle: expected an existing file"),
        (["--summary-file", "/dev/null/summary.json"], REQUIRED, "/dev/null is not a writable directory"),
        (["--registered-model", "a/b"], REQUIRED, "expected a name of 1-256 printable characters without '/'"),
        (["--validation-fraction", "0.45", "--test-fraction", "0.45"], REQUIRED, "leave too little to train on"),
        (["--rows", "10"], REQUIRED, "--rows: expected a whole number from 100 to 1_000_000_000, got '10'"),
        (["--rows", str(10**12)], REQUIRED, "--rows: expected a whole number from 100 to 1_000_000_000"),
        (["--batch-size", str(10**12)], REQUIRED, "--batch-size: expected a whole number from 1 to 1_048_576"),
        (["--epochs", str(10**9)], REQUIRED, "--epochs: expected a whole number from 1 to 10_000"),
        (["--seed", "-1"], REQUIRED, "--seed: expected a whole number from 0 to 4_294_967_295, got '-1'"),
        ([], {**REQUIRED, "TRAIN_REGISTERED_MODEL": ""},
         "--registered-model is required: pass it or set TRAIN_REGISTERED_MODEL"),
        ([], {**REQUIRED, "TRAIN_ALIAS": ""}, "--alias is required: pass it or set TRAIN_ALIAS"),
    ],
)
def test_bad_values_are_named(argv: list[str], environ: dict[str, str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """Bad flags or variables exit 2 before anything runs, naming the flag or variable and the value."""
    with pytest.raises(SystemExit) as caught:
        parse_config(argv, environ)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_help_explains_every_flag_and_its_variable() -> None:
    """``python -m train_job --help`` works without a tracking server and lists each flag with its fallback."""
    result = subprocess.run([sys.executable, "-m", "train_job", "--help"], capture_output=True, text=True,
                            timeout=60, check=True)
    text = " ".join(result.stdout.split())
    for option in OPTIONS:
        assert option.flag in text
        for name in option.env:
            assert name in text
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" in text and "Exit status" in text


def test_bad_flag_on_the_real_command_line_exits_2() -> None:
    """The installed entry point reports the bad value and exits 2 before loading TensorFlow or data."""
    result = subprocess.run([sys.executable, "-m", "train_job", "--batch-size", "-5"], capture_output=True,
                            text=True, timeout=60, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert result.returncode == 2
    assert "--batch-size: expected a whole number from 1 to 1_048_576, got '-5'" in result.stderr
