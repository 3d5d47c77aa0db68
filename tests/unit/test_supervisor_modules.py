"""``fraud_demo.mlops.supervisord`` and ``fraud_demo.mlops.supervisor_program`` run by ansible-playbook against a
real supervisord (the one the local target uses), step by step in one playbook: start, rerun without change,
check mode, a stopped program, a changed configuration, a program that cannot start, a restart of the daemon."""

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.module_play import run_tasks
from support.ports import free_port

BIN = Path(sys.executable).parent


def supervisord_config(base: Path, comment: str = "") -> str:
    """A private supervisord configuration under ``base``."""
    return (
        f"; test {comment}\n[unix_http_server]\nfile={base}/sv/supervisor.sock\nchmod=0700\n\n"
        f"[supervisord]\nlogfile={base}/logs/supervisord.log\npidfile={base}/sv/supervisord.pid\n"
        f"directory={base}/sv\nchildlogdir={base}/logs\n\n"
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        f"\n[supervisorctl]\nserverurl=unix://{base}/sv/supervisor.sock\n\n[include]\nfiles = {base}/sv/conf.d/*.conf\n"
    )


def program_config(base: Path, name: str, command: str, extra: str = "") -> str:
    """A program section that logs to ``<base>/logs/<name>.log``."""
    return (
        f"[program:{name}]\ncommand={command}\nautostart=true\nautorestart=false\nstartsecs=1\nstartretries=0\n"
        f"redirect_stderr=true\nstdout_logfile={base}/logs/{name}.log\n{extra}"
    )


def steps(base: Path, port: int) -> list[dict[str, Any]]:
    """The playbook's tasks, in order; each registers its result under its name and the play goes on."""
    daemon = {"dir": f"{base}/sv", "log_dir": f"{base}/logs", "socket": f"{base}/sv/supervisor.sock",
              "config": supervisord_config(base), "executable": str(BIN / "supervisord"), "start_timeout": 20,
              "files": {"launcher": {"content": "#!/bin/sh\nexec \"$@\"\n", "mode": "0755"}}}
    web_command = f"{sys.executable} -m http.server {port} --bind 127.0.0.1 --directory {base}"
    web = {"name": "web", "config": program_config(base, "web", web_command, f"directory={base}/web\n"),
           "directory": f"{base}/web", "conf_dir": f"{base}/sv/conf.d",
           "socket": f"{base}/sv/supervisor.sock", "health_url": f"http://127.0.0.1:{port}/",
           "health_timeout": 20, "log_file": f"{base}/logs/web.log"}
    broken = {**web, "name": "broken", "health_timeout": 3, "log_file": f"{base}/logs/broken.log",
              "health_url": f"http://127.0.0.1:{free_port()}/",
              "config": program_config(base, "broken", f"{sys.executable} -c \"print('boom, no config'); exit(3)\"")}
    ctl = [str(BIN / "supervisorctl"), "-c", f"{base}/sv/supervisord.conf"]
    daemon_module, program_module = "fraud_demo.mlops.supervisord", "fraud_demo.mlops.supervisor_program"
    return [
        {"name": "program check mode, no daemon yet", program_module: web, "check_mode": True},
        {"name": "daemon check mode", daemon_module: daemon, "check_mode": True},
        {"name": "daemon start", daemon_module: daemon},
        {"name": "daemon again", daemon_module: daemon},
        {"name": "program check mode", program_module: web, "check_mode": True},
        {"name": "program add", program_module: web},
        {"name": "program again", program_module: web},
        {"name": "working directory", "ansible.builtin.stat": {"path": f"{base}/web"}},
        {"name": "stop program", "ansible.builtin.command": {"argv": [*ctl, "stop", "web"]}},
        {"name": "program after stop", program_module: web},
        {"name": "program new config", program_module: {**web, "config": web["config"] + "stopsignal=TERM\n"},
         "diff": True},
        {"name": "program cannot start", program_module: broken},
        {"name": "bad name", program_module: {**web, "name": "../web"}},
        {"name": "daemon new config", daemon_module: {**daemon, "config": supervisord_config(base, "changed")}},
        {"name": "program after daemon restart",
         program_module: {**web, "config": web["config"] + "stopsignal=TERM\n"}},
    ]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Run every step once; stop the supervisord it started afterwards."""
    base = tmp_path_factory.mktemp("sv")
    tasks = [{**step, "register": "r", "ignore_errors": True} for step in steps(base, free_port())]
    results, completed = run_tasks(base, tasks, name="Exercise the supervisor modules")
    try:
        assert results, completed.stdout[-3000:] + completed.stderr[-3000:]
        yield results
    finally:
        pid_file = base / "sv" / "supervisord.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
            deadline = time.monotonic() + 30
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)


def test_daemon_started_once_and_left_alone(results: dict[str, dict[str, Any]]) -> None:
    check, start, again = results["daemon check mode"], results["daemon start"], results["daemon again"]
    assert check["changed"] and check["operation"] == "started" and check["pid"] == 0
    assert start["changed"] and start["operation"] == "started" and start["pid"] > 0, start
    assert len(start["written"]) == 2
    assert not again["changed"] and again["operation"] == "none" and again["pid"] == start["pid"], again


def test_a_new_daemon_configuration_restarts_it_and_its_programs(results: dict[str, dict[str, Any]]) -> None:
    restarted = results["daemon new config"]
    assert restarted["changed"] and restarted["operation"] == "restarted", restarted
    assert restarted["pid"] != results["daemon start"]["pid"]
    after = results["program after daemon restart"]
    assert not after["changed"] and after["state"] == "RUNNING", after


def test_program_added_healthy_then_left_alone(results: dict[str, dict[str, Any]]) -> None:
    check, add, again = results["program check mode"], results["program add"], results["program again"]
    early = results["program check mode, no daemon yet"]
    assert early["changed"] and early["operation"] == "added" and early["state"] == "UNKNOWN", early
    assert check["changed"] and check["operation"] == "added" and check["state"] == "UNKNOWN"
    assert add["changed"] and add["operation"] == "added" and add["state"] == "RUNNING", add
    assert add["config_changed"]  # neither check-mode run wrote the file
    assert results["working directory"]["stat"]["mode"] == "0700"  # created for the program, private
    assert not again["changed"] and again["operation"] == "none" and again["state"] == "RUNNING"


def test_a_stopped_program_is_started(results: dict[str, dict[str, Any]]) -> None:
    after = results["program after stop"]
    assert after["changed"] and after["operation"] == "started" and after["state"] == "RUNNING", after


def test_a_changed_configuration_restarts_the_program_and_shows_the_diff(results: dict[str, dict[str, Any]]) -> None:
    changed = results["program new config"]
    assert changed["changed"] and changed["config_changed"] and changed["operation"] == "restarted", changed
    assert "stopsignal=TERM" in changed["diff"]["after"] and "stopsignal" not in changed["diff"]["before"]
    assert changed["state"] == "RUNNING"


def test_a_program_that_cannot_start_fails_with_its_log(results: dict[str, dict[str, Any]]) -> None:
    failed = results["program cannot start"]
    assert failed["failed"]
    assert "broken" in failed["msg"] and "boom, no config" in failed["msg"], failed["msg"]


def test_a_bad_name_is_refused(results: dict[str, dict[str, Any]]) -> None:
    assert results["bad name"]["failed"] and "'../web'" in results["bad name"]["msg"]
