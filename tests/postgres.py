"""A throwaway Postgres server from Debian's packages, for the cluster profile's tests: its own
data directory, loopback only, trust authentication, stopped and deleted afterwards. initdb
refuses to run as root, so as root the server runs as the `postgres` user."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    db: str

    def dagster_env(self) -> dict[str, str]:
        """The variables the cluster profile's instance reads (tracekd_assets/instance.yaml)."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": self.db, "TRACEKD_K8S_NAMESPACE": "tracekd"}  # fmt: skip


def postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_postgres(db: str = "dagster") -> Iterator[Postgres]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError("Postgres is not installed (Debian: apt-get install postgresql; scripts/debian_packages.sh does it)")
    root = Path(tempfile.mkdtemp(prefix="tracekd-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port, user = root / "data", _free_port(), "tracekd"

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "--no-sync")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "start",
            "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200")  # fmt: skip
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, db)
        yield Postgres("127.0.0.1", port, user, db)
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
