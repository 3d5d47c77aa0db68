"""Write one benchmark's section of docs/benchmarks.md, between `<!-- begin:NAME -->` and `<!-- end:NAME -->`
markers, leaving the other sections as they are. Every section states the machine and the date."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEach section is written by its script under `bench/`; rerun the script to refresh it.\n"


def machine() -> str:
    """One line describing this machine: CPU model, cores, memory, Python, load at the start."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, Python {platform.python_version()}, "
            f"load average at start {load}")


def publish(name: str, title: str, body: str, *, write: bool) -> None:
    """Write the section (and say where), or only print it (a script's --no-write)."""
    if write:
        print(f"bench: wrote {write_section(name, title, body)}", file=sys.stderr)
    else:
        print(body)


def write_section(name: str, title: str, body: str) -> Path:
    """Replace (or append) the section `name` with `title` and `body`, stamped with machine and date."""
    stamp = f"_Measured {dt.date.today().isoformat()} on {machine()}._\n"
    section = f"<!-- begin:{name} -->\n## {title}\n\n{stamp}\n{body.rstrip()}\n<!-- end:{name} -->\n"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS.write_text(text)
    return BENCHMARKS
