"""``python -m train_job.payload_receiver`` as a process on free 127.0.0.1 ports (the OpenShift payload log's
receiver), for the receiver's own tests and the app's drift-report tests."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from support.ports import LOOPBACK, free_port
from support.processes import child_env, start_logged, wait_until_ready


@dataclass(frozen=True)
class Receiver:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


def start_receiver(s3_env: dict[str, str], folder: Path, prefix: str, *flags: str) -> Receiver:
    """Started with the bucket's variables (never on its command line) and `flags`; ready when /healthz answers
    (a --report-port is bound before that)."""
    port = free_port()
    log = folder / f"receiver-{port}.log"
    process = start_logged([sys.executable, "-m", "train_job.payload_receiver", "--host", LOOPBACK, "--port", str(port),
                            "--prefix", prefix, "--model-name", "credit-card-fraud", *flags], log, child_env(s3_env))
    url = f"http://{LOOPBACK}:{port}"

    def ready() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_until_ready(process, ready, "the payload receiver", log)
    return Receiver(process, url, log)
