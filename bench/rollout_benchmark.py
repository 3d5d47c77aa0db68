"""Rollout benchmark: switch the local model server from version 1 to version 2 under 16 keep-alive clients, the
way the model_serving role does (serving spec + `python -m fraud_model_server.switch`), against the alternative a
supervisor offers (restart the server with the new model), in the same run.

Usage: .venv/bin/python bench/rollout_benchmark.py [--rounds 5] [--no-write]

Starts SeaweedFS S3 (the test suite's launcher), uploads two models of the demo's interface, starts our V2 server
from a serving spec (`--workers 1` and `--workers 2`), and per round: 16 clients send single rows
(tests/support/http_load.py, answers counted by `model_version`) while a probe on fresh connections notes when
version 2 first answers; the rollout is timed from the decision (the spec written, switch started) to the first
answer of version 2 and to the switch returning (every process serves it). Then the same with a restart (SIGTERM,
start again on version 2, wait for /ready). Writes the "Model rollout" section of docs/benchmarks.md.
Target (issue 17): under 5 s from decision to the new version answering, 0 failed requests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from report import publish  # noqa: E402
from support.model_server import SERVING_PYTHON, run_model_server, upload_model  # noqa: E402
from support.onnx_models import (  # noqa: E402
    INPUT_NAME,
    NORMAL_TRANSACTION,
    WEIGHTS,
    logistic_model,
    write_logistic_model,
)
from support.processes import stop_process_tree  # noqa: E402
from support.s3 import run_s3_server  # noqa: E402

LOAD_SCRIPT = REPO / "tests" / "support" / "http_load.py"
CLIENTS = 16
ROW = {"inputs": [{"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32", "data": NORMAL_TRANSACTION}]}


class Probe(threading.Thread):
    """Asks on a fresh connection every 10 ms which version answers; notes when ``wanted`` first does."""

    def __init__(self, url: str, wanted: str) -> None:
        super().__init__(daemon=True)
        self.url, self.wanted = url, wanted
        self.first_seen: float | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set() and self.first_seen is None:
            try:
                version = requests.post(self.url, json=ROW, timeout=5).json().get("model_version")
            except (requests.RequestException, ValueError):
                version = None
            if version == self.wanted:
                self.first_seen = time.monotonic()
            time.sleep(0.01)


def start_load(url: str, body: Path, stop: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(LOAD_SCRIPT), "--url", url, "--body-file", str(body), "--clients", str(CLIENTS),
         "--requests", "100000000", "--seconds", "120", "--tally-field", "model_version",
         "--expect-fragment", '"outputs"', "--stop-file", str(stop)],
        stdout=subprocess.PIPE, text=True,
    )


def one_round(s3: Any, published: dict[str, dict[str, str]], workdir: Path, workers: int, way: str) -> dict[str, Any]:
    """Serve version 1, load it, roll out version 2 by ``way`` (switch or restart); what the clients saw."""
    spec = workdir / "spec.json"
    spec.write_text(json.dumps({**published["1"], "version": "1"}))
    body, stop = workdir / "row.json", workdir / "stop"
    body.write_text(json.dumps(ROW))
    stop.unlink(missing_ok=True)
    workers_args = ("--workers", str(workers))
    with run_model_server(s3.env, f"spec:{spec}", workdir, extra_args=workers_args) as server:
        load = start_load(server.infer_url, body, stop)
        time.sleep(2.0)
        probe = Probe(server.infer_url, "2")
        probe.start()
        decided = time.monotonic()
        spec.write_text(json.dumps({**published["2"], "version": "2"}))
        if way == "switch":
            subprocess.run([str(SERVING_PYTHON), "-m", "fraud_model_server.switch", "--workdir",
                            str(workdir / "model"), "--serving-spec", str(spec)], check=True, capture_output=True)
            settled = time.monotonic()
            restarted = None
        else:
            stop_process_tree(server.process)
            port = int(server.base_url.rsplit(":", 1)[1])  # the same port: what the clients use
            restarted = run_model_server(s3.env, f"spec:{spec}", workdir, extra_args=workers_args, port=port)
            restarted.__enter__()
            settled = time.monotonic()
        probe.join(timeout=30)
        time.sleep(2.0)
        stop.touch()
        summary = json.loads(load.communicate(timeout=120)[0])
        probe.done.set()
        if restarted is not None:
            restarted.__exit__(None, None, None)
    return {
        "to_first_answer_s": (probe.first_seen - decided) if probe.first_seen else None,
        "to_settled_s": settled - decided,
        "failed": sum(summary["errors"].values()),
        "errors": summary["errors"],
        "by_version": summary["by_field"],
        "p99_ms": summary["p99_ms"],
        "max_ms": summary["max_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="rollout-bench-") as folder, run_s3_server(Path(folder) / "s3") as s3:
        models = Path(folder) / "models"
        published = {}
        for version, model in (("1", logistic_model()), ("2", logistic_model(WEIGHTS * 1.5))):
            path = write_logistic_model(models / version / "model.onnx", model)
            published[version] = {"storage_path": upload_model(s3, path),
                                  "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        for workers in (1, 2):
            for way in ("switch", "restart"):
                for index in range(args.rounds):
                    workdir = Path(folder) / f"{way}-{workers}-{index}"
                    workdir.mkdir()
                    outcome = one_round(s3, published, workdir, workers, way)
                    print(f"bench: {way} --workers {workers} round {index + 1}: {outcome}", file=sys.stderr)
                    results.setdefault((way, workers), []).append(outcome)
    lines = [
        f"Version 1 -> 2 of a model of the demo's interface under {CLIENTS} keep-alive clients sending single rows "
        f"(tests/support/http_load.py), {args.rounds} rounds each; \"first answer\" is the decision (spec written) to "
        "the first answer of version 2 on a fresh connection, \"settled\" to the switch returning (every process "
        "serves it) or the restarted server being ready.",
        "",
        "| how | workers | first answer, median (max) | settled, median | failed requests, all rounds (each retry "
        "of a refused connection counts) "
        "| answers v1 / v2 | p99 / max latency under the switch |",
        "|---|---|---|---|---|---|---|",
    ]
    for (way, workers), outcomes in results.items():
        firsts = [o["to_first_answer_s"] for o in outcomes if o["to_first_answer_s"] is not None]
        failed = sum(o["failed"] for o in outcomes)
        kinds = {kind for o in outcomes for kind in o["errors"]}
        v1 = sum(o["by_version"].get("1", 0) for o in outcomes)
        v2 = sum(o["by_version"].get("2", 0) for o in outcomes)
        first = f"{statistics.median(firsts):.2f} s ({max(firsts):.2f} s)" if firsts else "never"
        lines.append(
            f"| {'serving spec + switch (model_serving)' if way == 'switch' else 'restart on the new spec'} | "
            f"{workers} | {first} | {statistics.median(o['to_settled_s'] for o in outcomes):.2f} s | "
            f"{failed}{' (' + ', '.join(sorted(kinds)) + ')' if kinds else ''} | {v1:,} / {v2:,} | "
            f"{max(o['p99_ms'] for o in outcomes):.1f} / {max(o['max_ms'] for o in outcomes):.0f} ms |")
    lines += ["", f"Benchmark wall time: {(time.monotonic() - started) / 60:.1f} min. "
              "Rerun: `.venv/bin/python bench/rollout_benchmark.py`."]
    publish("model-rollout", "Model rollout (issue 17)", "\n".join(lines), write=not args.no_write)


if __name__ == "__main__":
    main()
