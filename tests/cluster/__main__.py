"""Command line for molecule's create/destroy and for people:

    python -m tests.cluster up --kubeconfig PATH --pidfile PATH [--rhoai 2|3|none] [--s3-env FILE]
    python -m tests.cluster down --pidfile PATH
    python -m tests.cluster rhoai 2|3|none --kubeconfig PATH

`up` returns once the API server answers and the simulator runs, leaving a background process that
owns everything (its log: PIDFILE.log); `down` stops it. `rhoai` switches the OpenShift AI API
generation that the running cluster presents.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .control_plane import RHOAI_MAJORS, ControlPlane, use_rhoai
from .kube import Kube


def _major(value: str) -> int | None:
    if value == "none":
        return None
    if value.isdigit() and int(value) in RHOAI_MAJORS:
        return int(value)
    raise argparse.ArgumentTypeError(f"'{value}' is not one of {', '.join(map(str, RHOAI_MAJORS))}, none")


def _read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            if not sep:
                raise SystemExit(f"{path}:{number}: expected KEY=value")
            values[key.strip()] = value.strip()
    return values


def _serve(args: argparse.Namespace) -> int:
    s3 = _read_env_file(args.s3_env) if args.s3_env else None
    with ControlPlane(rhoai_major=args.rhoai, s3=s3) as plane:
        args.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        args.kubeconfig.touch(mode=0o600)
        shutil.copyfile(plane.kubeconfig, args.kubeconfig)
        args.ready_file.write_text(plane.url + "\n")
        print(f"control plane at {plane.url}, workdir {plane.workdir}", flush=True)
        while True:
            signal.pause()  # SIGTERM raises SystemExit in ControlPlane, which stops everything


def _up(args: argparse.Namespace) -> int:
    if args.pidfile.exists():
        raise SystemExit(f"{args.pidfile} exists: a control plane may be running (run `down` first)")
    ready = args.pidfile.with_suffix(".ready")
    ready.unlink(missing_ok=True)
    log_path = Path(f"{args.pidfile}.log")
    argv = [sys.executable, "-m", __package__ or "cluster", "serve", f"--kubeconfig={args.kubeconfig}", f"--ready-file={ready}", f"--rhoai={args.rhoai_text}"]
    if args.s3_env:
        argv.append(f"--s3-env={args.s3_env}")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ.copy())  # noqa: S603
    args.pidfile.write_text(f"{process.pid}\n")
    deadline = time.monotonic() + args.timeout
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.terminate()
                process.wait(30)
            args.pidfile.unlink(missing_ok=True)
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
            raise SystemExit(f"control plane did not come up (log: {log_path})")
        time.sleep(0.5)
    print(ready.read_text().strip())
    return 0


def _down(args: argparse.Namespace) -> int:
    if not args.pidfile.exists():
        print(f"{args.pidfile}: no control plane recorded; nothing to stop")
        return 0
    pid = int(args.pidfile.read_text().strip())
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists() or b"serve\0--kubeconfig" not in cmdline.read_bytes():
        print(f"{args.pidfile}: process {pid} is gone or is not a control plane; removing the stale pidfile")
        args.pidfile.unlink()
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.3)
        raise SystemExit(f"control plane process {pid} still runs after {args.timeout} s")
    except ProcessLookupError:
        pass
    args.pidfile.unlink()
    args.pidfile.with_suffix(".ready").unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the sub-command."""
    parser = argparse.ArgumentParser(prog="python -m tests.cluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "serve"):
        command = commands.add_parser(name, help="start a control plane" if name == "up" else argparse.SUPPRESS)
        command.add_argument("--kubeconfig", type=Path, required=True, help="where to write the admin kubeconfig")
        command.add_argument("--rhoai", dest="rhoai_text", default="2", help="OpenShift AI generation: 2, 3 or none")
        command.add_argument("--s3-env", type=Path, help="KEY=value file with the AWS_* keys of an S3 server backing ObjectBucketClaims")
        if name == "up":
            command.add_argument("--pidfile", type=Path, required=True)
            command.add_argument("--timeout", type=float, default=300)
        else:
            command.add_argument("--ready-file", type=Path, required=True)
    down = commands.add_parser("down", help="stop the control plane started by `up`")
    down.add_argument("--pidfile", type=Path, required=True)
    down.add_argument("--timeout", type=float, default=60)
    rhoai = commands.add_parser("rhoai", help="switch the OpenShift AI generation of a running control plane")
    rhoai.add_argument("major", help="2, 3 or none")
    rhoai.add_argument("--kubeconfig", type=Path, required=True)
    args = parser.parse_args(argv)
    for attr in ("rhoai_text", "major"):
        if hasattr(args, attr):
            try:
                args.rhoai = _major(getattr(args, attr))
            except argparse.ArgumentTypeError as error:
                parser.error(str(error))
    if getattr(args, "s3_env", None) and not args.s3_env.is_file():
        parser.error(f"--s3-env {args.s3_env}: no such file")
    if args.command == "rhoai":
        use_rhoai(Kube(args.kubeconfig), args.rhoai)
        return 0
    return {"up": _up, "serve": _serve, "down": _down}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
