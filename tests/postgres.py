"""A private PostgreSQL server for the tests: Debian's `postgresql` binaries, a fresh cluster in a
temporary folder, listening on a free loopback port; stopped when the test session ends.

`.ci/run` (through `make test`) installs the package when it is missing; a machine without it
skips these tests locally, and fails them in CI (CI=true), so they cannot silently not run.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from api.background import free_port


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway cluster and yield its URL (user `sena`, database `sena`)."""
    bin_dir = binaries()
    if bin_dir is None:
        message = "PostgreSQL is not installed (apt-get install postgresql; `make test` does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="sena-pg-"))
    data, port = root / "data", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the package's user
        user = "postgres" if _has_user("postgres") else "nobody"
        shutil.chown(root, user)
        root.chmod(0o700)
        as_user = ["runuser", "-u", user, "--"]
    run = [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "sena", "--auth=trust", "-E", "UTF8"]
    subprocess.run(run, check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
    subprocess.run(start, check=True, capture_output=True)
    try:
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "sena", "sena"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://sena@127.0.0.1:{port}/sena"
    finally:
        stop = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def fresh_database(server_url: str) -> str:
    """Create an empty database on the server (one per test, so thread ids never collide)."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"
