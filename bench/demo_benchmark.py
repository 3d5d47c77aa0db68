"""Benchmark of the local target: wall time of `ansible-playbook site.yml` on a fresh state directory (first run)
and again (rerun, with its changed count), and the resident memory of the running demo.

Usage: .venv/bin/python bench/demo_benchmark.py [--rows 1000000]
Writes the "Local demo" section of docs/benchmarks.md. Targets (issue 3): first run under 3 minutes with
1M rows, rerun under 20 s with changed=0, running demo under 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from report import write_section

REPO = Path(__file__).resolve().parents[1]
RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def playbook(name: str, state_dir: Path, extra: Path) -> tuple[float, int]:
    """Run a playbook; return (seconds, changed count). Output goes to the terminal (progress)."""
    env = {**os.environ, "FRAUD_DEMO_STATE_DIR": str(state_dir)}
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), name, "-e", f"@{extra}"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{name} failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    return seconds, int(RECAP.search(proc.stdout).group(2))


def program_name(process: psutil.Process) -> str:
    """The supervisord program a process runs (supervisord puts SUPERVISOR_PROCESS_NAME in its environment)."""
    try:
        return process.environ().get("SUPERVISOR_PROCESS_NAME") or process.name()
    except psutil.AccessDenied:
        return process.name()


def demo_rss(state_dir: Path) -> tuple[float, list[tuple[str, float]]]:
    """Total RSS (MiB) of supervisord and every process under it, and the per-program share."""
    pid = int((state_dir / "supervisor" / "supervisord.pid").read_text())
    root = psutil.Process(pid)
    per_child = []
    for child in root.children():
        tree = [child, *child.children(recursive=True)]
        per_child.append((program_name(child), sum(p.memory_info().rss for p in tree) / 2**20))
    total = root.memory_info().rss / 2**20 + sum(mib for _, mib in per_child)
    return total, per_child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic training rows (default 1,000,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
        state_dir, extra = Path(tmp) / "state", Path(tmp) / "vars.json"
        extra.write_text(json.dumps({"training_rows": args.rows}))
        try:
            print(f"first run ({args.rows:,} rows) ...", flush=True)
            first, first_changed = playbook("site.yml", state_dir, extra)
            print(f"  {first:.1f} s, changed={first_changed}; rerun ...", flush=True)
            rerun, rerun_changed = playbook("site.yml", state_dir, extra)
            print(f"  {rerun:.1f} s, changed={rerun_changed}", flush=True)
            total, per_child = demo_rss(state_dir)
        finally:
            playbook("teardown.yml", state_dir, extra)
    rows = "\n".join(f"| {name} | {mib:.0f} MiB |" for name, mib in per_child)
    body = (f"`.venv/bin/python bench/demo_benchmark.py --rows {args.rows}` (dependencies installed, fresh state).\n\n"
            f"| measure | result | target |\n|---|---|---|\n"
            f"| first `ansible-playbook site.yml`, {args.rows:,} rows | {first:.0f} s (changed={first_changed}) | < 180 s |\n"
            f"| rerun | {rerun:.1f} s (changed={rerun_changed}) | < 20 s, changed=0 |\n"
            f"| resident memory of the running demo | {total:.0f} MiB | < 1,536 MiB |\n\n"
            f"Per supervised program:\n\n| program | RSS |\n|---|---|\n{rows}\n")
    print(f"wrote {write_section('local-demo', 'Local demo (issue 3)', body)}")


if __name__ == "__main__":
    main()
