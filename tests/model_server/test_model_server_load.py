"""Under 50 concurrent keep-alive clients for 30 s the server makes no errors, keeps its memory bounded and still
answers health checks, during the load and after it."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import requests
from support.model_server import V2ModelServer
from support.onnx_models import INPUT_NAME, NORMAL_TRANSACTION

LOAD_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "http_load.py"
CLIENTS = 50
SECONDS = 30
MAX_REQUESTS = 1_000_000  # the time limit ends the run first
MEMORY_GROWTH_BOUND_MIB = 64  # resident memory may grow by at most this much over the warmed-up server's
HEALTH_TIMEOUT_S = 2.0


def tree_rss(pid: int) -> int:
    """Resident bytes of the server process and its children."""
    root = psutil.Process(pid)
    return sum(process.memory_info().rss for process in [root, *root.children(recursive=True)])


def test_fifty_clients_for_thirty_seconds(v2_model_server: V2ModelServer, tmp_path: Path) -> None:
    body = tmp_path / "row.json"
    body.write_text(json.dumps({"inputs": [{"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32",
                                            "data": NORMAL_TRANSACTION}]}))
    for _ in range(300):  # warm up before the memory baseline
        assert requests.post(v2_model_server.infer_url, data=body.read_bytes(), timeout=5).status_code == 200
    baseline = tree_rss(v2_model_server.process.pid)

    load = subprocess.Popen(
        [sys.executable, str(LOAD_SCRIPT), "--url", v2_model_server.infer_url, "--body-file", str(body),
         "--clients", str(CLIENTS), "--requests", str(MAX_REQUESTS), "--seconds", str(SECONDS),
         "--expect-fragment", '"outputs"'],
        stdout=subprocess.PIPE, text=True,
    )
    health: list[int | str] = []
    peak = baseline
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        with requests.Session() as session:
            while not stop.wait(1.0):
                try:
                    health.append(session.get(f"{v2_model_server.base_url}/v2/health/ready",
                                              timeout=HEALTH_TIMEOUT_S).status_code)
                except requests.RequestException as error:
                    health.append(type(error).__name__)
                peak = max(peak, tree_rss(v2_model_server.process.pid))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        stdout, _ = load.communicate(timeout=SECONDS + 60)
    finally:
        stop.set()
        watcher.join()
        if load.poll() is None:
            load.kill()
    summary = json.loads(stdout)

    assert load.returncode == 0
    assert summary["errors"] == {}, summary
    assert summary["ok"] >= CLIENTS * 20, summary
    assert len(health) >= SECONDS // 2 and set(health) == {200}, health
    growth_mib = (peak - baseline) / 2**20
    assert growth_mib <= MEMORY_GROWTH_BOUND_MIB, f"resident memory grew by {growth_mib:.0f} MiB under load"
    time.sleep(0.5)
    assert v2_model_server.process.poll() is None
    assert requests.get(f"{v2_model_server.base_url}/v2/health/live", timeout=5).status_code == 200
    assert requests.get(f"{v2_model_server.base_url}/v2/health/ready", timeout=5).status_code == 200
    after = requests.post(v2_model_server.infer_url, data=body.read_bytes(), timeout=5)
    assert after.status_code == 200 and after.json()["outputs"][0]["data"][0] < 0.5
