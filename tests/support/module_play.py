"""Run a list of module tasks on localhost with ansible-playbook, the collections of this repository and the JSON
callback, and return each task's result by its name: how the module tests exercise our collection for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run_tasks(
    workdir: Path, tasks: list[dict[str, Any]], *, env: Mapping[str, str] | None = None, verbosity: int = 0,
    name: str = "Exercise the module",
) -> tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str]]:
    """One play of ``tasks`` in ``workdir`` (its home, an empty ansible.cfg); ``env`` adds or overrides variables.
    Returns {task name: result} (empty when ansible printed no JSON report) and the finished process."""
    play = {"name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, "tasks": tasks}
    playbook = workdir / "playbook.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    playbook.chmod(0o600)
    config = workdir / "ansible.cfg"
    config.write_text("[defaults]\n")
    environment = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(workdir),
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / "collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-local"),
        "ANSIBLE_NOCOLOR": "1",
        **(env or {}),
    }
    argv = [str(BIN / "ansible-playbook"), *(["-" + "v" * verbosity] if verbosity else []), "-i", "localhost,",
            str(playbook)]
    completed = subprocess.run(argv, cwd=workdir, env=environment, capture_output=True, text=True, timeout=300,
                               check=False)
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        return {}, completed
    return {task["task"]["name"]: task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]}, completed
