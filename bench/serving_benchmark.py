"""Serving benchmark: one registered ONNX model served three ways on this machine, under the same load.

Usage: .venv/bin/python bench/serving_benchmark.py [--seconds 10] [--requests 4000] [--no-write]

1. Starts SeaweedFS S3 and an `mlflow server` (the test suite's launchers), builds the demo's network
   (train_job's architecture, ONNX input `dense_input` FP32 [-1, 7]), logs it as train_job does and registers it.
2. Serves that registered version with our V2 server (`python -m fraud_model_server`, model pulled from the
   bucket; as configured by default, and with `--workers 2`), with `mlflow models serve --env-manager local` (the
   demo's MLflow-serving path) and calls onnxruntime in-process (the floor, same SessionOptions as our server).
   An ASGI app that answers a fixed body on the same HTTP stack gives the transport's own cost (the HTTP floor).
3. Load comes from a separate process (tests/support/http_load.py, keep-alive clients on 127.0.0.1), bounded by
   --requests and --seconds per scenario: single-row requests at 1, 4 and 16 clients, 1,000-row batches at 1, 8
   and 16 clients (JSON, and for our server also the V2 binary tensor extension, in and out). The app's client
   (fraud_app.client) runs single rows at 1 client against our server, to compare with the raw endpoint.
4. Reports p50/p99, requests/s, rows/s, the ratios, each server's CPU per request and peak memory (whole process
   tree), and writes the "Model serving" section of docs/benchmarks.md.
Targets (issue 7): single-row throughput >= 2.5x `mlflow models serve`, p99 < 2 ms at 1 client; 1,000-row
batches >= half the in-process onnxruntime rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SERVING_PYTHON = REPO / ".venv" / "serving" / "bin" / "python"
LOAD_SCRIPT = REPO / "tests" / "support" / "http_load.py"
MODEL_NAME = "credit-card-fraud"
REGISTERED = "DNN-credit-card-fraud-bench"
ROW = [5.0, 0.5, 0.9, 1.0, 1.0, 1.0, 0.0]
CLIENTS = (1, 4, 16)
BATCH_ROWS = 1000
BATCH_CLIENTS = (1, 8, 16)
# Request bodies (see bodies()) per scenario for our server, and the fragment every good answer holds.
OUR_SCENARIOS = {"row": "v2 row", "batch": "v2 batch", "binary batch": "v2 binary batch", "expect": '"outputs"'}
WORKERS = 2  # the second configuration of our server: --workers 2 (one process per core here)


# ---- parts that run in child processes -------------------------------------------------------------------------

def register_model(tracking_uri: str, out: Path) -> None:
    """(child, .venv) Build the demo network, log it as train_job does, register it; write the version's info."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import mlflow
    import numpy as np
    from mlflow import MlflowClient

    from train_job.model import build_model
    from train_job.onnx_export import to_onnx
    from train_job.tracking import log_onnx_model

    features = np.random.default_rng(0).lognormal(size=(5000, 7)).astype(np.float32)
    proto = to_onnx(build_model(features))
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(REGISTERED)
    with mlflow.start_run():
        info = log_onnx_model(proto, features[:2])
    version = mlflow.register_model(info.model_uri, REGISTERED).version
    download_uri = MlflowClient().get_model_version_download_uri(REGISTERED, version)
    out.write_text(json.dumps({"version": str(version), "download_uri": download_uri}))


def floor(model_file: str, seconds: float, out: Path) -> None:
    """(child, .venv/serving) onnxruntime in-process with our server's SessionOptions: single rows and batches."""
    import numpy as np
    import onnxruntime as ort

    from fraud_model_server.runtime import session_options

    session = ort.InferenceSession(model_file, sess_options=session_options(1), providers=["CPUExecutionProvider"])
    results = {}
    for rows in (1, BATCH_ROWS):
        feed = {"dense_input": np.random.default_rng(1).uniform(0, 20, size=(rows, 7)).astype(np.float32)}
        for _ in range(100):
            session.run(None, feed)
        latencies = []
        deadline = time.perf_counter() + seconds / 2
        while time.perf_counter() < deadline and len(latencies) < 20000:
            started = time.perf_counter()
            session.run(None, feed)
            latencies.append(time.perf_counter() - started)
        latencies.sort()
        results[rows] = {"calls": len(latencies), "p50_ms": latencies[len(latencies) // 2] * 1e3,
                         "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
                         "calls_per_s": len(latencies) / sum(latencies)}
    out.write_text(json.dumps(results))


def app_client(base_url: str, requests: int, seconds: float, out: Path) -> None:
    """(child, .venv) fraud_app's V2Client: single-row predictions, one after the other, on one pooled client."""
    from fraud_app.client import V2Client

    latencies = []
    with V2Client(base_url, MODEL_NAME) as client:
        for _ in range(200):
            client.predict([ROW])
        deadline = time.perf_counter() + seconds
        while len(latencies) < requests and time.perf_counter() < deadline:
            started = time.perf_counter()
            client.predict([ROW])
            latencies.append(time.perf_counter() - started)
    latencies.sort()
    out.write_text(json.dumps({"ok": len(latencies), "requests_per_s": len(latencies) / sum(latencies),
                               "p50_ms": latencies[len(latencies) // 2] * 1e3,
                               "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3}))


# ---- the benchmark process ---------------------------------------------------------------------------------------

def child(python: Path, *args: str) -> Any:
    """Run one of the child parts above in a fresh process; return what it wrote."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([str(python), __file__, *args, out.name], check=True, cwd=REPO)
        return json.loads(Path(out.name).read_text())


class TreeMonitor:
    """CPU seconds and peak resident memory of a server's whole process tree, sampled every 100 ms (lightly, as the
    sampler shares the cores with the server and the load)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _tree(self) -> list[Any]:
        return [self._root, *self._root.children(recursive=True)]

    def cpu_s(self) -> float:
        """User + system CPU seconds used so far by the tree."""
        total = 0.0
        for process in self._tree():
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except Exception:  # noqa: BLE001 - a worker that exited between listing and reading
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            rss = 0
            for process in self._tree():
                try:
                    rss += process.memory_info().rss
                except Exception:  # noqa: BLE001
                    pass
            self.peak_rss = max(self.peak_rss, rss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def load(url: str, body: bytes, clients: int, requests: int, seconds: float, monitor: TreeMonitor,
         content_type: str = "application/json", expect: str = "", header: str | None = None) -> dict[str, Any]:
    """Run the load generator in its own process; add the server's CPU per request."""
    with tempfile.NamedTemporaryFile(suffix=".body") as body_file:
        Path(body_file.name).write_bytes(body)
        cpu_before = monitor.cpu_s()
        completed = subprocess.run(
            [str(SERVING_PYTHON), str(LOAD_SCRIPT), "--url", url, "--body-file", body_file.name, "--clients",
             str(clients), "--requests", str(requests), "--seconds", str(seconds), "--warmup", "100",
             "--content-type", content_type, "--expect-fragment", expect, *(["--header", header] if header else [])],
            check=True, capture_output=True, text=True)
        cpu = monitor.cpu_s() - cpu_before
    result = json.loads(completed.stdout)
    result["cpu_ms_per_request"] = cpu * 1e3 / max(result["ok"], 1)
    if result["errors"]:
        raise RuntimeError(f"errors under load against {url}: {result['errors']}")
    return result


def bodies() -> dict[str, tuple[Any, ...]]:
    """Request bodies: (bytes, content type[, length of the JSON header of a binary request]) per kind."""
    import numpy as np

    batch = np.random.default_rng(1).uniform(0, 20, size=(BATCH_ROWS, 7)).round(3).astype(np.float32)

    def v2(rows: Any, shape: list[int]) -> bytes:
        return json.dumps({"inputs": [{"name": "dense_input", "shape": shape, "datatype": "FP32",
                                       "data": rows}]}).encode()

    raw = batch.astype("<f4").tobytes()
    header = json.dumps({"inputs": [{"name": "dense_input", "shape": [BATCH_ROWS, 7], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    return {
        "v2 row": (v2(ROW, [1, 7]), "application/json"),
        "v2 batch": (v2(batch.ravel().tolist(), [BATCH_ROWS, 7]), "application/json"),
        "v2 binary batch": (header + raw, "application/octet-stream", len(header)),
        "mlflow row": (json.dumps({"inputs": {"dense_input": [ROW]}}).encode(), "application/json"),
        "mlflow batch": (json.dumps({"inputs": {"dense_input": batch.tolist()}}).encode(), "application/json"),
    }


def binary_answer_size(url: str, payload: tuple[Any, ...]) -> int:
    """Byte size of our server's answer to the binary batch request (the HTTP floor answers as much)."""
    import urllib.request

    body, content_type, header_length = payload
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type,
                                                              "Inference-Header-Content-Length": str(header_length)})
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(response.read())


@contextmanager
def mlflow_serving(tracking_uri: str, version: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """`mlflow models serve --env-manager local` of the registered version; yields (base url, pid)."""
    from support.ports import LOOPBACK, free_port
    from support.processes import child_env, start_logged, stop_process_tree, wait_until_ready

    import urllib.request

    port = free_port()
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/{REGISTERED}/{version}",
               "--env-manager", "local", "-h", LOOPBACK, "-p", str(port)]
    env = child_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
                     "MLFLOW_TRACKING_URI": tracking_uri, "HOME": str(workdir)})
    log_file = workdir / "mlflow-models-serve.log"
    process = start_logged(command, log_file, env, cwd=workdir)
    url = f"http://{LOOPBACK}:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    try:
        wait_until_ready(process, ready, "mlflow models serve", log_file, 180)
        yield url, process.pid
    finally:
        stop_process_tree(process)


def measure_server(name: str, url: str, pid: int, kinds: dict[str, str], args: argparse.Namespace,
                   payloads: dict[str, Any]) -> dict[str, Any]:
    """Every scenario against one server; returns the results and the server's peak RSS."""
    monitor = TreeMonitor(pid)
    results: dict[str, Any] = {}
    try:
        row_body, row_type = payloads[kinds["row"]]
        for clients in CLIENTS:
            results[f"row x{clients}"] = load(url, row_body, clients, args.requests, args.seconds, monitor,
                                              row_type, kinds["expect"])
            print(name, f"row x{clients}", results[f"row x{clients}"], flush=True)
        for scenario in ("batch", "binary batch"):
            if scenario not in kinds:
                continue
            body, content_type, *header = payloads[kinds[scenario]]
            extra = f"Inference-Header-Content-Length: {header[0]}" if header else None
            for clients in BATCH_CLIENTS:
                result = load(url, body, clients, args.requests // 4, args.seconds, monitor, content_type,
                              kinds["expect"], extra)
                result["rows_per_s"] = result["requests_per_s"] * BATCH_ROWS
                results[f"{scenario} x{clients}"] = result
                print(name, scenario, f"x{clients}", result, flush=True)
    finally:
        monitor.stop()
    return {"results": results, "peak_rss_mib": monitor.peak_rss / 2**20}


def report(ours: dict[str, Any], ours_workers: dict[str, Any], mlflow_: dict[str, Any], http_floor: dict[str, Any],
           inproc: dict[str, Any], client: dict[str, Any], args: argparse.Namespace) -> str:
    """The section's Markdown."""
    o, w, m = ours["results"], ours_workers["results"], mlflow_["results"]
    floor_rows = inproc[str(BATCH_ROWS)]["calls_per_s"] * BATCH_ROWS
    lines = ["| server | load | req/s | rows/s | p50 | p99 | server CPU / request |", "|---|---|---|---|---|---|---|"]

    def row(server: str, scenario: str, result: dict[str, Any], rows: int) -> None:
        lines.append(f"| {server} | {scenario} | {result['requests_per_s']:,.0f} | "
                     f"{result['requests_per_s'] * rows:,.0f} | {result['p50_ms']:.2f} ms | {result['p99_ms']:.2f} ms | "
                     f"{result['cpu_ms_per_request']:.2f} ms |")

    def plural(clients: int) -> str:
        return f"{clients} client{'s' if clients > 1 else ''}"

    batch_kinds = (("batch", "JSON"), ("binary batch", "binary tensors in and out"))
    servers = (("ours (V2, MLServer + fast path)", o), (f"ours, `--workers {WORKERS}`", w),
               ("`mlflow models serve`", m))
    for server, results in servers:
        for clients in CLIENTS:
            row(server, f"1 row, {plural(clients)}", results[f"row x{clients}"], 1)
        for scenario, form in batch_kinds:
            for clients in BATCH_CLIENTS:
                if f"{scenario} x{clients}" in results:
                    row(server, f"{BATCH_ROWS:,} rows {form}, {plural(clients)}", results[f"{scenario} x{clients}"],
                        BATCH_ROWS)
    for clients in BATCH_CLIENTS:
        row("HTTP floor (uvicorn, fixed answer, no model)", f"{BATCH_ROWS:,}-row binary body, {plural(clients)}",
            http_floor[f"x{clients}"], BATCH_ROWS)
    single, batch = inproc["1"], inproc[str(BATCH_ROWS)]
    lines.append(f"| onnxruntime in-process (floor) | 1 row | {single['calls_per_s']:,.0f} | "
                 f"{single['calls_per_s']:,.0f} | {single['p50_ms']:.3f} ms | {single['p99_ms']:.3f} ms | |")
    lines.append(f"| onnxruntime in-process (floor) | {BATCH_ROWS:,} rows | {batch['calls_per_s']:,.0f} | "
                 f"{floor_rows:,.0f} | {batch['p50_ms']:.3f} ms | {batch['p99_ms']:.3f} ms | |")
    lines.append(f"| app client (`fraud_app.client.V2Client`) -> ours | 1 row, 1 client | "
                 f"{client['requests_per_s']:,.0f} | {client['requests_per_s']:,.0f} | {client['p50_ms']:.2f} ms | "
                 f"{client['p99_ms']:.2f} ms | |")
    ratios = [f"{o[f'row x{c}']['requests_per_s'] / m[f'row x{c}']['requests_per_s']:.1f}x" for c in CLIENTS]

    def batch_ratio(results: dict[str, Any], scenario: str, clients: int) -> float:
        return float(results.get(f"{scenario} x{clients}", {}).get("rows_per_s", 0.0)) / floor_rows

    batch_ratios = {(scenario, clients): batch_ratio(o, scenario, clients)
                    for scenario, _ in batch_kinds for clients in BATCH_CLIENTS}
    worker_ratios = {(scenario, clients): batch_ratio(w, scenario, clients)
                     for scenario, _ in batch_kinds for clients in BATCH_CLIENTS}
    candidates = [(ratio, kind, "1 worker") for kind, ratio in batch_ratios.items()]
    candidates += [(ratio, kind, f"{WORKERS} workers") for kind, ratio in worker_ratios.items()]
    best, best_kind, best_config = max(candidates)
    best_form = dict(batch_kinds)[best_kind[0]]
    p99_one = o["row x1"]["p99_ms"]
    text = "\n".join(lines)
    text += (
        f"\n\nRatios: single-row requests/s ours / mlflow at 1 / 4 / 16 clients: {' / '.join(ratios)}. "
        "1,000-row rows/s ours / in-process floor at " + " / ".join(str(c) for c in BATCH_CLIENTS) + " clients: "
        + "; ".join(f"{form} " + " / ".join(f"{batch_ratios[(scenario, c)]:.2f}" for c in BATCH_CLIENTS)
                    for scenario, form in batch_kinds)
        + f"; with `--workers {WORKERS}`: "
        + "; ".join(f"{form} " + " / ".join(f"{worker_ratios[(scenario, c)]:.2f}" for c in BATCH_CLIENTS)
                    for scenario, form in batch_kinds)
        + "; mlflow JSON " + " / ".join(f"{batch_ratio(m, 'batch', c):.2f}" for c in BATCH_CLIENTS)
        + "; the HTTP floor alone "
        + " / ".join(f"{http_floor[f'x{c}']['requests_per_s'] * BATCH_ROWS / floor_rows:.2f}" for c in BATCH_CLIENTS)
        + f". App client p50 over the raw endpoint's at 1 client: +{client['p50_ms'] - o['row x1']['p50_ms']:.2f} ms."
        f"\n\nPeak memory (whole process tree): ours {ours['peak_rss_mib']:.0f} MiB, with `--workers {WORKERS}` "
        f"{ours_workers['peak_rss_mib']:.0f} MiB, `mlflow models serve` "
        f"{mlflow_['peak_rss_mib']:.0f} MiB.\n\n"
        "| target (issue 7) | measured | met |\n|---|---|---|\n"
        f"| single-row throughput >= 2.5x `mlflow models serve` | {' / '.join(ratios)} at 1 / 4 / 16 clients | "
        f"{'yes' if all(float(r[:-1]) >= 2.5 for r in ratios) else 'no'} |\n"
        f"| p99 < 2 ms at 1 client | {p99_one:.2f} ms | {'yes' if p99_one < 2 else 'no'} |\n"
        f"| 1,000-row batches >= 0.5x in-process rows/s | {best:.2f}x (best: {best_form}, "
        f"{plural(best_kind[1])}, {best_config}) | "
        f"{'yes' if best >= 0.5 else 'no'} |\n\n"
        f"Load: tests/support/http_load.py in its own process, keep-alive connections on 127.0.0.1, at most "
        f"{args.requests} single-row / {args.requests // 4} batch requests or {args.seconds:g} s per line, "
        "after 100 warm-up requests. The model is the demo's network (train_job's architecture, untrained weights), "
        "registered in a real MLflow server and served from there by both servers. The floor runs the session with "
        "our server's SessionOptions (1 intra-op thread) on data already in memory; `--workers 2` runs two server "
        "processes (two such sessions), so read its lines next to the 1-worker ones. The HTTP floor is uvicorn with "
        "our server's settings answering a fixed body as large as our binary answer: at 1 client a 1,000-row request "
        "cannot be faster than its round trip plus the session, so the batch target is only reachable with requests "
        "in flight. The load generator shares the machine's cores with the server under test, so on a 2-core "
        "machine the multi-client lines measure both together; figures from a loaded machine are noisy, compare "
        "the ratios.\n"
    )
    return text


@contextmanager
def http_floor_server(size: int) -> Iterator[tuple[str, int]]:
    """bench/http_floor_app.py answering ``size`` bytes; yields (url, pid)."""
    from support.ports import LOOPBACK, free_port
    from support.processes import child_env, start_logged, stop_process_tree, wait_until_ready

    import socket

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-http-floor-") as tmp:
        log_file = Path(tmp) / "http-floor.log"
        process = start_logged([str(SERVING_PYTHON), str(REPO / "bench" / "http_floor_app.py"), str(port), str(size)],
                               log_file, child_env({}), cwd=Path(tmp))

        def ready() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex((LOOPBACK, port)) == 0

        try:
            wait_until_ready(process, ready, "HTTP floor app", log_file, 60)
            yield f"http://{LOOPBACK}:{port}/v2/models/{MODEL_NAME}/infer", process.pid
        finally:
            stop_process_tree(process)


def measure_http_floor(body: bytes, header_length: int, answer_size: int, args: argparse.Namespace) -> dict[str, Any]:
    """The HTTP floor with the binary batch request, at each batch client count."""
    results = {}
    with http_floor_server(answer_size) as (url, pid):
        monitor = TreeMonitor(pid)
        try:
            for clients in BATCH_CLIENTS:
                results[f"x{clients}"] = load(url, body, clients, args.requests // 4, args.seconds, monitor,
                                              "application/octet-stream", "", f"Inference-Header-Content-Length: "
                                              f"{header_length}")
                print("http floor", f"x{clients}", results[f"x{clients}"], flush=True)
        finally:
            monitor.stop()
    return results


def main() -> None:
    """Set up, measure, write the section."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per scenario")
    parser.add_argument("--requests", type=int, default=4000,
                        help="single-row requests per scenario (batches: a quarter)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from report import machine, write_section
    from support.mlflow_server import run_mlflow_server
    from support.model_server import run_model_server
    from support.s3 import run_s3_server

    machine_at_start = machine()
    payloads = bodies()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        work = Path(tmp)
        with run_s3_server(work / "s3") as s3, run_mlflow_server(s3, work / "mlflow") as tracking:
            registered = child(Path(sys.executable), "register", tracking.tracking_uri)
            folder = registered["download_uri"].split(":", 1)[1].lstrip("/")
            storage_path = f"{tracking.artifacts_destination}/{folder}"
            print("registered", registered, storage_path, flush=True)
            with run_model_server(s3.env, storage_path, work / "v2") as server:
                url = server.infer_url
                ours = measure_server("ours", url, server.process.pid, OUR_SCENARIOS, args, payloads)
                client = child(Path(sys.executable), "client", server.base_url, str(args.requests),
                               str(args.seconds))
                print("app client", client, flush=True)
                answer_size = binary_answer_size(url, payloads["v2 binary batch"])
                model_file = str(server.workdir / "model" / "model.onnx")
                inproc = child(SERVING_PYTHON, "floor", model_file, str(args.seconds))
                print("floor", inproc, flush=True)
            with run_model_server(s3.env, storage_path, work / "v2-workers",
                                  extra_args=["--workers", str(WORKERS)]) as server:
                ours_workers = measure_server(f"ours x{WORKERS} workers", server.infer_url, server.process.pid,
                                              OUR_SCENARIOS, args, payloads)
            body, _, header_length = payloads["v2 binary batch"]
            http_floor = measure_http_floor(body, header_length, answer_size, args)
            with mlflow_serving(tracking.tracking_uri, registered["version"], work) as (base, pid):
                mlflow_ = measure_server("mlflow", f"{base}/invocations", pid,
                                         {"row": "mlflow row", "batch": "mlflow batch", "expect": "predictions"},
                                         args, payloads)
    body = report(ours, ours_workers, mlflow_, http_floor, inproc, client, args)
    body += f"\nMachine at the start of the run: {machine_at_start}; load average at the end: " + \
        ", ".join(f"{x:.2f}" for x in os.getloadavg()) + ".\n"
    print(body)
    if not args.no_write:
        print(write_section("serving", "Model serving", body))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("register", "floor", "client"):
        part, *rest = sys.argv[1:]
        {"register": lambda: register_model(rest[0], Path(rest[1])),
         "floor": lambda: floor(rest[0], float(rest[1]), Path(rest[2])),
         "client": lambda: app_client(rest[0], int(rest[1]), float(rest[2]), Path(rest[3]))}[part]()
    else:
        main()
