"""The `assist serve` application: REST, a WebSocket of events and the dashboard (Starlette).

    GET  /                          the dashboard (after the login link)
    GET  /login?token=JWT           exchanges a login link for a session cookie
    GET  /api/overview              queues, running, held and failed tasks, errors, rates (one request)
    GET  /api/queues                depth per state, throughput
    GET  /api/tasks?queue=&state=   task rows (as `assist queue ls --json`)
    GET  /api/tasks/{id}            one task (as `assist queue show`)
    POST /api/tasks/{id}/{verb}     retry, cancel, approve (?route= for an unplaced task, ?plan= for the
                                    plan shown: a plan changed since is not approved), reject
    GET  /api/logs?component=&level=&limit=
    WS   /api/events                task state changes and error records, as they happen
    GET  /metrics                   Prometheus text format
    GET  /openapi.json              this API, described
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import monitor
from ..errors import AssistError, NotFound, StorageError, UsageError, storage_error
from ..log import LEVELS
from ..logview import recent_records
from ..queue import admin
from ..task import offered_routes
from .auth import COOKIE, SESSION_S, Auth, BadToken

HERE = Path(__file__).parent
STATES = monitor.STATES


# Sent with every answer. The page loads only its own script, style and connections, and no other site may
# show it in a frame (a click on approve through someone else's page) or learn its address from a link.
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                 b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """ASGI middleware: SECURITY_HEADERS on every HTTP answer."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass
class ServeOptions:
    poll_s: float = 0.2  # how often the event feed looks at the queues and logs


class Hub:
    """One poller for every WebSocket client: each gets its own asyncio queue of events."""

    def __init__(self, backend: Any, log_folder: Path, poll_s: float, log: Any):
        self.backend, self.log_folder, self.poll_s, self.log = backend, log_folder, poll_s, log
        self.clients: set[asyncio.Queue[dict[str, Any]]] = set()
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A new client's queue, once the watcher knows where every task is: what happens after this
        returns reaches the client."""
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.clients.add(inbox)
        if self.task is None or self.task.done():
            self.ready = asyncio.Event()
            self.task = asyncio.create_task(self._poll())
        await self.ready.wait()
        return inbox

    def unsubscribe(self, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        self.clients.discard(inbox)

    async def _poll(self) -> None:
        from anyio import to_thread

        watcher = monitor.Watcher(self.backend, self.log_folder)
        try:
            while self.clients:
                try:
                    events = await to_thread.run_sync(watcher.changes)
                except Exception as exc:  # a queue that vanished mid-listing: look again next time
                    self.log.warning("events_poll_failed", error=f"{type(exc).__name__}: {exc}")
                    events = []
                self.ready.set()
                for event in events:
                    for inbox in list(self.clients):
                        with contextlib.suppress(asyncio.QueueFull):  # a client that stopped reading misses some
                            inbox.put_nowait(event)
                await asyncio.sleep(self.poll_s)
        finally:
            watcher.close()


async def _first_to_finish(part: Any, scope: Any) -> None:
    await part()
    scope.cancel()


def build_app(backend: Any, log_folder: Path, auth: Auth, log: Any, options: ServeOptions | None = None,
              config: Callable[[], Any] | None = None, approvals: Any = None, learn: Any = None) -> Any:
    """`config` gives the configuration now (config_file.config_now: the file may have been edited since
    the server started): the routes offered, which of the person's accounts a held task is about."""
    import anyio
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect

    opts = options or ServeOptions()
    hub = Hub(backend, log_folder, opts.poll_s, log)

    class Json(JSONResponse):
        def render(self, content: Any) -> bytes:
            return orjson.dumps(content)

    def error(status: int, message: str) -> Json:
        return Json({"error": message, "status": status}, status_code=status)

    def guarded(handler: Any, changes: bool = False) -> Any:
        """Refuse a caller without a good token or session (401), or a session change without CSRF (403)."""

        def endpoint(request: Request) -> Response:
            caller = auth.caller(request.headers, request.cookies)
            if caller is None:
                log.warning("refused", path=request.url.path, reason="no valid token or session")
                return error(401, "sign in: a bearer token (assist token jwt --audience serve) or the login link")
            if changes and not auth.csrf_ok(caller, request.headers):
                log.warning("refused", path=request.url.path, reason="missing or wrong CSRF token")
                return error(403, "missing or wrong X-CSRF-Token")
            request.state.caller = caller
            try:
                return handler(request)
            except NotFound as exc:
                return error(404, str(exc))
            except UsageError as exc:
                return error(400, str(exc))
            except StorageError as exc:  # the disk is full, read-only or refused: nothing was changed
                return error(507, str(exc))
            except AssistError as exc:
                return error(409, str(exc))
            except OSError as exc:
                fault = storage_error(exc)
                if fault is None:
                    raise
                log.warning("storage_fault", path=request.url.path, error=str(fault))
                return error(507, str(fault))

        return endpoint

    def _int(request: Request, name: str, default: int, high: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= high:
            raise UsageError(f"{name} must be a whole number from 1 to {high}")
        return int(raw)

    def overview(request: Request) -> Response:
        """What the dashboard shows; a held task no route placed lists the routes that take it."""
        now = config() if config else None
        configured = now.routes if now is not None else {}
        shown = monitor.overview(backend, log_folder, now)
        for row in shown["held"]:
            if row.get("route") == "fallback":
                row["routes"] = offered_routes(configured, str(row.get("type", "")))
        return Json({**shown, "routes": list(configured)})

    def queues(request: Request) -> Response:
        return Json(monitor.queues(backend))

    def tasks(request: Request) -> Response:
        state = request.query_params.get("state") or None
        if state and state not in STATES:
            raise UsageError(f"state must be one of {', '.join(STATES)}")
        return Json(monitor.tasks(backend, request.query_params.get("queue") or None, state,
                                  _int(request, "limit", 200, 10_000)))

    def task(request: Request) -> Response:
        return Json(admin.show(backend, request.path_params["id"], request.query_params.get("queue") or None,
                               approvals))

    def change(request: Request) -> Response:
        verb = request.path_params["verb"]
        if verb not in admin.VERBS:
            raise NotFound(f"no action {verb!r} (choose from {', '.join(admin.VERBS)})")
        done = admin.change(backend, request.path_params["id"], verb, request.query_params.get("queue") or None,
                            request.query_params.get("reason", ""), request.query_params.get("route") or None,
                            config().routes if config else {}, approvals, by=f"api:{request.state.caller.subject}",
                            learn=learn, plan=request.query_params.get("plan") or None)
        log.info("task_changed", task=done["id"], queue=done["queue"], verb=verb, route=done.get("route"))
        return Json(done)

    def logs(request: Request) -> Response:
        level = request.query_params.get("level", "info")
        if level not in LEVELS:
            raise UsageError(f"level must be one of {', '.join(LEVELS)}")
        component = request.query_params.get("component") or None
        if component and not component.replace("-", "").replace("_", "").isalnum():
            raise UsageError("component is a name such as classify or work")
        return Json(recent_records(log_folder, component, level, _int(request, "limit", 100, 5000)))

    def metrics(request: Request) -> Response:
        from .metrics import render

        body, content_type = render(backend, log_folder)
        return Response(body, media_type=content_type)

    def openapi(request: Request) -> Response:
        return Response((HERE / "openapi.json").read_bytes(), media_type="application/json")

    def page(request: Request) -> Response:
        caller = auth.caller(request.headers, request.cookies)
        if caller is None or caller.session is None:
            return HTMLResponse((HERE / "static" / "signin.html").read_text(), status_code=401)
        body = (HERE / "static" / "index.html").read_text()
        body = body.replace("{{csrf}}", html.escape(auth.csrf_token(caller.session)))
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    def login(request: Request) -> Response:
        try:
            cookie = auth.start_session(request.query_params.get("token", ""))
        except BadToken as exc:
            log.warning("login_refused", reason=str(exc))
            return PlainTextResponse(f"login refused: {exc}\n", status_code=401)
        log.info("login")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=SESSION_S, httponly=True, secure=True,
                            samesite="strict", path="/")
        return response

    async def events(ws: WebSocket) -> None:
        caller = auth.caller(ws.headers, ws.cookies)
        if caller is None:
            await ws.close(code=4401)
            return
        if caller.how == "session":  # a cookie rides along from any page: only our own pages may use it
            origin = ws.headers.get("origin", "")
            own = {f"http://{ws.headers.get('host', '')}", f"https://{ws.headers.get('host', '')}"}
            if origin not in own:
                log.warning("refused", path="/api/events", reason="foreign origin")
                await ws.close(code=4403)
                return
        await ws.accept()
        inbox = await hub.subscribe()

        async def push() -> None:
            await ws.send_text(orjson.dumps({"kind": "hello"}).decode())
            while True:
                await ws.send_text(orjson.dumps(await inbox.get()).decode())

        async def listen() -> None:  # returns when the client goes away (or the server stops)
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass

        try:
            async with anyio.create_task_group() as group:
                for part in (push, listen):
                    group.start_soon(_first_to_finish, part, group.cancel_scope)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.unsubscribe(inbox)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        log.info("started")
        yield
        if hub.task is not None:
            hub.task.cancel()
        log.info("stopped")

    table = [
        Route("/", page, methods=["GET"]),
        Route("/login", login, methods=["GET"]),
        Route("/api/overview", guarded(overview), methods=["GET"]),
        Route("/api/queues", guarded(queues), methods=["GET"]),
        Route("/api/tasks", guarded(tasks), methods=["GET"]),
        Route("/api/tasks/{id}", guarded(task), methods=["GET"]),
        Route("/api/tasks/{id}/{verb}", guarded(change, changes=True), methods=["POST"]),
        Route("/api/logs", guarded(logs), methods=["GET"]),
        Route("/metrics", guarded(metrics), methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        WebSocketRoute("/api/events", events),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    from starlette.middleware import Middleware

    return Starlette(routes=table, lifespan=lifespan, middleware=[Middleware(SecurityHeaders)])
