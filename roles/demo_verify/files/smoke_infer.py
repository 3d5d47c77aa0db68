"""Send each example transaction to a KServe V2 endpoint and check the label the model gives it.

Runs in a Job of the demo_verify role when the model is reachable only inside the cluster. Standard library only,
so any Python 3 image runs it. Environment: ``INFER_URL`` (``.../v2/models/<name>/infer``), ``EXAMPLES`` (JSON list
of ``{"name", "features": [7 numbers], "fraud": bool}``), ``THRESHOLD``, and optionally ``INFERENCE_TOKEN`` (bearer
token, from a Secret) and ``INFERENCE_CA_BUNDLE``. Prints one JSON report and writes it to the termination message
(``/dev/termination-log``) too; exit status 0 when every example got its label, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

TERMINATION_LOG = "/dev/termination-log"
TIMEOUT_S = 30.0


def request_body(name: str, features: list[float]) -> bytes:
    """The V2 request for one transaction: input ``dense_input``, shape [1, 7], FP32."""
    return json.dumps({
        "id": f"smoke-{name.replace(' ', '-')}",
        "inputs": [{"name": "dense_input", "shape": [1, 7], "datatype": "FP32", "data": [float(f) for f in features]}],
    }).encode()


def score(url: str, body: bytes, token: str | None, context: ssl.SSLContext | None) -> float:
    """POST ``body`` to ``url`` and return ``outputs[0].data[0]``; raises ValueError with the server's answer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise ValueError(f"HTTP {error.code}: {error.read()[:300].decode(errors='replace')}") from None
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as error:
        raise ValueError(str(error)) from None
    try:
        return float(answer["outputs"][0]["data"][0])
    except (KeyError, IndexError, TypeError, ValueError):
        raise ValueError(f"no outputs[0].data[0] in the answer {json.dumps(answer)[:300]}") from None


def check(env: Mapping[str, str]) -> dict[str, Any]:
    """Score every example and return the report: ``{"url", "ok", "examples": [{name, expected, score|error, ok}]}``."""
    url = env["INFER_URL"]
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"INFER_URL={url!r} is not an http(s) URL")
    threshold = float(env["THRESHOLD"])
    ca_bundle = env.get("INFERENCE_CA_BUNDLE") or None
    context = ssl.create_default_context(cafile=ca_bundle) if url.startswith("https://") else None
    results = []
    for example in json.loads(env["EXAMPLES"]):
        expected = bool(example["fraud"])
        result: dict[str, Any] = {"name": example["name"], "expected_fraud": expected}
        try:
            probability = score(url, request_body(example["name"], example["features"]), env.get("INFERENCE_TOKEN"), context)
        except ValueError as error:
            result |= {"error": str(error), "ok": False}
        else:
            result |= {"score": probability, "ok": (probability >= threshold) == expected}
        results.append(result)
    return {"url": url, "threshold": threshold, "ok": all(r["ok"] for r in results), "examples": results}


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the check, print the report (and leave it as the termination message); returns the exit status."""
    env = os.environ if env is None else env
    missing = [name for name in ("INFER_URL", "EXAMPLES") if not env.get(name)]
    if missing:
        print(f"smoke_infer: missing environment variables: {', '.join(missing)}", file=sys.stderr)
        return 1
    try:
        report = check(env)
    except (ValueError, KeyError, json.JSONDecodeError) as error:
        print(f"smoke_infer: {error}", file=sys.stderr)
        return 1
    text = json.dumps(report, sort_keys=True)
    print(text)
    if os.access(TERMINATION_LOG, os.W_OK):
        with open(TERMINATION_LOG, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
