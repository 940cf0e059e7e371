"""A throwaway PostgreSQL server for the test session (Debian's binaries, run unprivileged).

`postgres_server()` yields a URL for the session; `PostgresServer` is the same server as an
object that can also be stopped and started again on its port (the restart test). Under
`CI=1` (`.ci/run`) a missing PostgreSQL fails the tests that need it instead of skipping them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

BOTH_DATABASES = ("sqlite", "postgres")


def find_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    return None


def unavailable(what: str = "PostgreSQL is not installed here") -> NoReturn:
    """Skip, or fail under CI: CI must run the PostgreSQL tests."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL tests: {what}")
    pytest.skip(f"{what} (`.ci/run` installs it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    # The server refuses to run as root; drop to the `postgres` account when we are root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PostgresServer:
    """initdb'd into a temporary directory, listening on 127.0.0.1 on a port of its own."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="mentorbot-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = _as_postgres([str(self.bindir / program), *args])
        subprocess.run(command, check=check, capture_output=True, text=True)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                  "-w", "start")  # fmt: skip
        _wait_ready(self.port)

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are ended and open transactions rolled back; `immediate`: as if
        the server died. Returns once the server is down."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    @property
    def running(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def fresh_database(self) -> str:
        return fresh_database(self.url)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def throwaway_server() -> Iterator[PostgresServer]:
    """A server of the caller's own (stopped and started at will), removed afterwards."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found: apt-get install postgresql")
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextmanager
def postgres_server() -> Iterator[str]:
    with throwaway_server() as server:
        yield server.url


def fresh_database(server_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def database_for(request: pytest.FixtureRequest, directory: Path, name: str = "e2e") -> str:
    """For a fixture parametrized by `on_both_databases`: a SQLite file in `directory`, or a
    fresh database on the session's PostgreSQL server. Unparametrized: SQLite."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{directory}/{name}.sqlite3"
    return fresh_database(request.getfixturevalue("postgres_server_url"))


def on_both_databases(fixture: str = "world") -> pytest.MarkDecorator:
    """Run the test with `fixture` on SQLite and on PostgreSQL (the fixture reads the choice
    with `database_for`)."""
    return pytest.mark.parametrize(fixture, BOTH_DATABASES, indirect=True)


def _wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not accept connections on port {port}")
