"""No query string reaches a request log (issue 15, item 8): search and filter terms may name a pupil, and the
Socket.IO query carries a session id. Each real server on a free loopback port, its log read back:

- ``flask portal serve`` (werkzeug, the development server) and ``flask portal serve`` in gevent mode;
- gunicorn with ``gunicorn.conf.py`` (the production worker class and access-log format), and the same with a
  hostile ``--access-logformat`` that asks for the request line, the query, the referer and the cookies.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.servers import HOST, ROOT, flask_cli, free_port, portal_env, prepare_database

NAME = "Jan de Vries"  # a pupil's name in a search
ROOM = "/rooms/0b7e4c1e-6d1c-4b8e-9a52-3f1d2c4b5a69"  # the room page is the signal search (anonymous: to sign-in)
REQUESTS = [
    ("/healthz?q=Jan+de+Vries", {}),
    (f"{ROOM}?q=Jan+de+Vries&school=Vaartzicht", {"Referer": f"http://127.0.0.1{ROOM}?q=Piet+Bakker"}),
    ("/api/v1/signals?q=Jan+de+Vries", {"Authorization": "Bearer pvs_secret-token-value"}),
    ("/privacy/subjects?key=LLN-4711", {"Cookie": "portal_session=secret-cookie-value"}),
    ("/socket.io/?EIO=4&transport=polling&t=sid-token-value", {}),
]
HOSTILE_FORMAT = (
    '%(r)s %(q)s %(U)s "%({referer}i)s" "%({cookie}i)s" "%({authorization}i)s" "%({set-cookie}o)s" "%({location}o)s"'
    ' "%({raw_uri}e)s" "%({werkzeug.request}e)s"'
)
NEVER = ["Jan", "Vries", "Piet", "q=", "LLN-4711", "EIO=", "token-value", "secret-cookie-value", "?"]


@pytest.fixture(scope="module")
def database_file(tmp_path_factory) -> str:
    return prepare_database(tmp_path_factory.mktemp("access-logs") / "portal.sqlite3")


def _command(kind: str, port: int) -> tuple[list[str], dict[str, str]]:
    if kind.startswith("gunicorn"):
        command = [str(Path(sys.executable).with_name("gunicorn")), "--config", str(ROOT / "gunicorn.conf.py")]
        command += ["--workers", "1", "--bind", f"{HOST}:{port}", "--no-control-socket", "--graceful-timeout", "2"]
        if kind == "gunicorn-hostile-format":
            command += ["--access-logformat", HOSTILE_FORMAT]
        production = {"PORTAL_ENV": "production", "PORTAL_DEMO_MODE": "0", "PORTAL_SOCKETIO_ASYNC_MODE": "gevent"}
        return [*command, "wsgi:app"], production
    command = flask_cli("portal", "serve", "--host", HOST, "--port", str(port))
    return command, {"PORTAL_SOCKETIO_ASYNC_MODE": "gevent" if kind == "serve-gevent" else "threading"}


def _malformed_request(port: int) -> None:
    """A request line with the search term unencoded (spaces): servers quote such lines in their error messages."""
    with socket.create_connection((HOST, port), timeout=5) as connection:
        connection.sendall(f"GET {ROOM}?q={NAME} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        connection.recv(1024)


@pytest.mark.parametrize("kind", ["serve", "serve-gevent", "gunicorn", "gunicorn-hostile-format"])
def test_request_logs_hold_the_path_and_never_the_query(kind, database_file, tmp_path):
    port = free_port()
    command, extra = _command(kind, port)
    env = {**portal_env(database_file, base_url=f"http://{HOST}:{port}"), **extra}
    log_path = tmp_path / f"{kind}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if requests.get(f"http://{HOST}:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        for path, headers in REQUESTS:
            requests.get(f"http://{HOST}:{port}{path}", headers=headers, timeout=5, allow_redirects=False)
        _malformed_request(port)
        expected = [ROOM, "/api/v1/signals", "/privacy/subjects", "/socket.io/"]
        deadline = time.monotonic() + 5
        while not all(path in log_path.read_text() for path in expected) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)  # gunicorn's master stops its own worker
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    text = log_path.read_text()
    request_lines = [line for line in text.splitlines() if "GET /" in line]
    assert len(request_lines) >= len(REQUESTS) + 1, text  # the health checks and the requests
    for path in ["/healthz", *expected]:
        assert any(path in line for line in request_lines), f"{path} not logged:\n{text}"
    leaked = [line for line in text.splitlines() for word in NEVER if word in line and "MonkeyPatch" not in line]
    assert leaked == [], text
