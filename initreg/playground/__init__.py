"""The initreg playground: a page that trains small networks live in the
browser -- data on a plane, every initializer, SGD/Adam/AdamW, L1 (each
mode), L2 and weight decay, changed while training runs -- and shows the
decision boundary, the loss curves, each layer's activation and gradient
spread, the weight histograms with their exact zeros, and the network.

``initreg playground`` (or :func:`serve`) serves it on
http://127.0.0.1:8000; :func:`running` serves it from a background thread
(a notebook, a test).  It needs aiohttp: ``pip install "initreg[playground]"``.

Each tab is a session with its own worker thread; closing the tab stops
it.  Everything the page sends is checked (:mod:`._config` has the limits);
the page cannot name a file, and downloads are made in memory.
"""
from __future__ import annotations

import contextlib
import threading
import warnings
import webbrowser

from initreg.playground._config import is_loopback

__all__ = ["serve", "running"]

def _check(host, port):
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be an address or a name, got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be 0 (any free port) to 65535, got {port!r}")
    if not is_loopback(host):
        warnings.warn(f"serving on {host}: anyone who can reach this port can use the "
                      "playground (it trains on this machine's CPU)", UserWarning,
                      stacklevel=3)


def _bound_url(runner, host):
    port = runner.addresses[0][1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(host="127.0.0.1", port=8000, *, open_browser=False, max_sessions=8):
    """Serve the playground until Ctrl-C, printing its URL.  ``port=0``
    picks a free port; a ``host`` other than a loopback address warns that
    anyone who can reach the port can use it."""
    import asyncio

    from aiohttp import web

    from initreg.playground._server import make_app

    _check(host, port)
    app = make_app(max_sessions, loopback_only=is_loopback(host))

    async def main():
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        url = _bound_url(runner, host)
        print(f"initreg playground on {url} (Ctrl-C stops it)", flush=True)
        if open_browser:
            webbrowser.open(url)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


@contextlib.contextmanager
def running(host="127.0.0.1", port=0, *, max_sessions=8):
    """Serve the playground from a background thread while the block runs;
    yields its URL.  ``port=0`` (the default) picks a free port."""
    from initreg.playground._server import make_app

    _check(host, port)
    with _in_thread(make_app(max_sessions, loopback_only=is_loopback(host)), host, port) as url:
        yield url


@contextlib.contextmanager
def _in_thread(app, host, port):
    import asyncio

    from aiohttp import web

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handle_signals=False)
    ready = threading.Event()
    failed = []

    def run():
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, host, port).start())
        except BaseException as exc:  # noqa: BLE001 -- raised in the caller's thread
            failed.append(exc)
        ready.set()
        if not failed:
            loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="initreg-playground-server", daemon=True)
    thread.start()
    ready.wait()
    if failed:
        thread.join(10)
        raise failed[0]
    try:
        yield _bound_url(runner, host)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
