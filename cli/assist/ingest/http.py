"""`assist ingest http`: webhooks into the queue, over a real ASGI server (Starlette on uvicorn).

    POST /trigger/{name}   a JSON object -> a `webhook.<name>` event; 202 {"id": ...} once it is stored
    POST /trigger/ask      {"text": "..."} -> a typed request (`request`, docs/ask.md): a button for `assist ask`
    GET  /healthz          200 {"ok": true}

Callers prove who they are with a bearer JWT (HS256, signed with the key in the token store, audience
"ingest") or a signed webhook: `X-Assist-Timestamp: <unix seconds>` and `X-Assist-Signature-256:
sha256=<hex HMAC-SHA256 of "<timestamp>." followed by the body>`, keyed with a secret from the token
store. A signature is good for REPLAY_WINDOW_S around its timestamp and only once: a request sent again
(a replay) is refused, also by other `ingest http` processes of the home (state/ingest-http.db).
Anything else is refused (401). Bodies over the limit get 413, bodies slower than the limit 408, other
content types 415, clients over their rate 429 (with Retry-After); every error is a JSON body
{"error": ..., "status": ...}.

Requests arriving together are stored together: a writer thread takes what is waiting and stores it with
one put_many (one sync), and each request is answered only after its task is on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import queue as stdqueue
import re
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..task import Task
from .events import event

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
REPLAY_WINDOW_S = 300


class Replays:
    """The signatures accepted within the window, shared by the home's servers: a second use is a replay."""

    def __init__(self, path: Any):
        import sqlite3

        from ..fileutil import set_aside
        from ..stores.local import DAMAGED

        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.db = self._open(path)
        except sqlite3.DatabaseError as exc:  # it holds minutes of signatures: made anew
            if getattr(exc, "sqlite_errorcode", None) not in DAMAGED:
                raise
            aside = set_aside(path)
            for extra in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{path}{extra}")
            kept = f" kept as {aside.name}," if aside else ""
            sys.stderr.write(f"assist ingest http: {path}: damaged ({exc});{kept} made anew\n")
            self.db = self._open(path)
        self.lock = threading.Lock()
        self.swept = 0.0

    @staticmethod
    def _open(path: Any) -> Any:
        import sqlite3

        db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS seen (signature TEXT PRIMARY KEY, expires REAL)")
        return db

    def first_use(self, signature: str) -> bool:
        import sqlite3

        now = time.time()
        with self.lock:
            if now - self.swept > 60:
                self.db.execute("DELETE FROM seen WHERE expires < ?", (now,))
                self.swept = now
            try:
                self.db.execute("INSERT INTO seen VALUES (?, ?)", (signature, now + 2 * REPLAY_WINDOW_S))
            except sqlite3.IntegrityError:
                return False
        return True


@dataclass
class HttpOptions:
    queue: str = "inbox"
    max_body: int = 1 << 20
    rate: float = 50.0  # requests per second per client
    burst: int = 100
    hmac_secrets: dict[str, bytes] = field(default_factory=dict)  # token name -> secret
    jwt_key: bytes | None = None
    body_timeout_s: float = 30.0
    replays: Any = None  # a Replays; None: no signed callers


class GroupWriter:
    """Stores tasks in batches from one thread; `submit` returns a future resolved once stored."""

    def __init__(self, queue: Any, max_batch: int = 256):
        self.queue = queue
        self.max_batch = max_batch
        self.pending: stdqueue.Queue[tuple[Task, Future[str]]] = stdqueue.Queue()
        self.thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self.thread.start()

    def submit(self, task: Task) -> Future[str]:
        done: Future[str] = Future()
        self.pending.put((task, done))
        return done

    def _run(self) -> None:
        while True:
            batch = [self.pending.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.pending.get_nowait())
                except stdqueue.Empty:
                    break
            try:
                self.queue.put_many([task for task, _ in batch])
            except Exception as exc:  # the disk or Redis failed: every request of the batch is told
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for task, done in batch:
                done.set_result(task["id"])


class RateLimiter:
    """A token bucket per client."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self.buckets[client] = (tokens - 1, now)
                return 0.0
            self.buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate


def build_app(backend_queue: Any, options: HttpOptions, log: Any) -> Any:
    import asyncio

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    writer = GroupWriter(backend_queue)
    limiter = RateLimiter(options.rate, options.burst)
    counts = {"accepted": 0, "refused": 0}

    def error(status: int, message: str, **headers: str) -> JSONResponse:
        counts["refused"] += 1
        return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers or None)

    def identify(request: Request, body: bytes) -> tuple[str | None, str]:
        """The caller's name if its JWT or signature is good (else None), and why not."""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and options.jwt_key:
            from ..auth.jwt_tokens import BadToken, verify_with_key

            try:
                claims = verify_with_key(options.jwt_key, auth[7:].strip(), "ingest")
            except BadToken:
                return None, "bad token"
            return f"jwt:{claims.get('sub', '?')}", ""
        signature = request.headers.get("x-assist-signature-256", "")
        stamp = request.headers.get("x-assist-timestamp", "")
        if not signature.startswith("sha256=") or not options.hmac_secrets:
            return None, "no credentials"
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > REPLAY_WINDOW_S:
            return None, "timestamp missing or outside the window"
        for name, secret in options.hmac_secrets.items():
            expected = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(signature[7:], expected):
                if not options.replays.first_use(expected):
                    return None, "replayed"
                return f"hmac:{name}", ""
        return None, "bad signature"

    async def trigger(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if not NAME.match(name):
            return error(404, f"no trigger named {name!r}")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return error(415, "send application/json")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > options.max_body:
            return error(413, f"body over {options.max_body} bytes")
        body = bytearray()
        try:
            async with asyncio.timeout(options.body_timeout_s):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > options.max_body:
                        return error(413, f"body over {options.max_body} bytes")
        except TimeoutError:
            return error(408, f"the body took longer than {options.body_timeout_s:g}s")
        client, why = identify(request, bytes(body))
        if client is None:
            log.warning("refused", peer=request.client.host if request.client else None, trigger=name, reason=why)
            return error(401, "a valid bearer JWT, or X-Assist-Signature-256 with a recent X-Assist-Timestamp, "
                              "sent once, is required", **{"WWW-Authenticate": 'Bearer realm="assist"'})
        wait = limiter.allow(client)
        if wait:
            return error(429, "too many requests", **{"Retry-After": str(max(1, round(wait)))})
        import orjson

        from .. import jsonl

        try:
            data = jsonl.loads(bytes(body))
        except orjson.JSONDecodeError as exc:
            return error(400, f"invalid JSON: {str(exc).splitlines()[0][:120]}")
        except jsonl.TooDeep as exc:
            return error(400, f"the body is {exc}")
        if not isinstance(data, dict):
            return error(400, "the body must be a JSON object")
        if name == "ask":  # a button: {"text": "..."} is a typed request (docs/ask.md)
            text = data.get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > 2000:
                return error(400, 'send {"text": "..."}: a request of 1 to 2,000 characters')
            from ..timeutil import rfc3339

            task = event("request", f"http:{client}", {"text": text.strip(), "asked_at": rfc3339()})
        else:
            task = event(f"webhook.{name}", f"http:{client}", data)
        try:
            task_id = await asyncio.wait_for(asyncio.wrap_future(writer.submit(task)), 30)
        except Exception as exc:
            log.error("store_failed", trigger=name, error=type(exc).__name__)
            return error(503, "cannot store the event now; try again later", **{"Retry-After": "5"})
        counts["accepted"] += 1
        return JSONResponse({"id": task_id, "type": task["type"]}, status_code=202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        log.info("started", queue=options.queue)
        yield
        log.info("stopped", **counts)  # what was answered 202 (stored) and what was refused

    return Starlette(routes=[Route("/trigger/{name}", trigger, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])], lifespan=lifespan)


def serve(app: Any, host: str, port: int, certfile: str | None, keyfile: str | None, limits: Any) -> None:
    from ..httpd import run

    run(app, host, port, certfile=certfile, keyfile=keyfile, limits=limits)
