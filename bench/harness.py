"""What the bench scenarios share: a fresh database, the processes (the bench's model,
bench/upstream.py, and the app served by uvicorn) and the clients that talk to them over
HTTP, Server-Sent Events and websockets, as a browser or an API user would.

Uses PostgreSQL (database chatproject_bench, dropped and made again each run) and Redis
(db 4, flushed) on 127.0.0.1. Nothing here imports the app: it is only ever reached over
the network.
"""

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
import psycopg
import redis
import websockets
from openai.types.chat import ChatCompletionChunk

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "chatproject_bench"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/8"
LOGS = Path(tempfile.gettempdir()) / "chatproject-bench"
clock = time.perf_counter


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(upstream_url: str = "") -> dict:
    """The production settings, pointed at the bench's database, Redis and model."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "chatproject.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-secret-key-shared-by-every-bench-server-process",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "OPENAI_BASE_URL": f"{upstream_url}/v1",
        "OPENAI_API_KEY": "bench",
        "LLM_PROVIDER": "openai",
        "LLM_MODEL": "bench-model",
        "CHAT_GENERATION_RATE": "",
        "CHAT_QUEUE_LIMIT": "100000",
        "LOG_LEVEL": "WARNING",
    }


def manage(*args: str, **env: str) -> str:
    """Run `manage.py` with the bench's settings (and `env`); its standard output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server_env() | env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def database_reset() -> None:
    """A new, migrated bench database and an empty Redis db (see REDIS_URL)."""
    admin = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    manage("migrate", "--noinput", "-v", "0")
    shutil.rmtree(LOGS, ignore_errors=True)
    redis.Redis.from_url(REDIS_URL).flushdb()


def database_counters() -> tuple[int, int]:
    """(transactions, rows written) so far in the bench database, as PostgreSQL counts
    them once its backends have reported (they do when they end)."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
        xacts = connection.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            [DATABASE],
        ).fetchone()[0]
        rows = connection.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
        ).fetchone()[0]
    return int(xacts), int(rows)


def database_analyze() -> None:
    """Bring the planner's statistics up to date, as autovacuum does a minute after a burst
    of writes: plans then fit the data just written, as they would on a server that ran."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
        connection.execute("ANALYZE")


# Users, their API tokens and their browser sessions, written straight to the database.
ACCOUNTS = """
import json, os
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.authtoken.models import Token

accounts = {}
for name in os.environ["BENCH_USERS"].split(","):
    user = get_user_model().objects.create_user(name, password=name + "-password")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    cookie = settings.SESSION_COOKIE_NAME + "=" + session.session_key
    accounts[name] = {"token": Token.objects.create(user=user).key, "cookie": cookie}
print(json.dumps(accounts))
"""


@dataclass
class Account:
    token: str
    cookie: str


def accounts_create(*names: str) -> dict[str, Account]:
    output = manage("shell", "--no-imports", "-c", ACCOUNTS, BENCH_USERS=",".join(names))
    return {name: Account(**row) for name, row in json.loads(output.splitlines()[-1]).items()}


# Processes


class Process:
    """A subprocess of the bench, its log in LOGS; every one is stopped by `stop_all`."""

    running: list["Process"] = []

    def __init__(self, name: str, args: list[str], env: dict, port: int):
        LOGS.mkdir(exist_ok=True)
        self.name, self.port, self.url = name, port, f"http://127.0.0.1:{port}"
        self.log = LOGS / f"{name}.log"
        with self.log.open("w") as log:
            # A session of its own: a Ctrl-C reaches the bench, which stops it in order.
            self.popen = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )
        Process.running.append(self)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        if self in Process.running:
            Process.running.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for process in list(cls.running):
            process.stop()

    def cpu_seconds(self) -> float:
        """User and system CPU time of the process and its children so far."""
        return _cpu_seconds(f"/proc/{self.popen.pid}/stat", children=True)

    def loop_cpu_seconds(self) -> float:
        """The part of `cpu_seconds` spent by the main thread, which runs the event loop
        (sockets, streams, the model's SDK); the rest is other threads', the database
        steps above all."""
        return _cpu_seconds(f"/proc/{self.popen.pid}/task/{self.popen.pid}/stat")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def ready(self, path: str) -> None:
        """Wait until the process answers HTTP (any status)."""
        deadline = clock() + 60
        async with httpx.AsyncClient(trust_env=False) as http:
            while True:
                try:
                    await http.get(self.url + path, timeout=2)
                    return
                except httpx.TransportError:
                    if self.popen.poll() is not None or clock() > deadline:
                        tail = self.log.read_text()[-3000:]
                        raise RuntimeError(f"{self.name} did not start:\n{tail}") from None
                    await asyncio.sleep(0.1)


def _cpu_seconds(stat: str, *, children: bool = False) -> float:
    """utime + stime (and, with `children`, cutime + cstime) of a /proc `stat` file."""
    fields = Path(stat).read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11 : 15 if children else 13]) / os.sysconf(
        "SC_CLK_TCK"
    )


async def upstream_start() -> Process:
    port = free_port()
    process = Process(
        "upstream", [sys.executable, "bench/upstream.py", str(port)], dict(os.environ), port
    )
    await process.ready("/")
    return process


@contextlib.asynccontextmanager
async def servers(upstream: Process, count: int = 1):
    """`count` fresh app processes (uvicorn) sharing the database and Redis."""
    if upstream.popen.poll() is not None:
        raise RuntimeError(f"The bench's model has stopped; see {upstream.log}")
    started = []
    try:
        for _ in range(count):
            port = free_port()
            args = [sys.executable, "-m", "uvicorn", "chatproject.asgi:application"]
            args += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
            args += ["--timeout-graceful-shutdown", "5", "--log-level", "warning"]
            started.append(Process(f"server-{port}", args, server_env(upstream.url), port))
        for server in started:
            await server.ready("/api/")
        yield started
    finally:
        for server in started:
            server.stop()


# Clients


@dataclass
class Reply:
    """One reply as a client saw it: times from its request, `seq`s and text."""

    id: str | None = None
    first: float | None = None  # seconds to the first delta
    end: float | None = None  # seconds to the final frame
    status: str | None = None  # of the final frame
    error: str | None = None  # why it failed (its `error.code`) or the client gave up
    seqs: list[int] = field(default_factory=list)
    text: str = ""
    covered: int = 0  # the `seq` of the last snapshot: deltas up to it are in the text

    async def read(self, frames, started: float, until=None) -> None:
        """Note the frames of the async iterable `frames` until the reply ends (or
        `until(self)`); times count from `started`."""
        async for frame in frames:
            if self.on_frame(frame, clock() - started) or (until and until(self)):
                return

    def on_frame(self, frame: dict, at: float) -> bool:
        """Note one frame; True once the reply has ended."""
        message = frame.get("message") or {}
        if frame["type"] == "message.created" and message.get("role") == "assistant":
            self.id = self.id or message["id"]
        elif frame["type"] == "message.snapshot" and message.get("id") == self.id:
            # As the page does after a gap: the snapshot, then only the deltas after it.
            self.text, self.covered = stored_text(message), frame["seq"]
            self.seqs = sorted(set(self.seqs) | set(range(1, frame["seq"] + 1)))
        elif frame["type"] == "message.delta" and frame["message_id"] == self.id:
            if frame["seq"] <= self.covered:
                return False
            self.first = self.first if self.first is not None else at
            self.seqs.append(frame["seq"])
            if frame["item_type"] == "output_text":
                self.text += frame["delta"]
        elif frame["type"] in ("message.completed", "message.failed") and message["id"] == self.id:
            self.end, self.status = at, message["status"]
            self.error = (message.get("error") or {}).get("code")
            return True
        elif frame["type"] == "error":
            self.error = frame["code"]
            return True
        return False


@contextlib.asynccontextmanager
async def giving_up(reply: Reply, timeout: float):
    """A client's wait, bounded: on a timeout or a broken connection the reply says why."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except TimeoutError:
        reply.error = "client timeout"
    except (httpx.HTTPError, websockets.WebSocketException, openai.OpenAIError) as exc:
        reply.error = type(exc).__name__


def stored_text(message: dict) -> str:
    return "".join(item["text"] for item in message["content"] if item["type"] == "output_text")


class Client:
    """One account on one server: REST with its token, SSE, and tabs with its session."""

    def __init__(self, server: Process, account: Account):
        self.server, self.account = server, account
        self.http = httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": f"Token {account.token}"},
            timeout=60,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            trust_env=False,
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def post(self, path: str, body: dict) -> dict:
        response = await self.http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    async def conversations(self, count: int) -> list[str]:
        """`count` new empty conversations, made through the API."""
        created = [await self.post("/api/conversations/", {"title": "bench"}) for _ in range(count)]
        return [conversation["id"] for conversation in created]

    async def stored(self, reply: Reply) -> dict | None:
        if reply.id is None:
            return None
        response = await self.http.get(f"/api/messages/{reply.id}/", timeout=30)
        return response.json() if response.status_code == 200 else None

    async def sse_reply(self, conversation_id: str, prompt: str, timeout: float) -> Reply:
        """Ask for a reply with `POST .../continue/` and read its event stream to the end."""
        reply, started = Reply(), clock()
        path = f"/api/conversations/{conversation_id}/continue/"
        async with (
            giving_up(reply, timeout),
            # No read timeout of its own: the answer may wait its turn on a busy server,
            # within the reply's whole `timeout` (as a browser waits for it).
            self.http.stream(
                "POST", path, json={"content": prompt, "stream": True}, timeout=timeout
            ) as response,
        ):
            if response.status_code != 200:
                reply.error = f"HTTP {response.status_code}"
                return reply
            lines = response.aiter_lines()
            await reply.read(
                (json.loads(line[6:]) async for line in lines if line[:6] == "data: "), started
            )
        return reply

    async def tab(self, conversation_id: str):
        """A logged-in websocket on the conversation, as the page opens it."""
        return await websockets.connect(
            f"ws://127.0.0.1:{self.server.port}/ws/conversations/{conversation_id}/",
            origin=self.server.url,
            additional_headers={"Cookie": self.account.cookie},
            proxy=None,
            open_timeout=30,
            max_size=None,
        )

    @staticmethod
    async def watch(tab, timeout: float, reply=None, started=None, until=None) -> Reply:
        """Read a tab's frames until the reply ends (or `until(reply)`, or `timeout`)."""
        reply, started = reply or Reply(), started or clock()
        async with giving_up(reply, timeout):
            await reply.read((json.loads(raw) async for raw in tab), started, until)
        return reply

    async def ws_reply(self, tab, prompt: str, timeout: float) -> Reply:
        """Ask for a reply with a `message.create` frame and read the tab to its end."""
        started = clock()
        await tab.send(json.dumps({"type": "message.create", "content": prompt}))
        return await self.watch(tab, timeout, started=started)

    async def ws_replies(self, ids: list[str], prompt: str, timeout: float, *, together: bool):
        """A reply in each conversation, each over a tab of its own: all at once
        (`together`: every tab is opened first) or one after the other."""

        async def opened(conversation_id):
            try:
                return await self.tab(conversation_id)
            except Exception as exc:
                return Reply(error=type(exc).__name__)

        async def run(tab):
            if isinstance(tab, Reply):
                return tab
            try:
                return await self.ws_reply(tab, prompt, timeout)
            finally:
                await tab.close()

        if together:
            tabs = await asyncio.gather(*(opened(i) for i in ids))
            return await asyncio.gather(*(run(tab) for tab in tabs))
        return [await run(await opened(i)) for i in ids]

    async def stored_replies(self, replies: list[Reply]) -> list[dict | None]:
        """Each ended reply as stored (None: not ended, or not fetched within a minute)."""
        gate = asyncio.Semaphore(10)

        async def fetch(reply):
            if reply.end is None:
                return None
            async with gate:
                try:
                    return await self.stored(reply)
                except httpx.HTTPError:
                    return None

        fetches = [asyncio.ensure_future(fetch(reply)) for reply in replies]
        await asyncio.wait(fetches, timeout=60)
        for fetch_ in fetches:
            fetch_.cancel()
        return [f.result() if f.done() and not f.cancelled() else None for f in fetches]


def direct_client(upstream: Process) -> openai.AsyncOpenAI:
    """The baseline: the openai SDK talking to the bench's model, no app between."""
    return openai.AsyncOpenAI(
        base_url=f"{upstream.url}/v1",
        api_key="bench",
        max_retries=0,
        http_client=httpx.AsyncClient(limits=httpx.Limits(max_connections=None), trust_env=False),
    )


async def direct_reply(
    client: openai.AsyncOpenAI, prompt: str, timeout: float, history: list[dict] = ()
) -> Reply:
    """The model's reply to `prompt`, after the messages of `history`, through the SDK: the
    request sent as the app sends it (`post`, a plain JSON body), its chunks read as
    `create` reads them. `create` itself would spend 0.15 s building its typed request
    from 1,000 messages, 30 times what the model takes to answer them."""
    reply, started = Reply(), clock()
    body = {
        "model": "bench-model",
        "messages": [*history, {"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with giving_up(reply, timeout):
        chunks = await client.post(
            "/chat/completions",
            body=body,
            cast_to=ChatCompletionChunk,
            stream=True,
            stream_cls=openai.AsyncStream[ChatCompletionChunk],
        )
        async for chunk in chunks:
            for choice in chunk.choices:
                if choice.delta.content:
                    reply.first = reply.first or clock() - started
                    reply.text += choice.delta.content
                if choice.finish_reason:
                    reply.status = "completed"
        reply.end = clock() - started
    return reply
