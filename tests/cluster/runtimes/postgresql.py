"""The PostgreSQL image's contract (sclorg/postgresql-container, which registry.redhat.io/rhel9/postgresql-16 is
built from) on this machine's PostgreSQL server (Debian's postgresql package):

- `run-postgresql`: POSTGRESQL_USER, POSTGRESQL_PASSWORD and POSTGRESQL_DATABASE are required (else the image's
  message and exit 1); the data lives in `/var/lib/pgsql/data/userdata`, initialised on first start; the user and
  its database are created (the password set on every start, as the image does); the server listens on 5432 of
  every address with password authentication for remote clients.
- `check` (`/usr/libexec/check-container`, the readiness and liveness probe): `pg_isready` on the local socket.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

DATA = Path("/var/lib/pgsql/data/userdata")
SOCKET_DIR = Path("/tmp")
REQUIRED = ("POSTGRESQL_USER", "POSTGRESQL_PASSWORD", "POSTGRESQL_DATABASE")
USAGE = """You must either specify the following environment variables:
  POSTGRESQL_USER (regex: '^[a-zA-Z0-9_]+$')
  POSTGRESQL_PASSWORD (regex: '^[a-zA-Z0-9_~!@#$%^&*()-=<>,.?;:|]+$')
  POSTGRESQL_DATABASE (regex: '^[a-zA-Z0-9_]+$')"""


def binaries() -> Path:
    """The newest installed server's bin folder."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        sys.exit("run-postgresql: no PostgreSQL server installed (Debian's postgresql package)")
    return found[-1].parent


def _sql(bindir: Path, statement: str) -> None:
    subprocess.run(
        [str(bindir / "psql"), "-h", str(SOCKET_DIR), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", statement],
        check=True,
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def run() -> int:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(USAGE, file=sys.stderr)
        return 1
    bindir = binaries()
    user, password, database = (os.environ[n] for n in REQUIRED)
    if not (DATA / "PG_VERSION").exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(bindir / "initdb"), "-D", str(DATA), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"], check=True)
        with (DATA / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
    server = subprocess.Popen([str(bindir / "postgres"), "-D", str(DATA), "-k", str(SOCKET_DIR), "-c", "listen_addresses=*", "-p", "5432"])  # noqa: S603
    for _ in range(100):
        if subprocess.run([str(bindir / "pg_isready"), "-h", str(SOCKET_DIR), "-U", "postgres", "-q"], check=False).returncode == 0:
            break
        if server.poll() is not None:
            return server.returncode
        time.sleep(0.2)
    exists = subprocess.run(
        [str(bindir / "psql"), "-h", str(SOCKET_DIR), "-U", "postgres", "-tAc", f"SELECT 1 FROM pg_roles WHERE rolname = {_literal(user)}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    verb = "ALTER" if exists else "CREATE"
    _sql(bindir, f'{verb} ROLE "{user}" WITH LOGIN PASSWORD {_literal(password)}')
    has_db = subprocess.run(
        [str(bindir / "psql"), "-h", str(SOCKET_DIR), "-U", "postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = {_literal(database)}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not has_db:
        _sql(bindir, f'CREATE DATABASE "{database}" OWNER "{user}"')
    print("Starting server...", flush=True)
    return server.wait()


def check() -> int:
    return subprocess.run([str(binaries() / "pg_isready"), "-h", str(SOCKET_DIR), "-U", "postgres", "-q"], check=False).returncode


if __name__ == "__main__":
    sys.exit(check() if sys.argv[1:2] == ["check"] else run())
