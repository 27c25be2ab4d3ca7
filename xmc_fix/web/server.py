"""The web view's HTTP side (aiohttp): the page, its static files, the snapshot stream, and the
guarded control endpoint.

- ``GET /`` the page; ``/static/...`` its script, style and the vendored uPlot (nothing is fetched
  from the internet: the Content-Security-Policy allows this origin only).
- ``GET /events`` server-sent events: ``init`` (settings, the charts so far), then a ``snapshot``
  per poll. ``GET /api/snapshot`` the latest snapshot once, for tools.
- ``POST /api/control`` ``{"cmd": "halt"|"resume"|"flatten"|"cancel-all", "pair": P|null,
  "reason": T}`` with the token in the ``X-XMC-Token`` header. Refused with 403 — and never passed
  to the engine — when the view runs read-only or the token is missing or wrong. An accepted action
  is relayed over the control socket with ``via`` naming the browser's address, so the engine
  audits who and when exactly as it does for ``xmc halt``.

It listens on 127.0.0.1 only and answers only requests addressed to a loopback name (a page of
another site cannot reach it through DNS rebinding). It does not authenticate viewers: anyone who
can reach the loopback port can watch.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Callable

from aiohttp import web

from xmc_fix.control.client import ControlError, request
from xmc_fix.errors import ConfigError
from xmc_fix.web.feed import EngineFeed, dumps
from xmc_fix.web.token import ControlToken

log = logging.getLogger("xmc.web")

DEFAULT_PORT = 8765
HOST = "127.0.0.1"
STATIC = Path(__file__).resolve().parent / "static"
TOKEN_HEADER = "X-XMC-Token"
ACTIONS = {"halt": ("pair", "reason"), "resume": ("pair",), "flatten": ("pair",), "cancel-all": ("pair",)}
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
MAX_TEXT = 200
RELAY_TIMEOUT_S = 30.0   # a flatten waits for the engine thread; the page shows the wait
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

FEED = web.AppKey("feed", EngineFeed)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@web.middleware
async def _guard(request: web.Request, handler):
    if _host_name(request.host or "") not in LOOPBACK_NAMES:
        return web.json_response({"ok": False, "error": "this view answers only to 127.0.0.1 or localhost"},
                                 status=403)
    resp = await handler(request)
    resp.headers.update(HEADERS)
    return resp


def _client(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    return f"{peer[0]}:{peer[1]}" if peer else "unknown"


def make_app(feed: EngineFeed, *, token: ControlToken | None, relay: Callable[..., dict] = request) -> web.Application:
    """The application; ``relay(path, cmd, timeout=, via=, **args)`` forwards an accepted action
    (the control client's ``request``). Polling the engine is started by :func:`serve`, not here."""
    app = web.Application(middlewares=[_guard], client_max_size=16 * 1024)
    app[FEED] = feed
    control = token is not None

    async def index(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def snapshot(_request: web.Request) -> web.Response:
        return web.Response(text=feed.latest, content_type="application/json", headers={"Cache-Control": "no-store"})

    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        q = feed.subscribe()
        try:
            await resp.write(f"event: init\ndata: {feed.init_message(control)}\n\n".encode())
            await resp.write(f"event: snapshot\ndata: {feed.latest}\n\n".encode())
            while True:
                try:
                    msg = await asyncio.wait_for(q.get(), 15)
                except asyncio.TimeoutError:
                    await resp.write(b": keep-alive\n\n")   # proxies and browsers drop silent streams
                    continue
                if msg is None:
                    break
                await resp.write(f"event: snapshot\ndata: {msg}\n\n".encode())
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            feed.unsubscribe(q)
        return resp

    def refuse(status: int, error: str) -> web.Response:
        return web.json_response({"ok": False, "error": error}, status=status)

    async def act(request: web.Request) -> web.Response:
        client = _client(request)
        if not control:
            log.warning("web control refused from %s: the view is read-only", client)
            return refuse(403, "control is off: this view runs read-only (start it with xmc web --control-token FILE)")
        if not token.matches(request.headers.get(TOKEN_HEADER)):
            log.warning("web control refused from %s: %s token", client,
                        "wrong" if request.headers.get(TOKEN_HEADER) else "no")
            return refuse(403, "refused: missing or wrong control token")
        if request.content_type != "application/json":
            return refuse(415, "send the action as application/json")
        try:
            body = await request.json()
        except ValueError:
            return refuse(400, "malformed request: not JSON")
        if not isinstance(body, dict) or body.get("cmd") not in ACTIONS:
            return refuse(400, f"malformed request: cmd must be one of {', '.join(ACTIONS)}")
        cmd = body["cmd"]
        extra = set(body) - {"cmd"} - set(ACTIONS[cmd])
        if extra:
            return refuse(400, f"malformed request: {cmd} takes no {', '.join(sorted(extra))}")
        args = {}
        for k in ACTIONS[cmd]:
            v = body.get(k)
            if v in (None, ""):
                continue
            if not isinstance(v, str) or len(v) > MAX_TEXT or not v.isprintable():
                return refuse(400, f"malformed request: {k} must be a short printable string")
            args[k] = v
        via = f"web view client {client}"
        log.warning("web control: %s %s from %s", cmd, args or "", client)
        try:
            result = await asyncio.to_thread(relay, feed.path, cmd, timeout=RELAY_TIMEOUT_S, via=via, **args)
        except ControlError as e:
            return refuse(502, str(e))
        feed.poke()
        return web.json_response({"ok": True, "cmd": cmd, "result": result}, dumps=dumps)

    async def closing(_app: web.Application) -> None:
        feed.close()

    app.router.add_get("/", index)
    app.router.add_get("/events", events)
    app.router.add_get("/api/snapshot", snapshot)
    app.router.add_post("/api/control", act)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    app.on_shutdown.append(closing)
    return app


def serve(socket_path: str | Path, port: int = DEFAULT_PORT, *, token: ControlToken | None = None,
          interval: float = 0.25, ready: Callable[[str], None] | None = None) -> None:
    """Serve the view on 127.0.0.1:``port`` until SIGINT or SIGTERM."""
    asyncio.run(_serve(socket_path, port, token, interval, ready))


async def _serve(socket_path, port, token, interval, ready) -> None:
    feed = EngineFeed(socket_path, interval=interval)
    runner = web.AppRunner(make_app(feed, token=token), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, shutdown_timeout=2.0)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {HOST}:{port}: {e.strerror or e}", key="--port",
                          remedy="pass another --port, or stop what listens there") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    poller = asyncio.create_task(feed.run())
    if ready is not None:
        ready(f"http://{HOST}:{port}/")
    try:
        await stop.wait()
    finally:
        poller.cancel()
        await runner.cleanup()
