"""Bad training input benchmark: peak memory and time until a file that is not CSV text is refused, and what the
checks cost on a good file.

Usage: .venv/bin/python bench/bad_input_memory.py [--no-write]

Each case runs in a child process (peak RSS from its rusage) twice: with train_job's loader (`train_job.data
.read_csv`: the stream checks of `train_job.csv_stream`) and with the loader as it was before them (pandas reading
the raw bytes in the same chunks). The old loader runs under a 4 GiB address-space cap, so that it fails instead of
taking the machine (unbounded, the 2 GiB of NUL bytes drove it past 14 GB in 36 s). Target (issue 16): memory stays
bounded on any input; a good file reads at about the same speed. Writes the "Bad training input" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CAP_BYTES = 4 << 30

CHILD = r"""
import json, resource, sys, time
kind, path, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "before":
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import numpy as np, pandas as pd
from train_job.data import read_csv, validate_frame
from train_job.schema import FEATURE_COLUMNS
started = time.perf_counter()
try:
    if kind == "checked":
        rows = read_csv(path).rows
    else:  # the loader before the stream checks: pandas on the raw bytes, same chunks and validation
        rows = 0
        with open(path, "rb") as stream, pd.read_csv(stream, chunksize=200_000, skipinitialspace=True) as reader:
            for frame in reader:
                validate_frame(frame, path)
                frame[list(FEATURE_COLUMNS)].to_numpy(np.float32)
                rows += len(frame)
    outcome = f"read {rows:,} rows"
except MemoryError:
    outcome = f"MemoryError at the {cap >> 30} GiB cap"
except Exception as error:  # the outcome is what the benchmark reports
    outcome = f"{type(error).__name__}: {str(error)[:90]}"
seconds = time.perf_counter() - started
print(json.dumps({"outcome": outcome, "seconds": seconds}))
"""


def inputs(directory: Path) -> list[tuple[str, Path]]:
    """The files measured: 2 GiB of NUL bytes (sparse), a 512 MiB line without a newline, a good 1M-row CSV."""
    zeros = directory / "zeros.csv"
    with zeros.open("wb") as sparse:
        sparse.truncate(2 << 30)
    line = directory / "one-line.csv"
    with line.open("wb") as output:
        for _ in range(512):
            output.write(b"7" * (1 << 20))
    good = directory / "good.csv"
    import pandas as pd
    from train_job import synthetic
    from train_job.schema import FEATURE_COLUMNS, LABEL_COLUMN

    features, labels = synthetic.generate(1_000_000, 7)
    frame = pd.DataFrame(features, columns=list(FEATURE_COLUMNS))
    frame[LABEL_COLUMN] = labels
    frame.to_csv(good, index=False)
    return [("2 GiB of NUL bytes", zeros), ("512 MiB line without a newline", line),
            ("good CSV, 1,000,000 rows (65 MB)", good)]


def measure(kind: str, path: Path) -> dict[str, object]:
    """Run one case in a child; its peak RSS comes from the kernel (wait4), even when the child crashes."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(path), str(CAP_BYTES)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = child.communicate()
    lines = stdout.strip().splitlines()
    if lines:
        return {**json.loads(lines[-1]), "peak_mb": usage.ru_maxrss / 1024}
    last = (stderr.strip().splitlines() or [""])[-1][:90]
    return {"outcome": f"crashed (exit {child.returncode}) {last}".strip(), "seconds": seconds,
            "peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing the doc")
    args = parser.parse_args()
    started = time.perf_counter()
    lines = ["| input | loader | outcome | peak RSS | seconds |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="bench-bad-input-") as directory:
        for label, path in inputs(Path(directory)):
            for kind, name in (("checked", "train_job (stream checks)"), ("before", "before the checks")):
                result = measure(kind, path)
                print(f"bench: {label}, {name}: {result}", file=sys.stderr, flush=True)
                outcome = str(result["outcome"]).replace(str(path), path.name)
                lines.append(f"| {label} | {name} | {outcome} | {result['peak_mb']:,.0f} MB | "
                             f"{result['seconds']:.2f} |")
    body = "\n\n".join([
        "Each row is one child process; \"before the checks\" runs under a 4 GiB address-space cap so that it fails "
        "instead of taking the machine. The checks refuse a NUL byte (a binary file) and a line over 1 MiB as they "
        "stream, so a bad file is refused in its first megabytes whatever its size.",
        "\n".join(lines),
        f"Benchmark wall time: {(time.perf_counter() - started) / 60:.1f} min. Rerun: "
        "`.venv/bin/python bench/bad_input_memory.py`.",
    ])
    from report import publish  # bench/, on the path as this script's directory

    publish("bad-training-input", "Bad training input", body, write=not args.no_write)


if __name__ == "__main__":
    main()
