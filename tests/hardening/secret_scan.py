"""Secret scanner for the repository: detect-secrets (Yelp's scanner, every plugin, its default filters) plus the
well-known default passwords of the tools in this field, which no entropy or keyword rule is sure to catch."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

# Default credentials that demo repositories of this field ship (MinIO's, Jupyter's, PostgreSQL templates' ...).
# Spelled in pieces so that this file does not match itself.
DEFAULT_PASSWORDS = ["minio" + "123", "minio" + "admin", "change" + "me", "change" + "it", "admin" + "123",
                     "pass" + "word123", "pass" + "w0rd", "s3cr" + "3t", "letme" + "in", "hun" + "ter2",
                     "super" + "secret", "redhat" + "123", "open" + "shift123"]
DEFAULT_PASSWORD = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(DEFAULT_PASSWORDS) + r")(?![A-Za-z0-9])", re.I)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    value: str


def tracked_files(repo: Path) -> list[str]:
    """Paths (relative to ``repo``) that git tracks, plus untracked files it does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout
    return sorted({path for path in out.split("\0") if path and (repo / path).is_file()})


def scan(root: Path, paths: list[str]) -> list[Finding]:
    """Every potential secret in ``paths`` (relative to ``root``), sorted by path and line."""
    findings: set[Finding] = set()
    collection = SecretsCollection(root=str(root))
    with default_settings():
        collection.scan_files(*paths, num_processors=1)
    for path, secret in collection:
        findings.add(Finding(path, secret.line_number or 0, secret.type, secret.secret_value or ""))
    for path in paths:
        try:
            text = (root / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for match in DEFAULT_PASSWORD.finditer(line):
                findings.add(Finding(path, number, "Default Password", match.group(1)))
    return sorted(findings, key=lambda f: (f.path, f.line, f.kind))
