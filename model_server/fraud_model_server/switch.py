"""Roll a running server out to the model its serving spec names, and wait until every process serves it.

    python -m fraud_model_server.switch --workdir .state/model-server --serving-spec .state/model-server/spec.json

Reads the server's main process id (``<workdir>/server.pid``) and what each of its processes serves
(``<workdir>/workers/<pid>.json``); when they all serve the spec already, nothing is done. Otherwise SIGHUP (sent
again every few seconds to a process that has not taken it yet), then wait. Prints one JSON line: ``changed``,
``seconds``, what is served. Exit status 0 when every process serves the spec, 1 when one refused it (the served
model stays; the message is its reason) or the timeout passed, 2 for bad options, 3 when no server runs.
``--check`` only says whether a rollout would happen.
"""

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .spec import PID_FILE, ServingSpec, SpecError, read_statuses

NOT_RUNNING = 3
RESEND_S = 3.0
POLL_S = 0.05


class SwitchError(RuntimeError):
    """The rollout did not happen; the message says why."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _server(workdir: Path) -> tuple[int, int]:
    """(main pid, process count) of the running server; SwitchError(3) when none runs."""
    try:
        info = json.loads((workdir / PID_FILE).read_text())
        pid, workers = int(info["pid"]), int(info["workers"])
    except (OSError, ValueError, KeyError, TypeError):
        raise SwitchError(f"no model server runs from {workdir} (no readable {PID_FILE})", NOT_RUNNING) from None
    if not _alive(pid):
        raise SwitchError(f"the model server of {workdir} (pid {pid}) is not running", NOT_RUNNING)
    return pid, workers


def _workers(workdir: Path, workers: int, deadline: float) -> dict[int, dict[str, Any]]:
    """The statuses of the server's live processes, once all ``workers`` have published one."""
    while True:
        live = {pid: status for pid, status in read_statuses(workdir).items() if _alive(pid)}
        if len(live) >= workers:
            return live
        if time.monotonic() > deadline:
            raise SwitchError(f"{len(live)} of the server's {workers} processes publish what they serve in "
                              f"{workdir}/workers: was it started with --serving-spec?")
        time.sleep(POLL_S)


def switch(workdir: Path, spec: ServingSpec, timeout_s: float, check: bool = False) -> dict[str, Any]:
    """Roll the server of ``workdir`` out to ``spec``; the result as a mapping (SwitchError on failure)."""
    started = time.monotonic()
    deadline = started + timeout_s
    wanted = asdict(spec)
    pid, workers = _server(workdir)
    before = _workers(workdir, workers, deadline)
    if all(status["serving"] == wanted for status in before.values()):
        return {"changed": False, "serving": wanted, "processes": len(before)}
    if check:
        return {"changed": True, "serving": wanted, "was": sorted({json.dumps(s["serving"]) for s in before.values()}),
                "check": True}
    taken = {worker: status["rollouts"] for worker, status in before.items()}
    sent = 0.0
    while True:
        now = time.monotonic()
        current_pid, workers = _server(workdir)
        if current_pid != pid:  # restarted meanwhile: the new server read the spec at its start
            pid, taken = current_pid, {}
        statuses = _workers(workdir, workers, deadline)
        done = set()
        for worker, status in statuses.items():
            if status["serving"] == wanted:
                done.add(worker)
            elif status.get("failed") and status["rollouts"] > taken.get(worker, -1):  # took this one, refused it
                raise SwitchError(f"the model server refused {spec.describe()}: {status['failed']['message']}")
        if len(done) >= workers:
            return {"changed": True, "serving": wanted, "processes": len(done), "seconds": round(now - started, 3)}
        if now > deadline:
            raise SwitchError(f"after {timeout_s:g} s, {len(done)} of {workers} server processes serve "
                              f"{spec.describe()}")
        if now - sent >= RESEND_S:
            os.kill(pid, signal.SIGHUP)
            sent = now
        time.sleep(POLL_S)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m fraud_model_server.switch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="the server's --workdir")
    parser.add_argument("--serving-spec", type=Path, required=True, help="the server's --serving-spec")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only tell whether a rollout would happen")
    args = parser.parse_args(argv)
    try:
        spec = ServingSpec.read(args.serving_spec)
    except SpecError as error:
        parser.error(str(error))
    try:
        result = switch(args.workdir, spec, args.timeout, args.check)
    except SwitchError as error:
        json.dump({"changed": False, "failed": True, "msg": str(error)}, sys.stdout)
        sys.stdout.write("\n")
        return error.status
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
