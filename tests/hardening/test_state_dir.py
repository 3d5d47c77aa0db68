"""The state directory is the demo's or nothing is done (issue 16): a directory of the user's (with files in it, or
`/`) is refused by site.yml and teardown.yml before anything changes, naming the variable, and nothing in it is
changed or removed; an empty directory given by the user is adopted and left as it was given, as is one of an
earlier version; a relative FRAUD_DEMO_STATE_DIR is refused. (A directory the demo makes is marked `made: true`
and removed by teardown: tests/e2e/test_local_pipeline.py; the roles' directories must lie inside it:
test_bad_inventory.py.)"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from support.playbook import REPO, demo_ports

PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
MARKER = ".fraud-demo-state"


def run(state_dir: str, playbook: str, *args: str, env_state_dir: str | None = None) -> tuple[int, str]:
    """Run a playbook on the local inventory with FRAUD_DEMO_STATE_DIR (default `state_dir`) and free ports."""
    env = {**os.environ, "FRAUD_DEMO_STATE_DIR": env_state_dir or state_dir, "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [PLAYBOOK, "-i", "inventories/local/", playbook, "-e", json.dumps(demo_ports()), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Mode and content of every entry under `root` (and of `root`)."""
    entries = {".": (root.stat().st_mode, b"")}
    for path in sorted(root.rglob("*")):
        entries[str(path.relative_to(root))] = (path.stat().st_mode, path.read_bytes() if path.is_file() else b"")
    return entries


def users_directory(tmp_path: Path) -> Path:
    """A directory of the user's, with what teardown used to delete in it (logs/, training/)."""
    home = tmp_path / "my-project"
    (home / "logs").mkdir(parents=True)
    (home / "training").mkdir()
    (home / "logs" / "app.log").write_text("my app's log\n")
    (home / "training" / "model.h5").write_bytes(b"\x89HDF my model")
    home.chmod(0o755)
    return home


def test_site_and_teardown_refuse_a_directory_of_the_users(tmp_path: Path) -> None:
    home = users_directory(tmp_path)
    before = snapshot(home)
    for playbook in ("site.yml", "teardown.yml"):
        rc, output = run(str(home), playbook)
        assert rc != 0, f"{playbook} accepted a directory of the user's:\n{output[-3000:]}"
        assert f"fraud_demo_state_dir={home} holds 2 entries and no {MARKER}" in output, output[-3000:]
        assert "changed=0" in output
        assert snapshot(home) == before, f"{playbook} changed the user's directory"


def test_root_is_refused_before_check_mode_shows_a_change(tmp_path: Path) -> None:
    """`/` (check mode only, so that a regression shows a diff instead of changing the machine)."""
    rc, output = run("/", "site.yml", "--check", "--diff")
    assert rc != 0
    assert f"fraud_demo_state_dir=/ holds" in output, output[-3000:]
    assert "changed=0" in output and "0700" not in output


def test_an_empty_directory_given_is_adopted_and_left_as_it_was_given(tmp_path: Path) -> None:
    given = tmp_path / "empty"
    given.mkdir(mode=0o755)
    given.chmod(0o755)
    rc, output = run(str(given), "playbooks/preflight.yml")
    assert rc == 0, output[-3000:]
    assert (given / MARKER).read_text().splitlines()[-1] == "made: false"
    assert stat.S_IMODE(given.stat().st_mode) == 0o755, "the mode of a directory we did not make changed"
    rc, output = run(str(given), "teardown.yml", "--tags", "process_supervisor")  # the roles' own parts: e2e
    assert rc == 0, output[-3000:]
    assert given.is_dir() and not any(given.iterdir()), "teardown leaves the given directory, empty"


def test_a_state_directory_of_an_earlier_version_is_taken_as_given(tmp_path: Path) -> None:
    """Before the marker, a state directory held supervisor/supervisord.conf naming its own socket: rerunning on it
    goes on (marked as given, so teardown never removes the directory itself)."""
    earlier = tmp_path / "earlier"
    (earlier / "supervisor").mkdir(parents=True)
    (earlier / "supervisor" / "supervisord.conf").write_text(
        f"; Ansible managed\n[unix_http_server]\nfile={earlier}/supervisor/supervisor.sock\nchmod=0700\n")
    (earlier / "logs").mkdir()
    rc, output = run(str(earlier), "playbooks/preflight.yml")
    assert rc == 0, output[-3000:]
    assert (earlier / MARKER).read_text().splitlines()[-1] == "made: false"


def test_a_relative_state_directory_from_the_environment_is_refused(tmp_path: Path) -> None:
    rc, output = run(str(tmp_path / "unused"), "site.yml", "--tags", "preflight", env_state_dir="state-here")
    assert rc != 0
    assert "FRAUD_DEMO_STATE_DIR=state-here must be an absolute path" in output, output[-3000:]
    assert not (REPO / "state-here").exists() and not (tmp_path / "unused").exists()
