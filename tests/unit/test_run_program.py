"""process_supervisor's launcher (roles/process_supervisor/files/run-program) with real processes: the marker its
program's processes inherit, secrets from the env file, leftover children stopped when the program exits (its
status passed on), stale processes of the same marker stopped before a start, nothing left when its parent
(supervisord) dies or it is killed outright, and teardown's --stop-stale."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = [sys.executable, "-I", str(REPO / "roles/process_supervisor/files/run-program")]
# A value made per run, so that no literal in this file looks like a credential.
FAKE_SECRET = f"fake-{os.getpid()}-value"


def marked(marker: str) -> list[psutil.Process]:
    """Live processes whose FRAUD_DEMO_PROGRAM is ``marker``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("FRAUD_DEMO_PROGRAM") == marker and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_until(check, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s}s: {check}")


@pytest.fixture
def marker(tmp_path: Path):
    value = f"{tmp_path}/supervisor/program"
    yield value
    for proc in marked(value):  # whatever a failing test left
        proc.kill()


def test_the_program_gets_the_marker_and_the_secrets_not_on_its_command_line(tmp_path: Path, marker: str) -> None:
    env_file, server_file = tmp_path / "secrets.env", tmp_path / "server.env"
    env_file.write_text(f"# secrets\nSECRET_KEY={FAKE_SECRET}\n\nOTHER = two\n")
    server_file.write_text(f"OTHER=three\nSIGNING_KEY={FAKE_SECRET[::-1]}\n")  # a later file wins
    for path in (env_file, server_file):
        path.chmod(0o600)
    out = subprocess.run([*LAUNCHER, marker, "--env-file", str(env_file), "--env-file", str(server_file), "--",
                          sys.executable, "-c",
                          "import os, sys; print(os.environ['FRAUD_DEMO_PROGRAM'], os.environ['SECRET_KEY'], "
                          "os.environ['OTHER'], os.environ['SIGNING_KEY'], ' '.join(sys.argv))"],
                         capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.split() == [marker, FAKE_SECRET, "three", FAKE_SECRET[::-1], "-c"]


@pytest.mark.parametrize("options", [["--env-file"], ["--env", "x"], ["x"], []], ids=str)
def test_a_malformed_command_line_prints_the_usage(tmp_path: Path, marker: str, options: list[str]) -> None:
    out = subprocess.run([*LAUNCHER, marker, *options, "--", *(["true"] if options else [])],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "run-program MARKER [--env-file FILE]..." in out.stderr


def test_a_bad_env_file_line_is_named_without_its_value(tmp_path: Path, marker: str) -> None:
    env_file = tmp_path / "secrets.env"
    env_file.write_text(f"GOOD=1\nnot a pair {FAKE_SECRET}\n")
    out = subprocess.run([*LAUNCHER, marker, "--env-file", str(env_file), "--", "true"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert f"{env_file}:2: expected KEY=value" in out.stderr and FAKE_SECRET not in out.stderr


def test_children_left_by_an_exiting_program_are_stopped_and_its_status_passed_on(marker: str) -> None:
    """As a killed `mlflow server` leaves its uvicorn: the launcher stops it (even one ignoring SIGTERM) and
    exits with the program's status, so supervisord restarts the program."""
    started = time.monotonic()
    out = subprocess.run([*LAUNCHER, marker, "--", "sh", "-c",
                          "sleep 300 & (trap '' TERM; sleep 300) & sleep 0.3; exit 3"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    assert not marked(marker)
    assert "left 2 process(es) running; stopped them" in out.stderr
    assert "killing process" in out.stderr  # the one ignoring SIGTERM
    assert time.monotonic() - started < 30


def test_a_program_killed_by_a_signal_exits_128_plus_it(marker: str) -> None:
    out = subprocess.run([*LAUNCHER, marker, "--", "sh", "-c", "kill -9 $$"], capture_output=True, timeout=30)
    assert out.returncode == 128 + signal.SIGKILL


def test_stale_processes_of_the_same_marker_are_stopped_before_the_start(marker: str) -> None:
    """An orphan of an earlier run (its launcher killed outright) holds on; the next start stops it first."""
    stale = subprocess.Popen(["sleep", "300"], env={**os.environ, "FRAUD_DEMO_PROGRAM": marker},
                             start_new_session=True)
    other = subprocess.Popen(["sleep", "300"], env={**os.environ, "FRAUD_DEMO_PROGRAM": marker + "-other"},
                             start_new_session=True)
    try:
        out = subprocess.run([*LAUNCHER, marker, "--", "true"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0
        assert f"stopping stale process {stale.pid} (sleep 300)" in out.stderr
        assert stale.wait(timeout=10) == -signal.SIGTERM
        assert other.poll() is None  # another program's process is not touched
    finally:
        other.kill()
        stale.kill()


def test_nothing_outlives_the_parent_supervisord(marker: str) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                               f"subprocess.Popen({[*LAUNCHER, marker, '--', 'sh', '-c', 'sleep 300 & sleep 300']!r});"
                               " time.sleep(300)"])
    try:
        wait_until(lambda: len(marked(marker)) == 3)  # sh and both sleeps (the launcher carries no marker)
        parent.kill()
        wait_until(lambda: not marked(marker))
    finally:
        parent.kill()
        parent.wait()


def test_a_launcher_killed_outright_leaves_no_program(marker: str) -> None:
    launcher = subprocess.Popen([*LAUNCHER, marker, "--", "sleep", "300"])
    try:
        wait_until(lambda: marked(marker))
        launcher.kill()
        wait_until(lambda: not marked(marker))
    finally:
        launcher.kill()
        launcher.wait()


def test_stop_stale_stops_every_program_under_the_prefix(tmp_path: Path) -> None:
    prefix = f"{tmp_path}/supervisor/"
    ours = [subprocess.Popen(["sleep", "300"], env={**os.environ, "FRAUD_DEMO_PROGRAM": prefix + name},
                             start_new_session=True) for name in ("a", "b")]
    elsewhere = subprocess.Popen(["sleep", "300"], env={**os.environ, "FRAUD_DEMO_PROGRAM": f"{tmp_path}-x/a"},
                                 start_new_session=True)
    try:
        out = subprocess.run([*LAUNCHER, "--stop-stale", prefix], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0
        assert sorted(out.stdout.split()) == sorted(str(proc.pid) for proc in ours)
        assert all(proc.wait(timeout=10) == -signal.SIGTERM for proc in ours)
        assert elsewhere.poll() is None
        again = subprocess.run([*LAUNCHER, "--stop-stale", prefix], capture_output=True, text=True, timeout=30)
        assert again.stdout == ""  # teardown's second run: no change
    finally:
        for proc in [*ours, elsewhere]:
            proc.kill()
