"""The playground's web server (aiohttp): the page and its files, and one
WebSocket per tab, each tab its own :class:`~initreg.playground._session.Session`.

The page names no file: ``/`` is the page, ``/static/<name>`` serves only
the files shipped in the package, and downloads are made in memory.  A
WebSocket from a page of another origin is refused, and a server on a
loopback address answers only requests addressed to a loopback name (so
that a web page elsewhere cannot reach it through DNS rebinding).
"""
from __future__ import annotations

import asyncio
import collections
import importlib.resources
import json
import urllib.parse

from aiohttp import WSMsgType, web

from initreg.playground._config import DEFAULTS, LIMITS, ConfigError, choices, is_loopback
from initreg.playground._session import Session, check_message

__all__ = ["make_app", "STATIC_FILES", "MAX_MESSAGE_BYTES", "SESSIONS", "MAX_SESSIONS",
           "MAX_BEHIND"]

#: The files the page loads, all shipped in the wheel: nothing comes from
#: the network.
STATIC_FILES = {"playground.js": "text/javascript", "playground.css": "text/css"}
#: The largest message a page may send (a configuration is < 2 kB); a larger
#: one closes the connection (WebSocket close code 1009).
MAX_MESSAGE_BYTES = 65536
#: Replies (errors, downloads) a page may leave unread before it is
#: disconnected; frames, data and configurations only ever wait as the newest.
MAX_BEHIND = 32
SESSIONS = web.AppKey("sessions", set)
MAX_SESSIONS = web.AppKey("max_sessions", int)
LOOPBACK_ONLY = web.AppKey("loopback_only", bool)
_LATEST = ("data", "config", "frame")  # in the order a page needs them


def _static(name):
    return (importlib.resources.files("initreg.playground") / "static" / name).read_bytes()


class _Outbox:
    """What waits to go to one page, on the server's loop: the newest data,
    configuration and frame (each replaces the one before), and the replies
    in order.  The worker thread hands messages over with :meth:`publish`."""

    def __init__(self, loop):
        self.loop = loop
        self.latest = {}
        self.replies = collections.deque()
        self.ready = asyncio.Event()
        self.overflowed = False

    def publish(self, message):  # from the worker thread
        try:
            self.loop.call_soon_threadsafe(self.put, message)
        except RuntimeError:  # the loop has closed: the server is stopping
            pass

    def put(self, message):  # on the loop
        kind = message.get("type")
        if kind in _LATEST:
            self.latest[kind] = message
        elif len(self.replies) >= MAX_BEHIND:
            self.overflowed = True  # the page does not read: it is disconnected
        else:
            self.replies.append(message)
        self.ready.set()

    def take(self):
        """The messages to send now, in the order the page needs them: new
        data, the replies, the configuration, the frame."""
        out = [self.latest.pop("data")] if "data" in self.latest else []
        out += self.replies
        self.replies.clear()
        out += [self.latest.pop(k) for k in _LATEST if k in self.latest]
        self.ready.clear()
        return out


@web.middleware
async def _addressed_here(request, handler):
    """Refuse requests whose Host names another machine while serving on
    loopback, and WebSockets opened by a page of another origin."""
    host = urllib.parse.urlsplit("//" + request.host).hostname or ""
    if request.app[LOOPBACK_ONLY] and not is_loopback(host):
        raise web.HTTPForbidden(text="this playground serves this machine's own pages only")
    origin = request.headers.get("Origin")
    if request.path == "/ws" and origin is not None and \
            urllib.parse.urlsplit(origin).netloc != request.host:
        raise web.HTTPForbidden(text="a page of another site may not use this playground")
    return await handler(request)


async def _index(request):
    return web.Response(body=_static("index.html"), content_type="text/html",
                        headers={"Cache-Control": "no-store"})


async def _file(request):
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.Response(body=_static(name), content_type=STATIC_FILES[name],
                        headers={"Cache-Control": "no-store"})  # an upgrade is seen at once


async def _socket(request):
    app = request.app
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=20)
    await ws.prepare(request)
    sessions = app[SESSIONS]
    if len(sessions) >= app[MAX_SESSIONS]:
        await ws.send_json({"type": "error", "field": None, "fatal": True,
                            "message": f"this server already runs {app[MAX_SESSIONS]} "
                                       "sessions (close another tab)"})
        await ws.close()
        return ws
    outbox = _Outbox(asyncio.get_running_loop())
    session = Session(outbox.publish)
    sessions.add(session)  # counted until its thread has ended
    sender = None
    try:
        await ws.send_json({"type": "hello", "limits": LIMITS, "defaults": DEFAULTS,
                            "choices": choices(), "config": session.config})
        sender = asyncio.create_task(_send(ws, outbox))  # from now on, the only writer
        session.start()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                outbox.put({"type": "error", "field": "message",
                            "message": "messages must be JSON text"})
                continue
            try:
                session.submit(check_message(msg.data, MAX_MESSAGE_BYTES))
            except ConfigError as exc:
                outbox.put({"type": "error", "field": exc.field, "message": str(exc)})
    finally:  # a closed tab: its session stops, and frees its slot once it has
        if sender is not None:
            sender.cancel()
        asyncio.get_running_loop().create_task(_release(app, session))
    return ws


async def _release(app, session):
    loop = asyncio.get_running_loop()
    while not await loop.run_in_executor(None, session.stop, 1.0):
        pass
    app[SESSIONS].discard(session)


async def _send(ws, outbox):
    try:
        while not ws.closed:
            await outbox.ready.wait()
            if outbox.overflowed:
                await ws.close(code=1008, message=b"too far behind")
                return
            for message in outbox.take():
                await ws.send_str(json.dumps(message, allow_nan=False))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    except Exception:  # noqa: BLE001 -- a message that cannot be sent: close, don't hang
        await ws.close(code=1011, message=b"internal error")
        raise


async def _stop_sessions(app):
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(None, s.stop) for s in list(app[SESSIONS])))
    app[SESSIONS].clear()


def make_app(max_sessions=8, *, loopback_only=True):
    """The aiohttp application: at most ``max_sessions`` tabs at once; with
    ``loopback_only``, only requests addressed to a loopback name."""
    if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
        raise ValueError(f"max_sessions must be a positive int, got {max_sessions!r}")
    app = web.Application(client_max_size=MAX_MESSAGE_BYTES, middlewares=[_addressed_here])
    app[SESSIONS] = set()
    app[MAX_SESSIONS] = max_sessions
    app[LOOPBACK_ONLY] = bool(loopback_only)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _file)
    app.router.add_get("/ws", _socket)
    app.on_shutdown.append(_stop_sessions)
    return app
