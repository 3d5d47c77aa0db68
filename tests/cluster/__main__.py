"""Command line for molecule's create/destroy and for people:

    python -m tests.cluster up --kubeconfig PATH --pidfile PATH [--rhoai 2|3|none] [--s3-env FILE] [--controller-dns]
    python -m tests.cluster down --pidfile PATH
    python -m tests.cluster rhoai 2|3|none --kubeconfig PATH

`up` returns once the API server answers and the simulator runs, leaving a background process that
owns everything (its log: PIDFILE.log); `down` stops it. Next to the kubeconfig it writes `ingress-ca.crt`, the
CA of the router's certificate. `--controller-dns` makes this mount namespace resolve through the cluster's
DNS, so the controller reaches Routes by their host names as it would on a cluster: it bind-mounts a
resolv.conf over /etc/resolv.conf, and leaves the machine's own mount namespace alone (with a warning: run the
caller under `unshare --mount`, as tests/cluster/test_cluster_molecule.py does). `rhoai` switches the OpenShift AI API
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
        shutil.copyfile(plane.ingress_ca, args.kubeconfig.with_name("ingress-ca.crt"))
        dns = plane.network.gateway if plane.network else ""
        args.ready_file.write_text(f"{plane.url}\n{dns}\n")
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
    url, _, dns = ready.read_text().strip().partition("\n")
    if args.controller_dns:
        _use_cluster_dns(dns.strip(), args.pidfile.with_name("resolv.conf"))
    print(url)
    return 0


def _private_mount_namespace() -> bool:
    """Whether this process has a mount namespace of its own (not the machine's)."""
    if os.environ.get("FRAUD_DEMO_PRIVATE_MOUNT_NAMESPACE") == "1":  # set by whoever ran us under unshare --mount
        return True
    try:
        return os.readlink("/proc/self/ns/mnt") != os.readlink("/proc/1/ns/mnt")
    except OSError:  # PID 1 is not ours to inspect (a sandbox): assume the machine's own
        return False


def _use_cluster_dns(server: str, resolv: Path) -> None:
    """Resolve through the cluster's DNS in this (private) mount namespace."""
    if not server:
        print("no pod network (pods get a status only): Route hosts do not resolve from the controller", file=sys.stderr)
        return
    if not _private_mount_namespace():
        print(
            "--controller-dns: not changing /etc/resolv.conf of the machine's own mount namespace, so Route hosts do "
            "not resolve from this controller; run under `unshare --mount` (make test-molecule does)",
            file=sys.stderr,
        )
        return
    resolv.write_text(f"nameserver {server}\noptions timeout:2 attempts:2\n")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)  # noqa: S603, S607


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
            command.add_argument("--controller-dns", action="store_true", help="resolve Route hosts through the cluster's DNS here")
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
