"""One browser tab's training: a worker thread that owns the data, the models
and their optimizers, takes the page's messages from a queue between steps,
trains, and publishes frames of what to draw.

Only the worker thread touches the models, so nothing here needs a lock
beyond the two queues.  One model trains step by step with
:meth:`initreg.MLP.step`, on the batches :meth:`initreg.MLP.fit` would use,
so every change of the page takes effect at the next step; a comparison
trains its models on the model axis of :class:`initreg.Ensemble`, one
compiled call per epoch, so a change takes effect at the next epoch.
"""
from __future__ import annotations

import base64
import json
import math
import queue
import threading
import time

import numpy as np

from initreg import _fit
from initreg.ensemble import Ensemble
from initreg.playground import _config
from initreg.playground._config import ConfigError

__all__ = ["Session", "check_message", "MESSAGE_TYPES", "FRAME_INTERVAL", "GRID"]

#: Seconds between frames while training (15 frames a second).
FRAME_INTERVAL = 1 / 15
#: The decision boundary is drawn from a GRID x GRID evaluation of the plane.
GRID = 64
#: Samples of the training set that the per-layer statistics are taken on.
TRACE_SAMPLES = 256
#: Bins of a layer's weight histogram.
HIST_BINS = 41
#: The longest a frame's loss curves grow before they are thinned to half.
CURVE_POINTS = 600

#: Messages a session holds before it refuses more (a page flooding it).
MAX_PENDING = 256

#: What the page may send: type -> the fields it must carry.
MESSAGE_TYPES = {
    "config": {"config"},
    "control": {"action"},
    "focus": {"index"},
    "download": {"what"},
    "speed": {"steps_per_second"},
}
CONTROL_ACTIONS = ("play", "pause", "step", "reset", "reseed")
DOWNLOADS = ("model", "recipe")


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def check_message(text, max_bytes=65536):
    """The page's message as a dict, checked for its shape (the configuration
    itself is checked by :func:`initreg.playground._config.merge`).  Raises
    ConfigError naming what is wrong."""
    if isinstance(text, bytes) or len(text) > max_bytes:
        raise ConfigError("message", f"must be JSON text of at most {max_bytes} bytes")
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ConfigError("message", f"not JSON: {exc}") from None
    if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
        raise ConfigError("message", f"must be an object with a type of "
                                     f"{', '.join(MESSAGE_TYPES)}")
    fields = set(message) - {"type"}
    if fields != MESSAGE_TYPES[message["type"]]:
        raise ConfigError(message["type"], f"carries {sorted(fields)}, expected "
                                           f"{sorted(MESSAGE_TYPES[message['type']])}")
    kind = message["type"]
    if kind == "control":
        _config._choice(message["action"], "control.action", CONTROL_ACTIONS)
    elif kind == "download":
        _config._choice(message["what"], "download.what", DOWNLOADS)
    elif kind == "focus":
        _config._number(message["index"], "focus.index", 0, _config.LIMITS["max_compare"] - 1,
                        integer=True)
    elif kind == "speed":
        _config._number(message["steps_per_second"], "speed.steps_per_second", 0, 1e6)
    return message


def _b64(array):
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _largest(weights):
    """The largest |w| (1 when all are 0); the parameters are finite (a step
    that would make them otherwise is not applied)."""
    return max(float(np.abs(w).max()) for w in weights) or 1.0


def _finite(x):
    """JSON has no NaN: None in its place."""
    x = float(x)
    return x if math.isfinite(x) else None


class Session:
    """The training of one tab.  ``publish(message)`` is called from the
    worker thread with each message for the page (a dict); it must be
    thread-safe and must not block."""

    def __init__(self, publish, config=None):
        self._publish = publish
        self.config = _config.merge(_config.DEFAULTS, config or {})
        self._inbox = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="initreg-playground", daemon=True)
        self.running = False
        self.focus = 0
        self.speed = 0.0  # steps a second at most; 0: as fast as it trains
        self.error = None  # an exception that ended the worker

    # -- the server's side ------------------------------------------------------------

    def start(self):
        self._thread.start()
        return self

    def submit(self, message):
        """A message checked by :func:`check_message`, for the worker.  A
        page that sends faster than the session keeps up is told so: beyond
        :data:`MAX_PENDING` waiting messages, ConfigError and the message
        is dropped."""
        if self._inbox.qsize() >= MAX_PENDING:
            raise ConfigError("message", f"{MAX_PENDING} messages are still waiting; this one "
                                         "was dropped (send fewer)")
        self._inbox.put(message)

    def stop(self, timeout=5.0):
        """Stop the worker; True when it has ended."""
        self._stop.set()
        self._inbox.put(None)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self):
        return self._thread.is_alive()

    # -- the worker -------------------------------------------------------------------

    def _run(self):
        try:
            self._build(data=True)
            next_frame = 0.0
            while not self._stop.is_set():
                self._handle_messages(block=not self.running)
                if self._stop.is_set():
                    break
                if self.running:
                    budget = max(next_frame - time.perf_counter(), 0.0)
                    if self.speed:  # this frame's share of the steps, then wait
                        self._train_steps(max(1, round(self.speed * FRAME_INTERVAL)))
                        self._handle_messages(block=True, until=next_frame)
                    else:
                        self._train_for(budget)
                now = time.perf_counter()
                if self._dirty or (self.running and now >= next_frame):
                    self._send_frame()
                    next_frame = now + FRAME_INTERVAL
        except Exception as exc:  # noqa: BLE001 -- shown in the page, never lost
            self.error = exc
            self._publish({"type": "error", "field": None,
                           "message": f"the session stopped: {type(exc).__name__}: {exc}"})

    def _handle_messages(self, block, until=None):
        """The messages waiting; with ``block``, wait for one (until
        ``until``, or at most 0.25 s)."""
        timeout = None
        if block:
            timeout = 0.25 if until is None else until - time.perf_counter()
            if timeout <= 0:
                timeout = None
        while True:
            try:
                message = self._inbox.get(timeout=timeout) if timeout else \
                    self._inbox.get_nowait()
            except queue.Empty:
                return
            timeout = None
            if message is None:
                return
            try:
                self._handle(message)
            except ConfigError as exc:
                self._publish({"type": "error", "field": exc.field, "message": str(exc)})

    def _handle(self, message):
        kind = message["type"]
        if kind == "config":
            self._configure(message["config"])
        elif kind == "control":
            self._control(message["action"])
        elif kind == "focus":
            if message["index"] >= len(self.models):
                raise ConfigError("focus.index", f"there are {len(self.models)} models")
            self.focus = int(message["index"])
            self._dirty = True
        elif kind == "download":
            self._download(message["what"])
        elif kind == "speed":
            self.speed = float(message["steps_per_second"])
            self._rate_steps, self._rate_time = 0, 0.0

    def _configure(self, update):
        old = self.config
        new = _config.merge(old, update)  # raises, and nothing changes
        self.config = new
        if new["data"] != old["data"]:
            self._build(data=True)
        elif new["network"] != old["network"] or new["compare"] != old["compare"] or \
                new["training"]["optimizer"] != old["training"]["optimizer"]:
            self._build(data=False)
        else:  # settings of the optimizers only: applied at the next step, state kept
            for opt, one in zip(self.optimizers, _config.varied(new)):
                opt.set(**_config.optimizer_settings(one["training"]))
        self._publish({"type": "config", "config": new})

    def _control(self, action):
        if action == "play":
            self.running = True
        elif action == "pause":
            self.running = False
        elif action == "step":
            self.running = False
            self._one_step()
        elif action == "reset":  # the same initial weights again
            self.running = False
            self._build(data=False)
        elif action == "reseed":  # new initial weights
            self.running = False
            seed = int(np.random.default_rng().integers(0, _config.LIMITS["max_seed"]))
            self.config = _config.merge(self.config, {"network": {"seed": seed}})
            self._build(data=False)
            self._publish({"type": "config", "config": self.config})
        self._dirty = True

    # -- building ---------------------------------------------------------------------

    def _build(self, data):
        c = self.config
        if data:
            self.data = d = _config.make_data(c["data"])
            lo = np.minimum(d.X_train.min(0), d.X_test.min(0))
            hi = np.maximum(d.X_train.max(0), d.X_test.max(0))
            pad = 0.1 * (hi - lo)
            self.extent = [float(lo[0] - pad[0]), float(hi[0] + pad[0]),
                           float(lo[1] - pad[1]), float(hi[1] + pad[1])]
            gx = np.linspace(self.extent[0], self.extent[1], GRID)
            gy = np.linspace(self.extent[3], self.extent[2], GRID)  # top row first
            self.grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2).astype(np.float32)
            n = min(TRACE_SAMPLES, len(d.y_train))
            self.trace_batch = (d.X_train[:n], d.y_train[:n])
            self._publish({"type": "data", "extent": self.extent,
                           "n_classes": d.n_classes,
                           "train": {"x": d.X_train.round(4).tolist(),
                                     "y": d.y_train.tolist()},
                           "test": {"x": d.X_test.round(4).tolist(), "y": d.y_test.tolist()}})
        configs = _config.varied(c)
        self.models = [_config.make_model(one["network"], self.data.n_classes)
                       for one in configs]
        self.optimizers = [_config.make_optimizer(one["training"]) for one in configs]
        self.labels = self._labels()
        self.ensemble = Ensemble.from_models(self.models) if len(self.models) > 1 else None
        self.focus = min(self.focus, len(self.models) - 1)
        self.epoch, self.position, self.steps, self.order = 0, 0, 0, None
        self.diverged = [False] * len(self.models)
        self._rate_steps, self._rate_time = 0, 0.0
        self.steps_per_second = 0.0
        self._fresh = True
        self._dirty = True

    def _labels(self):
        vary = self.config["compare"]["vary"]
        if vary is None:
            return [""]
        return [f"{vary} = {v}" for v in self.config["compare"]["values"]]

    # -- training ---------------------------------------------------------------------

    def _batch_size(self):
        return self.config["training"]["batch_size"]

    def _one_step(self):
        """One minibatch step of every model, on the next batch of the epoch
        ``MLP.fit`` would run (models that diverged stay where they are)."""
        d, n = self.data, len(self.data.y_train)
        if self.order is None:
            self.order = _fit.epoch_order(self.config["network"]["seed"], self.epoch, n, True)
        idx = self.order[self.position:self.position + self._batch_size()]
        X, y = d.X_train[idx], d.y_train[idx]
        for k, (m, opt) in enumerate(zip(self.models, self.optimizers)):
            if not self.diverged[k]:
                m.step(X, y, opt)
                self.diverged[k] = m.diverged
        self.steps += 1
        self.position += len(idx)
        if self.position >= n:
            self._end_epoch()
        if all(self.diverged):
            self.running = False

    def _end_epoch(self):
        self.epoch += 1
        self.position, self.order = 0, None
        for m, opt in zip(self.models, self.optimizers):
            m._epochs_trained += 1  # as fit counts them: the next epoch's order
            opt.epoch += 1

    def _train_for(self, budget):
        """Train until ``budget`` seconds have passed (at least one step)."""
        start = time.perf_counter()
        steps = self.steps
        if self.ensemble is None or self.position:
            while True:  # single steps (and a comparison's unfinished epoch)
                self._one_step()
                if not self.running or (self.ensemble is not None and not self.position) \
                        or time.perf_counter() - start >= budget:
                    break
        while self.running and self.ensemble is not None and \
                time.perf_counter() - start < budget:
            self._ensemble_epoch()
        self._count_rate(self.steps - steps, time.perf_counter() - start)

    def _train_steps(self, count):
        """``count`` single steps (a limited speed), timed like _train_for."""
        start, steps = time.perf_counter(), self.steps
        for _ in range(count):
            if not self.running:
                break
            self._one_step()
        self._count_rate(self.steps - steps, time.perf_counter() - start + FRAME_INTERVAL)

    def _count_rate(self, steps, elapsed):
        self._rate_steps += steps
        self._rate_time += elapsed
        if self._rate_time >= (0.5 if self.steps_per_second else 0.1):
            self.steps_per_second = self._rate_steps / self._rate_time
            self._rate_steps, self._rate_time = 0, 0.0

    def _ensemble_epoch(self):
        d = self.data
        n = len(d.y_train)
        histories = self.ensemble.fit(d.X_train, d.y_train, epochs=1,
                                      batch_size=self._batch_size(),
                                      optimizer=self.optimizers, streams="shared",
                                      seed=self.config["network"]["seed"],
                                      on_divergence="ignore")
        for k, h in enumerate(histories):
            self.diverged[k] = self.diverged[k] or h.diverged
        self.epoch += 1
        self.steps += -(-n // self._batch_size())
        if all(self.diverged):
            self.running = False

    # -- frames -----------------------------------------------------------------------

    def _send_frame(self):
        d = self.data
        models = []
        for k, m in enumerate(self.models):
            train_loss, train_acc = self._evaluate(m, d.X_train, d.y_train)
            test_loss, test_acc = self._evaluate(m, d.X_test, d.y_test)
            with np.errstate(all="ignore"):  # overflowing logits: a blank plane
                p = np.nan_to_num(m.predict_proba(self.grid), nan=0.0)
            boundary = np.empty((p.shape[0], 2), np.uint8)
            boundary[:, 0] = p.argmax(1)
            boundary[:, 1] = np.round(255 * p.max(1))
            zeros = int(sum(np.count_nonzero(w == 0) for w in m.weights))
            models.append({"label": self.labels[k], "diverged": self.diverged[k],
                           "train_loss": _finite(train_loss), "train_accuracy": train_acc,
                           "test_loss": _finite(test_loss), "test_accuracy": test_acc,
                           "zeros": zeros, "n_weights": int(sum(w.size for w in m.weights)),
                           "boundary": _b64(boundary)})
        frame = {"type": "frame", "fresh": self._fresh, "running": self.running,
                 "epoch": self.epoch, "step": self.steps,
                 "steps_per_second": round(self.steps_per_second, 1),
                 "models": models, "focus": self.focus, "grid": GRID,
                 "layers": self._layers(self.models[self.focus]),
                 "network": self._network(self.models[self.focus])}
        self._fresh = self._dirty = False
        self._publish(frame)

    @staticmethod
    def _evaluate(model, X, y):
        if model.diverged:
            return float("nan"), None
        loss, correct = model._net.evaluate(*model._check_Xy(X, y))
        return loss, correct / len(y)

    def _layers(self, model):
        """Per layer: activation and gradient std on a fixed batch, the weight
        histogram (one range for all layers) and the exact zeros."""
        if model.diverged:
            return []
        trace = model.trace(*self.trace_batch)
        weights = model.weights
        top = _largest(weights)
        out = []
        for a, g, w in zip(trace.activations, trace.gradients, weights):
            counts, _ = np.histogram(w, bins=HIST_BINS, range=(-top, top))
            out.append({"activation_std": _finite(a.std(dtype=np.float64)),
                        "gradient_std": _finite(g.std(dtype=np.float64)),
                        "histogram": counts.tolist(), "range": top,
                        "zeros": int(np.count_nonzero(w == 0)), "size": int(w.size)})
        return out

    @staticmethod
    def _network(model):
        """The weights as int8 (sign and magnitude on one scale for all
        layers); an exact zero stays 0, any other weight is at least 1."""
        weights = model.weights
        top = _largest(weights)
        flat = np.concatenate([w.ravel() for w in weights]).astype(np.float64)
        q = np.round(127 * np.abs(flat) / top)
        q = np.where(flat == 0, 0, np.maximum(q, 1) * np.sign(flat)).astype(np.int8)
        return {"sizes": list(model.layer_sizes), "weights": _b64(q), "scale": top}

    # -- downloads ----------------------------------------------------------------------

    def _download(self, what):
        k = self.focus
        if what == "model":
            data = self.models[k].to_bytes(optimizer=self.optimizers[k])
            self._publish({"type": "download", "what": "model",
                           "filename": "initreg-playground.npz",
                           "mime": "application/octet-stream",
                           "data": base64.b64encode(data).decode("ascii")})
        else:
            text = recipe(_config.varied(self.config)[k], self.epoch)
            self._publish({"type": "download", "what": "recipe",
                           "filename": "initreg-playground.txt", "mime": "text/plain",
                           "text": text})


def recipe(config, epochs):
    """The ``initreg train`` command and the Python code that train the
    configuration ``config`` (one model's) for ``epochs`` epochs."""
    d, n, t = config["data"], config["network"], config["training"]
    value = _config.init_value(n)
    layers = ",".join(map(str, [2, *n["hidden"], _n_classes(d)]))
    command = [f"initreg train --dataset {d['name']} --samples {d['n_samples']}",
               f"--noise {d['noise']} --test-fraction {d['test_fraction']}",
               f"--data-seed {d['seed']} --layers {layers}",
               f"--activation {n['activation']} --init {n['init']}"
               + (f" --init-param {value}" if value is not None else ""),
               f"--bias-init {n['bias_init']} --seed {n['seed']}",
               f"--optimizer {t['optimizer']} --lr {t['lr']}"
               + (f" --momentum {t['momentum']}" if t["optimizer"] == "sgd" else ""),
               f"--batch-size {t['batch_size']} --l1 {t['l1']} --l1-mode {t['l1_mode']}",
               f"--l2 {t['l2']} --weight-decay {t['weight_decay']} --epochs {epochs}"]
    init = repr(n["init"]) if value is None else \
        f"ir.init.with_parameter({n['init']!r}, {value!r})"
    settings = ", ".join(f"{k}={v!r}" for k, v in _config.optimizer_settings(t).items())
    kind = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[t["optimizer"]]
    python = f'''import initreg as ir
from initreg.experiments import load_dataset

data = load_dataset({d['name']!r}, seed={d['seed']}, test_size={d['test_fraction']!r},
                    n_samples={d['n_samples']}, noise={d['noise']!r})
net = ir.MLP([2, {', '.join(map(str, n['hidden'])) + ', ' if n['hidden'] else ''}\
{_n_classes(d)}], activation={n['activation']!r}, init={init},
             bias_init={n['bias_init']!r}, seed={n['seed']})
opt = ir.{kind}({settings})
history = net.fit(data.X_train, data.y_train, epochs={epochs}, batch_size={t['batch_size']},
                  optimizer=opt, validation_data=(data.X_test, data.y_test))
print(net.score(data.X_test, data.y_test))
'''
    return ("# The run of the initreg playground with these settings, from its initial\n"
            f"# weights for the {epochs} whole epochs it trained.  Settings changed while it\n"
            "# trained are not replayed: these are the settings it has now.\n\n"
            + " \\\n    ".join(command) + "\n\n" + python)


def _n_classes(data_config):
    return 3 if data_config["name"] == "blobs" else 2
