"""A traffic generator: synthetic transactions sent to the served model, so that its metrics, payload log and drift
report have something to show.

    python -m train_job.traffic --url http://127.0.0.1:8008/v2/models/credit-card-fraud/infer \\
        [--rows 5000] [--batch 100] [--drift 0] [--seed 1] [--seconds 120] [--ca-bundle F] [--token-file F]

Draws --rows rows from train_job's seeded generator (synthetic.py; --drift 1 is the drifted world, 0 the training
data's) and sends them in V2 requests of --batch rows, one after the other, until every row is sent or --seconds
have passed: bounded in count and time. On OpenShift the URL is the InferenceService's route and the bearer token
(an auth-enabled route) is read from --token-file, never given on the command line; --ca-bundle verifies the
route's certificate. Prints one JSON line: rows and requests sent, failed requests by reason, the versions that
answered, the share scored at or above 0.5, seconds. Exit status 0 when every request was answered, 1 otherwise,
2 for bad flags.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from . import synthetic
from .schema import INPUT_NAME


def send(url: str, rows: int, batch: int, drift: float, seed: int, seconds: float, verify: bool | str = True,
         token: str | None = None) -> dict[str, Any]:
    """Send the rows (module docstring); the tally."""
    features, _ = synthetic.generate(rows, seed=seed, drift=drift)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    failures: Counter[str] = Counter()
    versions: Counter[str] = Counter()
    sent = requests_sent = flagged = 0
    started = time.monotonic()
    with requests.Session() as session:
        for start in range(0, rows, batch):
            if time.monotonic() - started >= seconds:
                break
            part = features[start:start + batch]
            body = {"inputs": [{"name": INPUT_NAME, "shape": list(part.shape), "datatype": "FP32",
                                "data": part.ravel().tolist()}]}
            requests_sent += 1
            try:
                answer = session.post(url, json=body, headers=headers, timeout=30, verify=verify)
            except requests.RequestException as error:
                failures[type(error).__name__] += 1
                continue
            if answer.status_code != 200:
                failures[f"HTTP {answer.status_code}"] += 1
                continue
            result = answer.json()
            versions[str(result.get("model_version", ""))] += 1
            scores = result["outputs"][0]["data"]
            flagged += sum(score >= 0.5 for score in scores)
            sent += len(part)
    return {"rows": sent, "requests": requests_sent, "failed": dict(failures), "versions": dict(versions),
            "flagged_share": flagged / sent if sent else 0.0, "drift": drift,
            "seconds": round(time.monotonic() - started, 3)}


def _positive(kind: type) -> Any:
    def parse(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            number = 0
        if number <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {value!r}")
        return number
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m train_job.traffic", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the V2 infer URL (.../v2/models/<name>/infer)")
    parser.add_argument("--rows", type=_positive(int), default=5000)
    parser.add_argument("--batch", type=_positive(int), default=100, help="rows per request (default: %(default)s)")
    parser.add_argument("--drift", type=float, default=0.0, help="0 (the training data's world) to 1 (drifted)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=_positive(float), default=120.0, help="time limit (default: %(default)s)")
    parser.add_argument("--ca-bundle", type=Path, help="CA bundle that signed the endpoint's certificate")
    parser.add_argument("--token-file", type=Path, help="a file holding the bearer token of an auth-enabled route")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0.0 <= args.drift <= 1.0:
        parser.error(f"--drift {args.drift}: expected 0 to 1")
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"--url {args.url!r}: expected an http(s) URL")
    token = args.token_file.read_text().strip() if args.token_file else None
    tally = send(args.url, args.rows, args.batch, args.drift, args.seed, args.seconds,
                 verify=str(args.ca_bundle) if args.ca_bundle else True, token=token)
    print(json.dumps(tally))
    return 0 if not tally["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
