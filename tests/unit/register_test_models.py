"""Register the model versions the module tests look up, the way the training job does (``mlflow.onnx``).

Run as a script (``python register_test_models.py <tracking-uri> <model-name> <empty-model-name> <out.json>``)
so that MLflow's process-wide tracking state never leaks into the test session. Writes what it made as JSON:
``{"experiment_id": ..., "versions": {"1": {"run_id": ..., "model_id": ..., "metrics": {...}}, "2": ...}}``.
Version 1 gets the alias ``champion`` and the tag ``validation=passed``; the empty model gets no version.
"""

import json
import sys
from pathlib import Path

import mlflow
from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.onnx_models import logistic_model  # noqa: E402 (needs the path above)

RUN_METRICS = ({"roc_auc": 0.91, "accuracy": 0.88}, {"roc_auc": 0.95, "accuracy": 0.93})


def register(tracking_uri: str, model_name: str, empty_model_name: str) -> dict[str, object]:
    """Log two ONNX models in two runs, register both as versions 1 and 2, and describe the result."""
    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = mlflow.set_experiment(f"{model_name}-experiment").experiment_id
    versions = {}
    for metrics in RUN_METRICS:
        with mlflow.start_run() as run:
            mlflow.log_metrics(metrics)
            logged = mlflow.onnx.log_model(
                logistic_model(), name="model", registered_model_name=model_name, pip_requirements=["onnxruntime"]
            )
        versions[str(logged.registered_model_version)] = {
            "run_id": run.info.run_id,
            "model_id": logged.model_id,
            "metrics": metrics,
        }
    client = MlflowClient(tracking_uri)
    client.set_registered_model_alias(model_name, "champion", "1")
    client.set_model_version_tag(model_name, "1", "validation", "passed")
    client.create_registered_model(empty_model_name)
    return {"experiment_id": experiment_id, "versions": versions}


if __name__ == "__main__":
    Path(sys.argv[4]).write_text(json.dumps(register(*sys.argv[1:4])))
