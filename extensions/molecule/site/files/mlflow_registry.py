"""Stand-in for MLflow's model registry REST API on 127.0.0.1, for the site scenario.

The test control plane runs no pods, so the MLflow Deployment never serves; model_artifact asks this instead
(model_artifact_tracking_uri). It answers the read-only endpoints fraud_demo.mlops.mlflow_model_info calls
for one registered model with one version behind alias `champion`, laid out as MLflow 3 does
(`<experiment>/models/m-<id>/artifacts`). It writes its URL to --url-file and exits when --watch (the control
plane's pidfile) disappears, so the scenario's destroy stops it too.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MODEL = "DNN-credit-card-fraud"
MODEL_ID = "m-5f0c2a9b7d1e4c3a8b6f0e1d2c3b4a59"
RUN_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
VERSION = {
    "name": MODEL,
    "version": "1",
    "status": "READY",
    "run_id": RUN_ID,
    "source": f"models:/{MODEL_ID}",
    "model_id": MODEL_ID,
    "aliases": ["champion"],
    "tags": [],
    "creation_timestamp": 1767225600000,
}
ANSWERS = {
    "registered-models/get": {
        "registered_model": {"name": MODEL, "latest_versions": [VERSION], "aliases": [{"alias": "champion", "version": "1"}]}
    },
    "registered-models/alias": {"model_version": VERSION},
    "model-versions/get": {"model_version": VERSION},
    "model-versions/get-download-uri": {"artifact_uri": f"mlflow-artifacts:/1/models/{MODEL_ID}/artifacts"},
    "runs/get": {"run": {"info": {"run_id": RUN_ID}, "data": {"metrics": [{"key": "auc", "value": 0.99}]}}},
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        endpoint = parts.path.removeprefix("/api/2.0/mlflow/")
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        known = (
            endpoint in ANSWERS
            and query.get("name", MODEL) == MODEL
            and query.get("alias", "champion") == "champion"
            and query.get("version", "1") == "1"
        )
        status, body = (200, ANSWERS[endpoint]) if known else (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": self.path})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url-file", required=True)
    parser.add_argument("--watch", required=True, help="exit when this file is gone")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = args.url_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as url_file:
        url_file.write(f"http://127.0.0.1:{server.server_address[1]}\n")
    os.replace(tmp, args.url_file)
    while os.path.exists(args.watch):
        time.sleep(1)
    server.shutdown()
    os.unlink(args.url_file)


if __name__ == "__main__":
    main()
