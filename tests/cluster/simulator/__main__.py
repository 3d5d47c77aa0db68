"""Run the simulator: `python -m <package>.simulator --kubeconfig PATH --workdir DIR --pki DIR --apiserver URL
[--network K]` until SIGTERM or SIGINT (control_plane.py starts it)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import types
from pathlib import Path

from ..kube import Kube
from . import Options, build


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run until told to stop."""
    parser = argparse.ArgumentParser(prog="simulator", description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True, help="admin kubeconfig of the API server")
    parser.add_argument("--ready-file", type=Path, default=Path("simulator.ready"), help="touched once all watches listed")
    parser.add_argument("--workdir", type=Path, required=True, help="the control plane's directory (pods, images, logs)")
    parser.add_argument("--pki", type=Path, required=True, help="folder with service-ca.* and ingress-ca.*")
    parser.add_argument("--apiserver", required=True, help="the API server's URL (the kubernetes Service leads there)")
    parser.add_argument("--network", type=int, help="index of the pod network (network.py); none: pods get a status only")
    parser.add_argument("--verbose", action="store_true", help="log every watch restart")
    args = parser.parse_args(argv)
    if not args.kubeconfig.is_file():
        parser.error(f"--kubeconfig {args.kubeconfig}: no such file")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    simulator = build(Kube(args.kubeconfig, connections=64), Options(args.workdir, args.pki, args.network, args.apiserver))

    def stop(signum: int, frame: types.FrameType | None) -> None:
        simulator.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    simulator.run(args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
