"""``initreg bench --only playground``: the live page's training speed and
frame rate, measured as the page sees them -- a WebSocket client on a
loopback port receives the frames of a session training as fast as it can.
"""
from __future__ import annotations

import asyncio
import json
import time

__all__ = ["PLAYGROUND_CONFIGS", "time_playground", "print_playground"]

#: name -> the page's configuration update (spirals, 400 points, batch 10)
PLAYGROUND_CONFIGS = {
    "2-8-8-2": {"network": {"hidden": [8, 8]}},
    "2-32-32-32-2": {"network": {"hidden": [32, 32, 32]}},
    "2-8-8-2 x 4 inits": {"compare": {"vary": "init",
                                      "values": ["zeros", "xavier", "he", "orthogonal"]}},
    "2-8-8-2 x 8 L1": {"compare": {"vary": "l1", "values": [0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2,
                                                             3e-2, 1e-1]}},
    "2-32-32-32-2 x 8 L1": {"network": {"hidden": [32, 32, 32]},
                            "compare": {"vary": "l1", "values": [0, 1e-4, 3e-4, 1e-3, 3e-3,
                                                                 1e-2, 3e-2, 1e-1]}},
}


async def _measure(url, update, seconds):
    import aiohttp
    frames = []
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url + "ws", max_msg_size=0) as ws:
            await ws.send_str(json.dumps({"type": "config", "config": update}))
            await ws.send_str(json.dumps({"type": "speed", "steps_per_second": 0}))
            await ws.send_str(json.dumps({"type": "control", "action": "play"}))
            end = None
            while True:
                msg = await ws.receive(timeout=30)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"the server closed the connection: {msg}")
                m = json.loads(msg.data)
                if m["type"] == "error":
                    raise RuntimeError(m["message"])
                if m["type"] != "frame" or not m["running"]:
                    continue
                now = time.perf_counter()
                end = end or now + seconds
                frames.append((now, m["step"], len(m["models"]), len(msg.data)))
                if now >= end:
                    break
    (t0, s0, k, _), (t1, s1, _, _) = frames[0], frames[-1]
    gaps = sorted(b[0] - a[0] for a, b in zip(frames, frames[1:]))
    return {"steps_per_s": (s1 - s0) / (t1 - t0), "models": k,
            "model_steps_per_s": k * (s1 - s0) / (t1 - t0),
            "frames_per_s": (len(frames) - 1) / (t1 - t0),
            "slowest_frame_gap_ms": 1e3 * gaps[-1],
            "frame_kB": sum(f[3] for f in frames) / len(frames) / 1e3}


def time_playground(single_thread, seconds=4.0, configs=None):
    """Each configuration trained for ``seconds`` through a real server;
    ``single_thread()`` is a context manager that pins BLAS to one thread."""
    from initreg.playground import running
    out = {}
    with single_thread(), running() as url:
        for name in configs or PLAYGROUND_CONFIGS:
            out[name] = asyncio.run(_measure(url, PLAYGROUND_CONFIGS[name], seconds))
    return out


def print_playground(res):
    print("\n# the playground as the page sees it: a session training as fast as it can, "
          "frames received over a loopback WebSocket (1 BLAS thread)")
    print(f"  {'network':22s} {'steps/s':>9s} {'model-steps/s':>14s} {'frames/s':>9s} "
          f"{'slowest gap ms':>15s} {'kB/frame':>9s}")
    for name, r in res.items():
        print(f"  {name:22s} {r['steps_per_s']:9.0f} {r['model_steps_per_s']:14.0f} "
              f"{r['frames_per_s']:9.1f} {r['slowest_frame_gap_ms']:15.0f} "
              f"{r['frame_kB']:9.1f}")
