"""Fault injection for the fault tests: a TCP proxy on a loopback port of its own that can blackhole a service.

A blackholed service is the nasty case: it is reachable (connections are accepted, writes succeed) but never
answers, so every client waits for its own timeout. A stopped service refuses at once, which is easy.
The proxy only ever talks to loopback addresses.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from tests.servers import HOST, free_port


class BlackholeProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target`` until ``blackhole()``; from then on it accepts and reads
    everything and forwards nothing, in either direction, until ``restore()``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.holed = threading.Event()
        self._listener = socket.create_server((HOST, self.port))
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="blackhole-accept").start()

    def blackhole(self) -> None:
        self.holed.set()

    def restore(self) -> None:
        """Forward again; connections opened while the service was blackholed are closed, as a failed-over network
        would, so that clients reconnect instead of waiting on a dead stream."""
        self.holed.clear()
        self._close_connections()

    def close(self) -> None:
        self._stopped.set()
        with suppress(OSError):
            self._listener.close()
        self._close_connections()

    def _close_connections(self) -> None:
        connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(OSError):
                conn.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(client)
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._connections.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True, name="blackhole-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                if not self.holed.is_set():
                    sink.sendall(data)
        for conn in (source, sink):
            with suppress(OSError):
                conn.close()


PG_BIN = "/usr/lib/postgresql/15/bin"
PG_USER = "postgres"  # the OS user that runs the cluster: PostgreSQL refuses to run as root


class PrivatePostgres:
    """A PostgreSQL cluster of its own that a fault test may stop and start at will: ``initdb`` in a scratch
    directory under /tmp (owned by ``postgres`` when we run as root), trust authentication, a free port on
    127.0.0.1 only, its socket in that directory. The shared server on 5432 is never touched; ``close()`` stops the
    cluster through ``pg_ctl`` on its own data directory (never by a process name) and removes the directory.

    ``stop()`` is a fast shutdown (``-m fast``), as an operator's restart or a failover: open connections are cut.
    """

    def __init__(self, *, bin_dir: str = PG_BIN, os_user: str = PG_USER) -> None:
        import os
        import pwd
        import tempfile
        from pathlib import Path

        self.bin_dir = Path(bin_dir)
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.data_dir = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self._as_user: list[str] = []
        self._running = False
        if os.geteuid() == 0:
            entry = pwd.getpwnam(os_user)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", os_user, "--"]

    @staticmethod
    def unavailable(bin_dir: str = PG_BIN, os_user: str = PG_USER) -> str:
        """Why a private cluster cannot run here ('' if it can): for the suite's ``missing_service``."""
        import os
        import pwd
        import shutil
        from pathlib import Path

        missing = [tool for tool in ("initdb", "pg_ctl", "postgres") if not (Path(bin_dir) / tool).exists()]
        if missing:
            return f"PostgreSQL server binaries ({', '.join(missing)} in {bin_dir})"
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                return "runuser (to run PostgreSQL as its own OS user)"
            try:
                pwd.getpwnam(os_user)
            except KeyError:
                return f"the OS user {os_user!r} (to run PostgreSQL)"
        return ""

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/{name}"

    def _tool(self, tool: str, *args: str, timeout: float = 60) -> str:
        import subprocess

        try:
            done = subprocess.run(
                [*self._as_user, str(self.bin_dir / tool), *args],
                cwd=self.base,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"{tool} did not finish within {timeout} s") from error
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def init(self) -> PrivatePostgres:
        self._tool("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> PrivatePostgres:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses={HOST} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # a scratch cluster: speed over safety
        )
        self._tool(
            "pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.log_path), "-w", "-t", "30", "start"
        )
        self._running = True
        return self

    def stop(self) -> None:
        self._tool("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop")
        self._running = False

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=HOST, port=self.port, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def close(self) -> None:
        import shutil

        if self._running:
            with suppress(Exception):
                self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        try:
            return self.init().start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info) -> None:
        self.close()
