"""Run the repo's playbooks against the local target on free ports and a throwaway state directory (tests/e2e/)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil

from .ports import free_port, port_is_free

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = [str(Path(sys.executable).parent / "ansible-playbook")]
RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

# Every port the local target binds, each a role variable (never the defaults: other runs may use those).
PORT_VARIABLES = (
    "object_store_local_s3_port",
    "object_store_local_master_port",
    "object_store_local_volume_port",
    "object_store_local_filer_port",
    "object_store_local_admin_port",
    "object_store_local_s3_grpc_port",
    "object_store_local_master_grpc_port",
    "object_store_local_volume_grpc_port",
    "object_store_local_filer_grpc_port",
    "mlflow_server_local_port",
    "model_serving_local_port",
    "fraud_app_local_port",
)


# Port variables whose program also binds the port + an offset (roles/preflight/defaults/main.yml).
PORT_OFFSETS = {"object_store_local_admin_port": 10000}


def demo_ports() -> dict[str, int]:
    """A free 127.0.0.1 port for each port variable of the local target (and its + offset port, where it has one)."""
    ports = {variable: free_port() for variable in PORT_VARIABLES}
    for variable, offset in PORT_OFFSETS.items():
        ports[variable] = next(port for port in iter(free_port, None)
                               if port + offset <= 65535 and port_is_free(port + offset))
    return ports


def ansible_playbook(playbook: str, extra_vars: Path, state_dir: Path, *args: str) -> tuple[int, str]:
    """Run a playbook of the repo with the test's variables; return (exit status, output)."""
    env = {**os.environ, "FRAUD_DEMO_STATE_DIR": str(state_dir), "ANSIBLE_FORCE_COLOR": "0"}
    proc = subprocess.run(
        [*PLAYBOOK, playbook, "-e", f"@{extra_vars}", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )
    return proc.returncode, proc.stdout + proc.stderr


def run_playbook(playbook: str, extra_vars: Path, state_dir: Path, *args: str) -> tuple[int, str]:
    """Run a playbook that must succeed; return (changed count, output)."""
    returncode, output = ansible_playbook(playbook, extra_vars, state_dir, *args)
    assert returncode == 0, f"{playbook} {' '.join(args)} failed (rc {returncode}):\n{output[-6000:]}"
    recap = RECAP.search(output)
    assert recap, f"no PLAY RECAP in:\n{output[-3000:]}"
    assert recap.group(4) == "0"
    return int(recap.group(2)), output


def processes_under(state_dir: Path) -> list[str]:
    """Command lines of running processes that mention the state directory, or that the launcher marked as a
    program of it (FRAUD_DEMO_PROGRAM under it: MLflow's uvicorn workers, say)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            marker = proc.environ().get("FRAUD_DEMO_PROGRAM", "") if proc.status() != psutil.STATUS_ZOMBIE else ""
        except psutil.Error:
            continue
        if str(state_dir) in cmdline or marker.startswith(f"{state_dir}/"):
            found.append(cmdline or f"pid {proc.pid} ({marker})")
    return found


def mlflow_login(state_dir: Path) -> tuple[str, str]:
    """The local demo's MLflow login (its basic-auth app refuses anonymous requests), from its 0600 file."""
    lines = (state_dir / "secrets" / "mlflow.env").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return values["MLFLOW_TRACKING_USERNAME"], values["MLFLOW_TRACKING_PASSWORD"]
