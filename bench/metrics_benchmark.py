"""Metrics benchmark: what the model server's Prometheus metrics and payload log (fraud_model_server/metrics.py,
payload.py) cost per request.

Usage: .venv/bin/python bench/metrics_benchmark.py [--rounds 5] [--seconds 4] [--no-write]

Serves the demo's network (train_job's architecture, untrained weights, ONNX input `dense_input`) from a real
SeaweedFS bucket twice at once, as the demo runs it (metrics on, payload log of every row to the bucket) and with
`--no-metrics` and no payload log, and sends the same load to each in turn, alternating A/B for --rounds rounds so that the machine's
other load weighs on both alike: single rows at 1 and 16 clients, 1,000-row JSON batches at 1 client
(tests/support/http_load.py in its own process, keep-alive on 127.0.0.1). Reports the medians of requests/s and of
the server's CPU per request (its whole process tree) and the cost of the metrics in percent, and writes the
"Metrics" section of docs/benchmarks.md. Target (issue 18): under 5 % of single-row throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving_benchmark import REPO, SERVING_PYTHON, TreeMonitor, bodies, load  # noqa: E402 - the bench folder on the path first

# The servers compared: nothing counted, metrics (the default), metrics and the payload log (as the demo runs it).
SIDES = {"off": ["--no-metrics"], "metrics": [], "both": ["--payload-log-prefix", "bench-payloads"]}
LABELS = {"off": "off (`--no-metrics`)", "metrics": "metrics (default)", "both": "metrics + payload log of every row"}
SCENARIOS = (("1 row, 1 client", "v2 row", 1), ("1 row, 16 clients", "v2 row", 16),
             ("1,000 rows JSON, 1 client", "v2 batch", 1))


def export(out: Path) -> None:
    """(child, .venv) The demo network as train_job exports it, untrained."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from train_job.model import build_model
    from train_job.onnx_export import to_onnx

    import numpy as np

    out.parent.mkdir(parents=True, exist_ok=True)
    model = build_model(np.zeros((2, 7), dtype=np.float32) + np.arange(2, dtype=np.float32)[:, None])
    out.write_bytes(to_onnx(model).SerializeToString())


def calls(out: Path) -> None:
    """(child, serving env) The counting alone, per request: status and latency, then one row's or 1,000 rows' scores
    (best of 5 runs of 20,000 calls), and a scrape."""
    import timeit

    import numpy as np
    from fraud_model_server.metrics import ServingMetrics
    from fraud_model_server.payload import PayloadLog, PayloadSettings

    with tempfile.TemporaryDirectory() as folder:
        metrics = ServingMetrics(Path(folder), 0.5)
        one, batch = np.array([[0.7]], dtype=np.float32), np.random.default_rng(1).random((1000, 1), dtype=np.float32)

        def best(statement: Any) -> float:
            return min(timeit.repeat(statement, number=20_000, repeat=5)) / 20_000 * 1e6

        log = PayloadLog(PayloadSettings("bucket", "prefix", "model", batch_rows=10**9), client=lambda: None)
        rows = np.zeros((1, 7), dtype=np.float32)
        figures = {"request_us": best(lambda: metrics.request(200, 0.0003)),
                   "payload_one_row_us": best(lambda: log.record(rows, one, "1")),
                   "one_row_us": best(lambda: metrics.scores(one)),
                   "batch_1000_us": best(lambda: metrics.scores(batch)),
                   "scrape_us": min(timeit.repeat(lambda: metrics.render({"1": 2}), number=200, repeat=5)) / 200 * 1e6}
    out.write_text(json.dumps(figures))


def measure(args: argparse.Namespace) -> dict[str, dict[str, list[dict[str, Any]]]]:
    sys.path.insert(0, str(REPO / "tests"))
    from support.model_server import run_model_server, upload_model
    from support.s3 import run_s3_server

    payloads = bodies()
    results: dict[str, dict[str, list[dict[str, Any]]]] = {name: {side: [] for side in SIDES} for name, _, _ in SCENARIOS}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        work = Path(tmp)
        model_file = work / "model" / "model.onnx"
        subprocess.run([sys.executable, __file__, "export", str(model_file)], check=True, cwd=REPO)
        with run_s3_server(work / "s3") as s3:
            storage_path = upload_model(s3, model_file)
            with run_model_server(s3.env, storage_path, work / "off", extra_args=SIDES["off"]) as off, \
                    run_model_server(s3.env, storage_path, work / "metrics", extra_args=SIDES["metrics"]) as on, \
                    run_model_server(s3.env, storage_path, work / "both", extra_args=SIDES["both"]) as both:
                servers = {side: (server, TreeMonitor(server.process.pid))
                           for side, server in (("off", off), ("metrics", on), ("both", both))}
                for round_index in range(args.rounds):
                    for name, kind, clients in SCENARIOS:
                        body, content_type = payloads[kind][:2]
                        order = list(SIDES)[round_index % 3:] + list(SIDES)[:round_index % 3]  # rotated each round
                        for side in order:
                            server, monitor = servers[side]
                            requests = args.requests if kind == "v2 row" else args.requests // 4
                            result = load(server.infer_url, body, clients, requests, args.seconds, monitor,
                                          content_type=content_type, expect='"outputs"')
                            results[name][side].append(result)
                            print(f"round {round_index + 1} {name} {side}: {result["requests_per_s"]:.0f} req/s, "
                                  f"{result['cpu_ms_per_request']:.3f} ms CPU/request", flush=True)
                for _, monitor in servers.values():
                    monitor.stop()
    return results


def report(results: dict[str, dict[str, list[dict[str, Any]]]], args: argparse.Namespace) -> str:
    lines = ["| load | server | req/s (median) | server CPU / request (median) | cost: req/s, CPU |", "|---|---|---|---|---|"]
    verdicts = []
    for name, sides in results.items():
        rps = {side: statistics.median(r["requests_per_s"] for r in runs) for side, runs in sides.items()}
        cpu = {side: statistics.median(r["cpu_ms_per_request"] for r in runs) for side, runs in sides.items()}
        for side in SIDES:
            cost = "" if side == "off" else (f"{100 * (1 - rps[side] / rps['off']):+.1f} % / "
                                             f"{100 * (cpu[side] / cpu['off'] - 1):+.1f} %")
            lines.append(f"| {name} | {LABELS[side]} | {rps[side]:,.0f} | {cpu[side]:.3f} ms | {cost} |")
        if name.startswith("1 row"):
            verdicts.append(f"{name}: metrics {100 * (1 - rps['metrics'] / rps['off']):+.1f} %, with the payload "
                            f"log {100 * (1 - rps['both'] / rps['off']):+.1f} % req/s")
    return ("\n".join(lines) + "\n\n"
            + f"Target: the metrics cost under 5 % of single-row throughput. Measured: {'; '.join(verdicts)}. A cost "
            "below zero is noise: the three servers run side by side and take the load in turn (the order rotated "
            "each round), "
            f"{args.rounds} rounds of at most {args.requests} single-row / {args.requests // 4} batch requests or "
            f"{args.seconds:g} s each, after 100 warm-up requests; the medians are shown. What is counted per "
            "request: the status and the latency (two slot updates in the process's shared-memory file), the rows, "
            "the score's bucket and the flagged count (one row: plain Python; a batch: one searchsorted and "
            "bincount), and the payload log's copy of the rows into its buffer (the writer thread turns them into "
            "JSON and writes them). The model is the demo's network, untrained, served from a real SeaweedFS bucket.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="time limit per load")
    parser.add_argument("--requests", type=int, default=4000, help="single-row requests per load (batches: a quarter)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from report import machine, publish

    machine_at_start = machine()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([str(SERVING_PYTHON), __file__, "calls", out.name], check=True, cwd=REPO)
        counted = json.loads(Path(out.name).read_text())
    body = report(measure(args), args)
    body += (f"\nThe counting alone (in the server's environment, best of 5 x 20,000 calls): status and latency "
             f"{counted['request_us']:.2f} us, one row's score {counted['one_row_us']:.2f} us, 1,000 rows' scores "
             f"{counted['batch_1000_us']:.1f} us per request, the payload log's one row {counted['payload_one_row_us']:.2f} us; "
             f"a scrape {counted['scrape_us']:.0f} us.\n")
    end_load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    publish("metrics", "Metrics", f"{body}\nAt the start: {machine_at_start}; load average at the end {end_load}.\n",
            write=not args.no_write)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("export", "calls"):
        {"export": export, "calls": calls}[sys.argv[1]](Path(sys.argv[2]))
    else:
        main()
