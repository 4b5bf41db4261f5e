"""The playground's web server (aiohttp): the page and its files, and one
WebSocket per tab, each tab its own :class:`~initreg.playground._session.Session`.

The page names no file: ``/`` is the page, ``/static/<name>`` serves only
the files shipped in the package, and downloads are made in memory.
"""
from __future__ import annotations

import asyncio
import importlib.resources
import json

from aiohttp import WSMsgType, web

from initreg.playground._config import DEFAULTS, LIMITS, ConfigError, choices
from initreg.playground._session import Session, check_message

__all__ = ["make_app", "STATIC_FILES", "MAX_MESSAGE_BYTES", "SESSIONS", "MAX_SESSIONS"]

#: The files the page loads, all shipped in the wheel: nothing comes from
#: the network.
STATIC_FILES = {"playground.js": "text/javascript", "playground.css": "text/css"}
#: The largest message a page may send (a configuration is < 2 kB).
MAX_MESSAGE_BYTES = 65536
SESSIONS = web.AppKey("sessions", set)
MAX_SESSIONS = web.AppKey("max_sessions", int)
#: Frames not yet sent to a slow page: older ones are dropped, not queued.
_MAX_QUEUED_FRAMES = 2


def _static(name):
    return (importlib.resources.files("initreg.playground") / "static" / name).read_bytes()


class _Tab:
    """The link between a session's worker thread and its WebSocket: the
    worker's messages go into an asyncio queue on the server's loop."""

    def __init__(self, loop):
        self.loop = loop
        self.queue = asyncio.Queue()
        self.frames = 0  # frames queued and not yet sent (touched on the loop only)

    def publish(self, message):  # called from the worker thread
        try:
            self.loop.call_soon_threadsafe(self._put, message)
        except RuntimeError:  # the loop has closed: the server is stopping
            pass

    def _put(self, message):
        if message.get("type") == "frame":
            if self.frames >= _MAX_QUEUED_FRAMES:
                return  # the page is behind: it gets the next one
            self.frames += 1
        self.queue.put_nowait(message)


async def _index(request):
    return web.Response(body=_static("index.html"), content_type="text/html",
                        headers={"Cache-Control": "no-store"})


async def _file(request):
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.Response(body=_static(name), content_type=STATIC_FILES[name])


async def _socket(request):
    app = request.app
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=20)
    await ws.prepare(request)
    sessions = app[SESSIONS]
    if len(sessions) >= app[MAX_SESSIONS]:
        await ws.send_json({"type": "error", "field": None,
                            "message": f"this server already runs {app[MAX_SESSIONS]} "
                                       "sessions (close another tab)"})
        await ws.close()
        return ws
    tab = _Tab(asyncio.get_running_loop())
    session = Session(tab.publish)
    sessions.add(session)
    await ws.send_json({"type": "hello", "limits": LIMITS, "defaults": DEFAULTS,
                        "choices": choices(),
                        "config": session.config})
    session.start()
    sender = asyncio.create_task(_send(ws, tab))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                await ws.send_json({"type": "error", "field": "message",
                                    "message": "messages must be JSON text"})
                continue
            try:
                session.submit(check_message(msg.data, MAX_MESSAGE_BYTES))
            except ConfigError as exc:
                await ws.send_json({"type": "error", "field": exc.field, "message": str(exc)})
    finally:  # a closed tab: its session stops and is dropped
        sender.cancel()
        sessions.discard(session)
        await asyncio.get_running_loop().run_in_executor(None, session.stop)
    return ws


async def _send(ws, tab):
    try:
        while True:
            message = await tab.queue.get()
            if message.get("type") == "frame":
                tab.frames -= 1
            await ws.send_str(json.dumps(message, allow_nan=False))
    except (ConnectionResetError, asyncio.CancelledError):
        pass


async def _stop_sessions(app):
    for session in list(app[SESSIONS]):
        session.stop()
    app[SESSIONS].clear()


def make_app(max_sessions=8):
    """The aiohttp application; at most ``max_sessions`` tabs at once."""
    if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
        raise ValueError(f"max_sessions must be a positive int, got {max_sessions!r}")
    app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
    app[SESSIONS] = set()
    app[MAX_SESSIONS] = max_sessions
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _file)
    app.router.add_get("/ws", _socket)
    app.on_shutdown.append(_stop_sessions)
    return app
