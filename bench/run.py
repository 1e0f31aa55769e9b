"""``make bench``: the portal's live fan-out and its HTTP pages under load, side by side with a bare Node anchor.

Prints one table and judges it against ``bench/targets.toml``. Not a test: nothing here fails a build.

What it does (bench/README.md explains how to read the table):

1. Seeds a scratch PostgreSQL database ``portal_bench`` (``bench/seed.py``; reused while it still fits).
2. Fan-out. Starts, side by side, the anchor (``bench/anchor.js``: socket.io 4 with the same contract) and the
   portal the way production runs it: gunicorn with gevent-websocket's worker, ``PORTAL_SOCKETIO_ASYNC_MODE=gevent``
   (``wsgi.py`` monkey-patches), 1 worker, and 2 workers on the Redis message queue. One Node load generator per
   server (``bench/loadgen.js``) holds N authenticated clients in the Almere Stad district room (N = 500, 1,000,
   2,000), posts signals (to the portal through ``POST /api/v1/signals``) and times every delivery with one clock.
   Runs are interleaved: anchor, portal, portal + Redis, in a rotating order, R times per N.
3. HTTP. The portal (2 workers + Redis) with ``PORTAL_BENCH_COUNT_QUERIES=1``: the room page and
   ``GET /api/v1/signals`` (filters, search, cursor) over 100,000 signals, from a few concurrent keep-alive clients
   (``bench/httpload.js``), with the SQL statements per request from the ``X-Query-Count`` header.

Loopback only; every phase has a deadline; only the processes started here are stopped (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.cookiejar
import json
import os
import platform
import queue
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
STATE_DIR = BENCH / ".state"
LOG_DIR = STATE_DIR / "logs"
SEED_STATE = STATE_DIR / "seed.json"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
DEMO_PASSWORD = "Almere-demo-2026"  # noqa: S105 (the demo accounts' documented password, demo data only)
WORKER_CLASS = "portal.realtime.worker.PortalWebSocketWorker"  # gevent-websocket with a 1 KB read buffer
WORKER_CONNECTIONS = 10_000
WARM_CLIENTS = 40
# HTTP: the latency budget is judged with one client per worker (a server that is not saturated: what a person
# waits); the throughput loop saturates both cores, and its latency is mostly queueing (reported, not judged).
LATENCY_CLIENTS = 2
THROUGHPUT_CLIENTS = 8

MODES = {
    "full": {
        "sizes": [500, 1000, 2000],
        "runs": 5,
        "signals": 10,
        "http_requests": 1500,
        "deadline_s": 40 * 60,
    },
    "quick": {
        "sizes": [100, 300],
        "runs": 2,
        "signals": 5,
        "http_requests": 300,
        "deadline_s": 15 * 60,
    },
}
SYSTEMS = ("node", "portal-1w", "portal-2w")
LABELS = {
    "node": "Node socket.io 4 (anchor)",
    "portal-1w": "portal, 1 worker",
    "portal-2w": "portal, 2 workers + Redis",
}


class BenchError(RuntimeError):
    """Something the bench needs is missing or a phase overran its deadline; the message says what."""


def _now() -> datetime:
    return datetime.now(UTC).astimezone()


def say(message: str) -> None:
    print(f"[bench {_now().strftime('%H:%M:%S')}] {message}", flush=True)


# --- processes: everything started here, and only that, is stopped here ---------------------------------------


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces: split after its closing parenthesis
    return [str(pid), raw[raw.index("(") + 1 : raw.rindex(")")], *raw[raw.rindex(")") + 2 :].split()]


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and int(stat[4]) == pgid:
                members.append(int(entry.name))
    return members


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and int(stat[3]) == pid:
                kids.append(int(entry.name))
    return sorted(kids)


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    stat = _proc_stat(pid)
    return (int(stat[13]) + int(stat[14])) / CLOCK_TICKS if stat else 0.0


class Processes:
    """Each process is started in a session of its own; stopping it signals that process group only."""

    def __init__(self) -> None:
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], env: dict | None = None, *, pipes: bool = False) -> subprocess.Popen:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"{name}.log", "ab")  # noqa: SIM115 (kept open for the child's lifetime)
        log.write(f"\n=== {_now().isoformat()} {' '.join(cmd)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        self.started.append((name, process))
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 10) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        # The group leader is gone; anything left in its group (gunicorn workers) was started by it.
        for pid in group_members(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait(5)

    def stop_all(self) -> None:
        for _name, process in reversed(self.started):
            self.stop(process, timeout=8)
        self.started.clear()


PROCESSES = Processes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_json(method: str, url: str, body: dict | None = None, headers: dict | None = None, timeout: float = 15):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback URLs built here)
        return response.status, json.loads(response.read() or b"null")


def wait_until(predicate, deadline_s: float, what: str, interval: float = 0.25):
    end = time.monotonic() + deadline_s
    last_error: Exception | None = None
    while time.monotonic() < end:
        try:
            result = predicate()
            if result:
                return result
        except (OSError, urllib.error.URLError, ValueError) as error:
            last_error = error
        time.sleep(interval)
    raise BenchError(f"{what}: not ready after {deadline_s:.0f} s ({last_error})")


# --- servers ----------------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen | None = None
    workers: int = 0  # gunicorn workers (0: the anchor, a single Node process)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def pids(self) -> list[int]:
        """The processes that hold the connections: gunicorn's workers, or the Node process."""
        assert self.process is not None
        return children_of(self.process.pid) if self.workers else [self.process.pid]

    def rss_kb(self) -> int:
        return sum(rss_kb(pid) for pid in self.pids())

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.process is not None:
            PROCESSES.stop(self.process)
            self.process = None


def portal_env(port: int, *, redis: bool, count_queries: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))}
    env.update(
        PORTAL_ENV="production",
        PORTAL_SECRET_KEY=secrets.token_urlsafe(48),
        PORTAL_DATABASE_URL=DATABASE_URL,
        PORTAL_SOCKETIO_ASYNC_MODE="gevent",
        PORTAL_BASE_URL=f"http://{HOST}:{port}",
    )
    if redis:
        env["PORTAL_REDIS_URL"] = REDIS_URL
    if count_queries:
        env["PORTAL_BENCH_COUNT_QUERIES"] = "1"
    return env


def start_portal(name: str, workers: int, *, redis: bool, count_queries: bool = False) -> Server:
    port = free_port()
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "--worker-class",
        WORKER_CLASS,
        "--workers",
        str(workers),
        "--worker-connections",
        str(WORKER_CONNECTIONS),
        "--bind",
        f"{HOST}:{port}",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--no-control-socket",
        "--log-level",
        "warning",
        "wsgi:app",
    ]
    server = Server(name, port, workers=workers)
    server.process = PROCESSES.start(name, cmd, portal_env(port, redis=redis, count_queries=count_queries))
    wait_until(lambda: http_json("GET", server.base + "/healthz")[0] == 200, 60, f"{name} /healthz")
    wait_until(lambda: len(server.pids()) == workers, 30, f"{name} workers")
    settle(server)
    return server


def settle(server: Server, deadline_s: float = 30) -> None:
    """Wait until every worker has finished booting (its CPU time stops climbing)."""
    end = time.monotonic() + deadline_s
    previous = server.cpu()
    while time.monotonic() < end:
        time.sleep(0.5)
        now = server.cpu()
        if now - previous < 0.05:
            return
        previous = now


def start_anchor(seed_state: Path) -> Server:
    port = free_port()
    server = Server("node", port)
    cmd = ["node", str(BENCH / "anchor.js"), "--port", str(port), "--tokens", str(seed_state)]
    server.process = PROCESSES.start("anchor", cmd)
    wait_until(lambda: http_json("GET", server.base + "/healthz")[0] == 200, 30, "anchor /healthz")
    return server


class LoadGenerator:
    """One ``bench/loadgen.js`` process: commands as JSON lines, one JSON line back per command."""

    def __init__(self, name: str, config: dict) -> None:
        STATE_DIR.mkdir(exist_ok=True)
        path = STATE_DIR / f"loadgen-{name}.json"
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        self.process = PROCESSES.start(
            f"loadgen-{name}", ["node", str(BENCH / "loadgen.js"), "--config", str(path)], pipes=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.decode())
        self.lines.put("")

    def command(self, payload: dict, deadline_s: float) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(payload) + "\n").encode())
        self.process.stdin.flush()
        try:
            line = self.lines.get(timeout=deadline_s)
        except queue.Empty as exc:
            raise BenchError(f"load generator: {payload['cmd']} took longer than {deadline_s:.0f} s") from exc
        if not line:
            raise BenchError(f"load generator exited during {payload['cmd']} (see {LOG_DIR})")
        answer = json.loads(line)
        if answer.get("event") == "error":
            raise BenchError(f"load generator: {answer.get('error')}")
        return answer

    def close(self) -> None:
        with contextlib.suppress(BenchError, BrokenPipeError, OSError):
            self.command({"cmd": "quit"}, 20)
        PROCESSES.stop(self.process)


# --- seeding ----------------------------------------------------------------------------------------------------


def seed(args, users: int) -> dict:
    cmd = [
        sys.executable,
        str(BENCH / "seed.py"),
        "--database-url",
        DATABASE_URL,
        "--users",
        str(users),
        "--signals",
        str(args.signals_in_db),
        "--state",
        str(SEED_STATE),
    ]
    if args.fresh_db:
        cmd.append("--fresh")
    say("seeding the bench database (first time: a few minutes; then reused)")
    process = PROCESSES.start("seed", cmd)
    try:
        process.wait(timeout=25 * 60)
    except subprocess.TimeoutExpired as exc:
        PROCESSES.stop(process)
        raise BenchError("seeding took longer than 25 minutes") from exc
    log = (LOG_DIR / "seed.log").read_text(errors="replace").rsplit("\n=== ", 1)[-1].splitlines()
    for line in log:
        if line.startswith("[seed]"):
            say(line)
    if process.returncode != 0:
        raise BenchError(f"seeding failed (exit {process.returncode}); see {LOG_DIR / 'seed.log'}")
    return json.loads(SEED_STATE.read_text())


def flush_redis() -> None:
    """Empty this bench's own Redis database (index from BENCH_REDIS_URL), nothing else."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    client.flushdb()
    client.close()


def signal_count() -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(DATABASE_URL)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM signals")).scalar_one()
    engine.dispose()
    return count


# --- fan-out phase ----------------------------------------------------------------------------------------------


@dataclass
class FanoutRun:
    system: str
    clients: int
    run: int
    result: dict
    cpu_s: float


@dataclass
class Level:
    system: str
    clients: int
    connect: dict
    rss_kb_per_conn: float | None


@dataclass
class Results:
    mode: str
    started: str
    environment: dict = field(default_factory=dict)
    levels: list[Level] = field(default_factory=list)
    runs: list[FanoutRun] = field(default_factory=list)
    http: list[dict] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def signal_template(portal: Server, token: str) -> dict:
    """A realistic signal for the API (valid codes from the taxonomy), about 1 KB as the clients receive it."""
    _status, taxonomy = http_json("GET", portal.base + "/api/v1/taxonomy", headers={"Authorization": f"Bearer {token}"})
    vocabularies = taxonomy["vocabularies"]
    category = next(c for c in vocabularies["category"] if c.get("children"))

    def pick(vocabulary: str, preferred: str) -> str:
        codes = [t["code"] for t in vocabularies[vocabulary]]
        return preferred if preferred in codes else codes[0]

    return {
        "occurred_on": datetime.now(UTC).date().isoformat(),  # the API refuses dates after its UTC today
        "daypart": "middag",
        "category": category["code"],
        "subcategory": category["children"][0]["code"],
        "location_type": pick("location_type", "directe_schoolomgeving"),
        "severity": pick("severity", "midden"),
        "summary": "",
        "details_html": (
            "<p>Na schooltijd ontstond bij de fietsenstalling een vechtpartij tussen twee groepen leerlingen. "
            "Omstanders filmden het en deelden de beelden in een groepsapp.</p><p>De mentoren zijn ingelicht, de "
            "ouders zijn gebeld en de school houdt de komende weken extra toezicht bij het fietsenhok.</p>"
        ),
        "involved_counts": {"leerlingen": 4},
        "age_bands": ["12-15"],
        "police_involved": False,
        "sharing_scope": "stadsdeelnetwerk",
        "classification": "K2",
    }


def sample_presented_signal(portal: Server, token: str, template: dict) -> dict:
    """Post one signal through the API and keep the answer: the anchor sends a payload of the same shape and size."""
    body = {**template, "summary": "Benchmark: voorbeeldsignaal voor de anchor"}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"bench-sample-{secrets.token_hex(8)}"}
    status, presented = http_json("POST", portal.base + "/api/v1/signals", body, headers)
    if status not in (200, 201):
        raise BenchError(f"posting a sample signal answered {status}")
    return presented


def fanout_phase(args, mode: dict, state: dict, results: Results) -> None:
    sizes, runs, signals = mode["sizes"], mode["runs"], mode["signals"]
    say(f"fan-out: N = {sizes}, {runs} runs of {signals} signals per N and server, interleaved")
    flush_redis()
    servers = {
        "node": start_anchor(SEED_STATE),
        "portal-1w": start_portal("portal-1w", 1, redis=False),
        "portal-2w": start_portal("portal-2w", 2, redis=True),
    }
    generators: dict[str, LoadGenerator] = {}
    try:
        posters = state["posters"]
        template = signal_template(servers["portal-1w"], posters[0])
        presented = sample_presented_signal(servers["portal-1w"], posters[0], template)
        results.environment["payload_bytes"] = len(json.dumps({"room": state["room"], "seq": 1, "signal": presented}))
        tokens = [u["token"] for u in state["users"]]
        run_tag = _now().strftime("%H%M%S")
        for name, server in servers.items():
            portal = name != "node"
            generators[name] = LoadGenerator(
                name,
                {
                    "url": server.base,
                    "namespace": "/live",
                    "tokens": tokens,
                    "publish": {
                        "mode": "portal" if portal else "anchor",
                        "url": server.base + ("/api/v1/signals" if portal else "/publish"),
                        "tokens": posters,
                        "template": template if portal else presented,
                    },
                    "run": f"{run_tag}{name}",
                    "connectConcurrency": 50,
                    "connectTimeoutMs": 60000,
                    "signalTimeoutMs": 10000,
                    "pauseMs": 300,
                    "deadlineMs": int(mode["deadline_s"] * 1000),
                    "deflate": args.deflate,
                },
            )
        baseline = {}
        for name, generator in generators.items():
            warm = generator.command({"cmd": "warm", "count": WARM_CLIENTS}, 120)
            if warm["publish"]["lost"]:
                results.notes.append(f"{name}: warm-up lost {warm['publish']['lost']} of {warm['publish']['expected']}")
            time.sleep(1)
            baseline[name] = servers[name].rss_kb()
        for n in sizes:
            for name, generator in generators.items():
                deadline = 60 + n * (0.3 if name != "node" else 0.05)
                say(f"  N={n}: connecting {LABELS[name]}")
                connected = generator.command({"cmd": "connect", "total": n}, deadline)
                time.sleep(1)  # let the last handshakes settle before reading memory
                held = connected["held"]
                grown = servers[name].rss_kb() - baseline[name]
                results.levels.append(Level(name, n, connected, grown / held if held else None))
                if connected["failed"]:
                    results.notes.append(f"{name} N={n}: {connected['failed']} clients failed: {connected['errors']}")
            for run in range(runs):
                order = list(SYSTEMS[run % 3 :] + SYSTEMS[: run % 3])
                for name in order:
                    cpu_before = servers[name].cpu()
                    result = generators[name].command({"cmd": "publish", "signals": signals}, signals * 12 + 60)
                    cpu = servers[name].cpu() - cpu_before
                    results.runs.append(FanoutRun(name, n, run + 1, result, cpu))
                    say(
                        f"  N={n} run {run + 1} {LABELS[name]}: p99 {fmt_ms(result['p99_ms'])} ms, "
                        f"{result['received']}/{result['expected']} delivered"
                    )
    finally:
        for generator in generators.values():
            generator.close()
        for server in servers.values():
            server.stop()


# --- HTTP phase -------------------------------------------------------------------------------------------------


def login(base: str, email: str) -> str:
    """Sign in once through the login form (CSRF token and all); returns the Cookie header of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    with opener.open(base + "/auth/login", timeout=15) as response:
        page = response.read().decode()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    if not match:
        raise BenchError("no CSRF token on the login page")
    form = urllib.parse.urlencode({"csrf_token": match.group(1), "email": email, "password": DEMO_PASSWORD})
    request = urllib.request.Request(base + "/auth/login", data=form.encode(), method="POST")  # noqa: S310
    try:
        opener.open(request, timeout=30)
    except urllib.error.HTTPError as error:
        if error.code != 302:
            raise BenchError(f"signing in as {email} answered {error.code}") from error
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session" not in cookies:
        raise BenchError("signing in gave no session cookie")
    return cookies


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def get(base: str, path: str, headers: dict) -> tuple[int, dict, str]:
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode(errors="replace")


def cursor_for(signal_id: int) -> str:
    """A keyset cursor as the portal encodes it (queries.encode_cursor): any id is a valid place to continue."""
    return base64.urlsafe_b64encode(f"s{signal_id}".encode()).decode().rstrip("=")


def http_targets(base: str, state: dict, cookie: str, max_id: int) -> dict[str, list[dict]]:
    room = state["room"]
    api_tokens = [u["token"] for u in state["users"][:100]]
    today = _now().date()
    quarter = (today - timedelta(days=90)).isoformat()
    # Follow real cursors: pages 2-4 of the room page and of the API list, and of a search.
    page_headers = {"Cookie": cookie}
    room_paths = [
        f"/rooms/{room}",
        f"/rooms/{room}?category=geweld",
        f"/rooms/{room}?severity=hoog",
        f"/rooms/{room}?start={quarter}&end={today.isoformat()}",
        f"/rooms/{room}?status=gedeeld&location_type=schoolterrein",
        f"/rooms/{room}?category=drugs&severity=midden",
        f"/rooms/{room}?cursor={cursor_for(max_id // 2)}",
        f"/rooms/{room}?category=geweld&cursor={cursor_for(max_id // 5)}",
    ]
    path = f"/rooms/{room}"
    for _ in range(3):
        status, _headers, body = get(base, path, page_headers)
        found = re.search(r'href="([^"]*cursor=[^"]+)"', body) if status == 200 else None
        if not found:
            break
        path = found.group(1).replace("&amp;", "&")
        room_paths.append(path)
    token_headers = {"Authorization": f"Bearer {api_tokens[0]}"}
    list_paths = [
        "/api/v1/signals",
        f"/api/v1/signals?room={room}",
        f"/api/v1/signals?room={room}&category=geweld",
        f"/api/v1/signals?severity=hoog&from={quarter}&to={today.isoformat()}",
        "/api/v1/signals?status=gedeeld&location_type=schoolterrein",
        f"/api/v1/signals?room={room}&limit=100",
        f"/api/v1/signals?room={room}&cursor={cursor_for(max_id // 2)}",
        f"/api/v1/signals?category=drugs&cursor={cursor_for(max_id // 5)}",
    ]
    api_path = f"/api/v1/signals?room={room}"
    for _ in range(3):
        status, _headers, body = get(base, api_path, token_headers)
        next_url = json.loads(body).get("next") if status == 200 else None
        if not next_url:
            break
        api_path = next_url
        list_paths.append(api_path)
    reference = _reference_of(max_id // 2)
    search_paths = [
        "/api/v1/signals?q=fietsenstalling",
        f"/api/v1/signals?q=mes&room={room}",
        "/api/v1/signals?q=lachgas+schoolplein",
        f"/api/v1/signals?q=vechtpartij&severity=hoog&room={room}",
        "/api/v1/signals?q=dreigende+berichten&from=" + quarter,
        "/api/v1/signals?q=ouders",
        # By reference (exact, and lower case without leading zeros) and by category, subcategory and platform label.
        f"/api/v1/signals?q={reference}",
        f"/api/v1/signals?q={reference.lower().replace('-0', '-')}",
        "/api/v1/signals?q=wapens",
        f"/api/v1/signals?q=weapons&room={room}",
        "/api/v1/signals?q=sextortion",
        f"/api/v1/signals?q=snapchat&severity=hoog&from={quarter}",
        f"/api/v1/signals?q=tiktok&room={room}&cursor={cursor_for(max_id // 2)}",
    ]
    search_path = "/api/v1/signals?q=schoolplein"
    for _ in range(2):
        status, _headers, body = get(base, search_path, {"Authorization": f"Bearer {api_tokens[1]}"})
        next_url = json.loads(body).get("next") if status == 200 else None
        if not next_url:
            break
        search_path = next_url
        search_paths.append(search_path)

    def with_tokens(paths: list[str]) -> list[dict]:
        # Many users (the API limits searches per user and minute); each target pairs a path with a token.
        count = max(len(paths), len(api_tokens))
        return [
            {"path": paths[i % len(paths)], "headers": {"Authorization": f"Bearer {api_tokens[i % len(api_tokens)]}"}}
            for i in range(count)
        ]

    return {
        "room page (GET /rooms/<id>)": [{"path": p, "headers": page_headers} for p in room_paths],
        "list API: filters + cursor": with_tokens(list_paths),
        "list API: search q (+ filters, cursor)": with_tokens(search_paths),
    }


def query_probe(base: str, state: dict, cookie: str) -> list[dict]:
    """SQL statements for a page with a few rows and for a full page: equal when nothing is loaded per row."""
    room = state["room"]
    page = {"Cookie": cookie}
    token = {"Authorization": f"Bearer {state['users'][150]['token']}"}
    # A few rows on the room page: continue from a cursor just above the oldest signals.
    few_rows_page = f"/rooms/{room}"
    lowest = _signal_id("min")
    for step in (30, 100, 300, 1000, 3000):
        path = f"/rooms/{room}?cursor={cursor_for(lowest + step)}"
        status, _headers, body = get(base, path, page)
        if status == 200 and 1 <= _rows_in(body) < 25:
            few_rows_page = path
            break
    probes = [
        ("room page", few_rows_page, f"/rooms/{room}", page),
        ("list API", f"/api/v1/signals?limit=1&room={room}", f"/api/v1/signals?limit=100&room={room}", token),
        (
            "list API search",
            "/api/v1/signals?q=fietsenstalling&limit=1",
            "/api/v1/signals?q=fietsenstalling&limit=100",
            token,
        ),
    ]
    out = []
    for name, few, many, headers in probes:
        counts = {}
        for label, path in (("few", few), ("many", many)):
            # The steady state: the least of three (the first use of a token or a session in a minute also records
            # it: last_used_at, last_seen_at and an audit record).
            tries = [get(base, path, headers) for _ in range(3)]
            status, _headers, body = tries[-1]
            counts[label] = {
                "status": status,
                "queries": min(int(h.get("X-Query-Count", -1)) for _s, h, _b in tries),
                "rows": _rows_in(body),
                "path": path,
            }
        out.append({"name": name, **counts})
    return out


def _signal_id(which: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(DATABASE_URL)
    with engine.connect() as conn:
        query = "SELECT min(id) FROM signals" if which == "min" else "SELECT max(id) FROM signals"
        value = conn.execute(sa.text(query)).scalar_one()
    engine.dispose()
    return int(value or 1)


def _reference_of(signal_id: int) -> str:
    """The reference of the signal with this id or the next older one (a search by reference)."""
    import sqlalchemy as sa

    engine = sa.create_engine(DATABASE_URL)
    with engine.connect() as conn:
        query = sa.text("SELECT reference FROM signals WHERE id <= :id ORDER BY id DESC LIMIT 1")
        value = conn.execute(query, {"id": signal_id}).scalar()
    engine.dispose()
    return value or "SIG-2026-0001"


def _rows_in(body: str) -> int:
    try:
        return len(json.loads(body)["signals"])
    except (ValueError, KeyError, TypeError):
        return len(re.findall(r'data-signal-id="[^"]+"', body))


def http_phase(mode: dict, state: dict, results: Results) -> None:
    say("HTTP: portal with 2 workers + Redis, SQL statements counted (PORTAL_BENCH_COUNT_QUERIES=1)")
    flush_redis()
    server = start_portal("portal-http", 2, redis=True, count_queries=True)
    try:
        cookie = login(server.base, state["login_email"])
        targets = http_targets(server.base, state, cookie, _signal_id("max"))
        results.probes = query_probe(server.base, state, cookie)
        for name, entries in targets.items():
            status, _headers, body = get(server.base, entries[0]["path"], entries[0]["headers"])
            if status != 200:
                excerpt = re.sub(r"\s+", " ", body)[:200]
                results.notes.append(f"{name}: {entries[0]['path']} answered {status}, not measured: {excerpt}")
                say(f"  {name}: answered {status}; skipped (see {LOG_DIR / 'portal-http.log'})")
                continue
            loops = [
                (min(60, mode["http_requests"]), 8, None),  # warm-up: templates, pools, prepared statements
                (mode["http_requests"] // 2, LATENCY_CLIENTS, "latency"),
                (mode["http_requests"], THROUGHPUT_CLIENTS, "throughput"),
            ]
            for count, clients, kind in loops:
                config = {
                    "base": server.base,
                    "concurrency": clients,
                    "requests": count,
                    "deadlineMs": 120_000,
                    "targets": entries,
                }
                path = STATE_DIR / "http.json"
                path.write_text(json.dumps(config))
                path.chmod(0o600)
                process = PROCESSES.start(
                    "httpload", ["node", str(BENCH / "httpload.js"), "--config", str(path)], pipes=True
                )
                try:
                    out, _err = process.communicate(timeout=150)
                except subprocess.TimeoutExpired as exc:
                    PROCESSES.stop(process)
                    raise BenchError(f"HTTP load on {name} overran its deadline") from exc
                if process.returncode != 0:
                    raise BenchError(f"HTTP load on {name} failed (exit {process.returncode}); see {LOG_DIR}")
                if kind is not None:
                    result = json.loads(out.decode().strip().splitlines()[-1])
                    result.update(name=name, kind=kind, clients=clients)
                    results.http.append(result)
                    say(f"  {name}, {clients} clients: p99 {fmt_ms(result['p99_ms'])} ms, {result['rps']:.0f} req/s")
    finally:
        server.stop()


# --- the table --------------------------------------------------------------------------------------------------


def fmt_ms(value) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, rule, *body])


def fanout_rows(results: Results) -> list[list[str]]:
    rows = []
    sizes = sorted({lv.clients for lv in results.levels})
    for n in sizes:
        anchor_runs = {r.run: r for r in results.runs if r.system == "node" and r.clients == n}
        for name in SYSTEMS:
            runs = [r for r in results.runs if r.system == name and r.clients == n]
            level = next((lv for lv in results.levels if lv.system == name and lv.clients == n), None)
            if not runs or level is None:
                continue
            expected = sum(r.result["expected"] for r in runs)
            received = sum(r.result["received"] for r in runs)
            ratios = []
            for r in runs:
                anchor = anchor_runs.get(r.run)
                if name != "node" and anchor and anchor.result["p99_ms"] and r.result["p99_ms"] is not None:
                    ratios.append(r.result["p99_ms"] / anchor.result["p99_ms"])
            cpu_per = [r.cpu_s * 1e6 / r.result["received"] for r in runs if r.result["received"]]
            rows.append(
                [
                    f"{n:,}",
                    LABELS[name],
                    fmt_ms(median(r.result["p50_ms"] for r in runs)),
                    fmt_ms(median(r.result["p95_ms"] for r in runs)),
                    fmt_ms(median(r.result["p99_ms"] for r in runs)),
                    f"{received:,}/{expected:,}",
                    f"{expected - received:,}",
                    f"{level.rss_kb_per_conn:.0f}" if level.rss_kb_per_conn is not None else "-",
                    f"{median(cpu_per):.0f}" if cpu_per else "-",
                    f"{level.connect['connects_per_s']:.0f}",
                    "anchor" if name == "node" else (" / ".join(f"{x:.1f}×" for x in ratios) or "-"),
                    "" if name == "node" else (f"{median(ratios):.2f}×" if ratios else "-"),
                ]
            )
    return rows


@dataclass
class Verdict:
    target: str
    measured: str
    budget: str
    ok: bool | None  # None: not measured in this mode


def judge(results: Results, targets: dict, mode_name: str) -> list[Verdict]:
    verdicts: list[Verdict] = []
    measured_sizes = sorted({lv.clients for lv in results.levels})
    fan = targets.get("fanout", {})

    def size_for(wanted: int) -> tuple[int | None, str]:
        if not measured_sizes:
            return None, ""
        if wanted in measured_sizes:
            return wanted, ""
        return measured_sizes[-1], f" (quick: at N={measured_sizes[-1]}, not {wanted:,})"

    if "lost" in fan:
        t = fan["lost"]
        n, note = size_for(t["clients"])
        for name in ("portal-1w", "portal-2w"):
            runs = [r for r in results.runs if r.system == name and r.clients == n]
            if not runs:
                continue
            lost = sum(r.result["expected"] - r.result["received"] for r in runs)
            expected = sum(r.result["expected"] for r in runs)
            verdicts.append(
                Verdict(
                    f"lost deliveries, {LABELS[name]}, N={n:,}{note}",
                    f"{lost:,} of {expected:,}",
                    f"≤ {t['max']}",
                    lost <= t["max"],
                )
            )
    if "p99_ratio" in fan:
        t = fan["p99_ratio"]
        n, note = size_for(t["clients"])
        for name in ("portal-1w", "portal-2w"):
            ratios = []
            for r in results.runs:
                if r.system != name or r.clients != n:
                    continue
                anchor = next(
                    (a for a in results.runs if a.system == "node" and a.clients == n and a.run == r.run), None
                )
                if anchor and anchor.result["p99_ms"] and r.result["p99_ms"] is not None:
                    ratios.append(r.result["p99_ms"] / anchor.result["p99_ms"])
            if ratios:
                m = statistics.median(ratios)
                verdicts.append(
                    Verdict(
                        f"fan-out p99 / Node p99, {LABELS[name]}, N={n:,}{note}",
                        f"{m:.2f}× (runs: {', '.join(f'{x:.2f}' for x in ratios)})",
                        f"≤ {t['max']}×",
                        m <= t["max"],
                    )
                )
    if "rss_per_connection" in fan:
        t = fan["rss_per_connection"]
        n, note = size_for(t["clients"])
        for name in ("portal-1w", "portal-2w"):
            level = next((lv for lv in results.levels if lv.system == name and lv.clients == n), None)
            if level and level.rss_kb_per_conn is not None:
                verdicts.append(
                    Verdict(
                        f"server memory per connection, {LABELS[name]}, N={n:,}{note}",
                        f"{level.rss_kb_per_conn:.0f} KB",
                        f"≤ {t['max_kb']} KB",
                        level.rss_kb_per_conn <= t["max_kb"],
                    )
                )
    web = targets.get("http", {})
    if "p99" in web:
        t = web["p99"]
        signals = results.environment.get("signals_in_db", 0)
        for row in results.http:
            if row.get("kind") != "latency":
                continue
            ok = row["p99_ms"] is not None and row["p99_ms"] < t["max_ms"] and row["ok"] == row["requests"]
            verdicts.append(
                Verdict(
                    f"p99, {row['name']}, {row['clients']} clients, {signals:,} signals",
                    f"{fmt_ms(row['p99_ms'])} ms ({row['ok']}/{row['requests']} OK)",
                    f"< {t['max_ms']} ms",
                    ok if signals >= t.get("min_signals", 0) else None,
                )
            )
    if web.get("queries", {}).get("constant"):
        tolerance = web["queries"].get("tolerance", 0)
        for probe in results.probes:
            few, many = probe["few"], probe["many"]
            verdicts.append(
                Verdict(
                    f"SQL statements per request, {probe['name']}: {few['rows']} row(s) vs {many['rows']} rows",
                    f"{few['queries']} vs {many['queries']}",
                    f"equal ± {tolerance} (no N+1)",
                    abs(few["queries"] - many["queries"]) <= tolerance and few["status"] == many["status"] == 200,
                )
            )
    return verdicts


def render(results: Results, verdicts: list[Verdict], mode_name: str) -> str:
    env = results.environment
    out = [
        "",
        f"# make bench ({mode_name}) — {results.started}",
        "",
        f"Machine: {env.get('cpus')} cores, load average {env.get('load_start')} at start,"
        f" {env.get('load_end')} at end · Python {env.get('python')} · Node {env.get('node')} ·"
        f" gunicorn {env.get('gunicorn')} · gevent {env.get('gevent')} ·"
        f" gevent-websocket {env.get('gevent_websocket')} · socket.io {env.get('socketio')}",
        f"Portal: gunicorn --worker-class {WORKER_CLASS} --worker-connections {WORKER_CONNECTIONS},"
        f" PORTAL_SOCKETIO_ASYNC_MODE=gevent, PostgreSQL, Redis (2 workers); open files {env.get('nofile')};"
        f" clients offer permessage-deflate: {'yes' if env.get('deflate') else 'no'};"
        f" payload {env.get('payload_bytes', '?')} bytes.",
        "",
    ]
    if results.levels:
        out += [
            "## Live fan-out: a signal posted → received by every client (medians over runs; ms)",
            "",
            table(
                [
                    "N",
                    "server",
                    "p50",
                    "p95",
                    "p99",
                    "delivered",
                    "lost",
                    "RSS KB/conn",
                    "CPU µs/delivery",
                    "connects/s",
                    "p99 ratio to Node per run",
                    "median ratio",
                ],
                fanout_rows(results),
            ),
            "",
        ]
    if results.http:
        rows = []
        for row in results.http:
            errors = row["requests"] - row["ok"]
            rows.append(
                [
                    row["name"],
                    f"{row.get('clients', '?')}",
                    f"{row['requests']:,}",
                    f"{row['rps']:.0f}",
                    fmt_ms(row["p50_ms"]),
                    fmt_ms(row["p99_ms"]),
                    f"{errors}" + (f" {row['statuses']}" if errors else ""),
                    f"{row['queries_median']} ({row['queries_min']}–{row['queries_max']})",
                ]
            )
        out += [
            f"## HTTP: {env.get('signals_in_db', 0):,} signals in PostgreSQL, keep-alive clients, 2 workers + Redis",
            "",
            table(
                [
                    "endpoint",
                    "clients",
                    "requests",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "errors",
                    "SQL/request median (min–max)",
                ],
                rows,
            ),
            "",
        ]
    if verdicts:
        out += [
            "## Targets (bench/targets.toml)",
            "",
            table(
                ["target", "measured", "budget", "verdict"],
                [
                    [v.target, v.measured, v.budget, "not measured" if v.ok is None else ("met" if v.ok else "MISSED")]
                    for v in verdicts
                ],
            ),
            "",
        ]
    if results.notes:
        out += ["Notes:", *[f"- {n}" for n in results.notes], ""]
    return "\n".join(out)


# --- main -------------------------------------------------------------------------------------------------------


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "missing"

    node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    socketio_pkg = json.loads((BENCH / "node_modules" / "socket.io" / "package.json").read_text())["version"]
    return {
        "python": platform.python_version(),
        "node": node,
        "gunicorn": v("gunicorn"),
        "gevent": v("gevent"),
        "gevent_websocket": v("gevent-websocket"),
        "socketio": socketio_pkg,
        "cpus": os.cpu_count(),
    }


def preflight() -> None:
    for url in (DATABASE_URL, REDIS_URL):
        host = urllib.parse.urlsplit(url.replace("postgresql+psycopg", "postgresql")).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise BenchError(f"{url}: the bench runs on loopback only")
    if shutil.which("node") is None:
        raise BenchError("node is not installed")
    if not (BENCH / "node_modules" / "socket.io-client").exists():
        raise BenchError("bench/node_modules is missing: run `npm ci --prefix bench` (make bench does)")
    try:
        import geventwebsocket  # noqa: F401
    except ImportError as exc:
        raise BenchError("gevent-websocket is not installed: `make install`") from exc
    # Every connection is a file descriptor, in the server and in the load generator.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(65536, hard) if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fan-out and HTTP benchmark of the portal against a Node anchor.")
    parser.add_argument("--quick", action="store_true", help="small N, fewer runs: a few minutes")
    parser.add_argument("--sizes", help="comma-separated client counts (default 500,1000,2000; quick 100,300)")
    parser.add_argument("--runs", type=int, help="runs per N and server (default 5; quick 2)")
    parser.add_argument("--signals", type=int, help="signals per run (default 10; quick 5)")
    parser.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate like a browser")
    parser.add_argument("--skip-fanout", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--fresh-db", action="store_true", help="rebuild the bench database")
    parser.add_argument("--signals-in-db", type=int, default=100_000, help="signals seeded for the HTTP phase")
    parser.add_argument("--targets", type=Path, default=BENCH / "targets.toml")
    args = parser.parse_args(argv)

    mode_name = "quick" if args.quick else "full"
    mode = dict(MODES[mode_name])
    if args.sizes:
        mode["sizes"] = [int(s) for s in args.sizes.split(",")]
    if args.runs:
        mode["runs"] = args.runs
    if args.signals:
        mode["signals"] = args.signals
    targets = tomllib.loads(args.targets.read_text())

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGALRM, _on_signal)
    signal.alarm(int(mode["deadline_s"]) + 25 * 60)  # the whole run, seeding included

    results = Results(mode_name, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    try:
        preflight()
        results.environment.update(versions())
        results.environment["nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        results.environment["deflate"] = args.deflate
        results.environment["load_start"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        state = seed(args, users=max(2000, *mode["sizes"]))
        results.environment["signals_in_db"] = signal_count()
        if not args.skip_fanout:
            fanout_phase(args, mode, state, results)
        if not args.skip_http:
            http_phase(mode, state, results)
            results.environment["signals_in_db"] = signal_count()
    except BenchError as error:
        say(f"stopped: {error}")
        results.notes.append(f"stopped early: {error}")
    except KeyboardInterrupt as interrupt:
        say(f"interrupted ({interrupt}); stopping what the bench started")
        results.notes.append("interrupted")
    finally:
        signal.alarm(0)
        PROCESSES.stop_all()
    results.environment["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    verdicts = judge(results, targets, mode_name)
    print(render(results, verdicts, mode_name), flush=True)
    out = STATE_DIR / f"results-{_now().strftime('%Y%m%d-%H%M%S')}-{mode_name}.json"
    out.write_text(
        json.dumps(
            {
                "environment": results.environment,
                "levels": [lv.__dict__ for lv in results.levels],
                "runs": [r.__dict__ for r in results.runs],
                "http": results.http,
                "probes": results.probes,
                "verdicts": [v.__dict__ for v in verdicts],
                "notes": results.notes,
            },
            indent=1,
            default=str,
        )
    )
    say(f"raw results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
