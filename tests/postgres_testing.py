"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temporary folder, on a free loopback port.

    postgres_server   (session) the running cluster: .url(database), .admin_url, .create_database()
    postgres_url      a fresh, empty database's URL for one test

The server runs as an unprivileged user when the tests run as root (initdb refuses root): `nobody`, through
util-linux's runuser. Without PostgreSQL's programs the tests that need them are skipped, unless
FASHIONLENS_REQUIRE_POSTGRES=1 (CI, whose .ci/run installs Debian's postgresql), where they fail.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

USER, PASSWORD = "fashionlens", "test-secret"


def postgres_program(name: str) -> str | None:
    """A PostgreSQL program: on PATH, or where Debian's package puts it (not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    folder: Path
    port: int
    counter: itertools.count

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database (the tests never share one); its URL."""
        import psycopg

        name = f"test_{next(self.counter)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


def start_server(folder: Path) -> PostgresServer:
    initdb, pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(password_file, "nobody")
    data, port = folder / "data", free_port()
    subprocess.run(
        as_server_user(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={password_file}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    # fsync off: a test cluster need not survive a power cut, and the tests write often
    options = f"-k {folder} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
    subprocess.run(
        as_server_user([pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-w", "-o", options, "start"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return PostgresServer(folder, port, itertools.count())


def stop_server(folder: Path) -> None:
    if (folder / "data" / "postmaster.pid").exists():
        subprocess.run(
            as_server_user([postgres_program("pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )


@pytest.fixture(scope="session")
def postgres_server():
    if postgres_program("initdb") is None:
        reason = "PostgreSQL's initdb is not installed (apt-get install postgresql)"
        if os.environ.get("FASHIONLENS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}, and FASHIONLENS_REQUIRE_POSTGRES=1 requires the PostgreSQL tests to run")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="fashionlens-postgres-"))  # /tmp: reachable by the server's user
    try:
        server = start_server(folder)
        yield server
    finally:
        stop_server(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("FASHIONLENS_CACHE", str(tmp_path / "cache"))  # its index cache: in the test's folder
    return postgres_server.create_database()


# the PostgreSQL runs are `slow`: the first starts a throwaway cluster, each creates a database
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def catalog_at(request, tmp_path):
    """The store's behaviour suite runs once per kind of catalogue: a factory name -> a new location, a file
    in tmp_path (SQLite) or a fresh database of the throwaway cluster (PostgreSQL)."""
    if request.param == "sqlite":
        return lambda name="shop.db": tmp_path / name
    # the indexes of server catalogues are cached in this test's folder, not the user's cache
    request.getfixturevalue("monkeypatch").setenv("FASHIONLENS_CACHE", str(tmp_path / "cache"))
    server = request.getfixturevalue("postgres_server")
    return lambda name="shop.db": server.create_database()
