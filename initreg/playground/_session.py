"""One browser tab's training: a worker thread that owns the data, the models
and their optimizers, takes the page's messages from a queue between steps,
trains, and publishes frames of what to draw.

Only the worker thread touches the models, so nothing here needs a lock
beyond the inbox.  One model trains step by step with
:meth:`initreg.MLP.step`, on the batches :meth:`initreg.MLP.fit` would use,
so every change of the page takes effect at the next step; compared models
train a whole epoch at a time with :meth:`initreg.Ensemble.fit` whenever an
epoch fits in a frame (a change then takes effect at the next epoch), and
step together otherwise.  Work is cut into pieces no longer than a frame,
and a waiting message ends the piece early.
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
        self._running = False
        self._restart_clocks()
        self._dirty = True
        self.focus = 0
        self.speed = 0.0  # steps a second at most; 0: as fast as it trains
        self.run = 0  # counts the (re)builds: a frame of a new run starts new curves
        self.steps_per_second = 0.0
        self.error = None  # an exception that ended the worker

    @property
    def running(self):
        return self._running

    @running.setter
    def running(self, value):
        if value != self._running:
            self._running = value
            self._dirty = True  # the page hears of every start and stop
            self._restart_clocks()
            if not value:
                self.steps_per_second = 0.0

    def _restart_clocks(self):
        """The speed limit's allowance and the steps/s measurement start now."""
        now = time.perf_counter()
        self._tokens, self._tokens_at = 1.0, now
        self._rate_from = (now, getattr(self, "steps", 0))

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
                    self._guarded(self._train_until, next_frame)
                now = time.perf_counter()
                if self._dirty or (self.running and now >= next_frame):
                    self._guarded(self._send_frame)
                    next_frame = now + FRAME_INTERVAL
                if self.running and self.speed:  # wait for the next step's turn
                    wake = min(next_frame, now + max(1 - self._tokens, 0) / self.speed)
                    self._handle_messages(block=True, until=wake)
        except Exception as exc:  # noqa: BLE001 -- shown in the page, never lost
            self.error = exc
            self._publish({"type": "error", "field": None, "fatal": True,
                           "message": f"the session stopped: {type(exc).__name__}: {exc}"})

    def _guarded(self, work, *args):
        """Run ``work``; an unexpected error pauses training and is shown in
        the page, and the session goes on."""
        try:
            work(*args)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001
            self.running = False
            self._dirty = True
            self._publish({"type": "error", "field": None,
                           "message": f"{type(exc).__name__}: {exc} (training paused)"})

    def _handle_messages(self, block, until=None):
        """The messages waiting; with ``block``, wait for one (until
        ``until``, or at most 0.25 s)."""
        timeout = None
        if block:
            timeout = 0.25 if until is None else until - time.perf_counter()
            if timeout <= 0:
                timeout = None
        while not self._stop.is_set():
            try:
                message = self._inbox.get(timeout=timeout) if timeout else \
                    self._inbox.get_nowait()
            except queue.Empty:
                return
            timeout = None
            if message is None:
                return
            try:
                self._guarded(self._handle, message)
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
            self._restart_clocks()

    def _configure(self, update):
        old = self.config
        new = _config.merge(old, update)  # raises, and nothing changes
        data = _config.make_data(new["data"]) if new["data"] != old["data"] else None
        self.config = new
        if data is not None:
            self._build(data=data)
        elif new["network"] != old["network"] or new["compare"] != old["compare"] or \
                new["training"]["optimizer"] != old["training"]["optimizer"]:
            self._build(data=False)
        else:  # settings of the optimizers only: applied at the next step, state kept
            for opt, one in zip(self.optimizers, _config.varied(new)):
                opt.set(**_config.optimizer_settings(one["training"]))
            self.diverged = [False] * len(self.models)  # new settings: every model trains
        self._publish({"type": "config", "config": new})

    def _control(self, action):
        if action == "play":
            if all(self.diverged):
                raise ConfigError("control.action", "every model diverged: press Reset, or "
                                                    "change a training setting")
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
        """New models (and, given ``data`` -- True or a Data already made --
        new data): a new run."""
        c = self.config
        if data is not False:
            self.data = d = _config.make_data(c["data"]) if data is True else data
            lo = np.minimum(d.X_train.min(0), d.X_test.min(0))
            hi = np.maximum(d.X_train.max(0), d.X_test.max(0))
            pad = 0.1 * (hi - lo)
            self.extent = [float(lo[0] - pad[0]), float(hi[0] + pad[0]),
                           float(lo[1] - pad[1]), float(hi[1] + pad[1])]
            # the centres of GRID x GRID cells over the extent, top row first
            cells = (np.arange(GRID) + 0.5) / GRID
            gx = self.extent[0] + cells * (self.extent[1] - self.extent[0])
            gy = self.extent[3] - cells * (self.extent[3] - self.extent[2])
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
        self.focus = min(self.focus, len(self.models) - 1)
        self.epoch, self.position, self.steps, self.order = 0, 0, 0, None
        self.diverged = [False] * len(self.models)
        self._ensemble, self._epoch_seconds = None, 0.0
        self.running = False
        self.run += 1
        self._restart_clocks()
        self._dirty = True

    def _labels(self):
        vary = self.config["compare"]["vary"]
        if vary is None:
            return [""]
        return [f"{vary} = {v}" for v in self.config["compare"]["values"]]

    # -- training ---------------------------------------------------------------------

    def _batch_size(self):
        return self.config["training"]["batch_size"]

    def _steps_per_epoch(self):
        return -(-len(self.data.y_train) // self._batch_size())

    def _one_step(self):
        """One minibatch step of every model that has not diverged, on the
        next batch of the epoch ``MLP.fit`` would run."""
        if all(self.diverged):
            self.running = False
            return
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

    def _interrupted(self, deadline):
        return (time.perf_counter() >= deadline or self._stop.is_set()
                or not self._inbox.empty() or not self.running)

    def _train_until(self, deadline):
        """Train until ``deadline`` (perf_counter seconds) or a message
        arrives -- with a speed limit, only the steps due by now.  Compared
        models train whole epochs on the model axis of an Ensemble while an
        epoch takes under a frame (and, with a limit, a frame's allowance
        holds an epoch); single steps otherwise."""
        if self.speed:  # a token bucket: speed tokens a second, a frame's worth at most
            now = time.perf_counter()
            self._tokens = min(self._tokens + self.speed * (now - self._tokens_at),
                               max(self.speed * FRAME_INTERVAL, 1.0))
            self._tokens_at = now
        while self.running and not (self.speed and self._tokens < 1):
            per_epoch = self._steps_per_epoch()
            if len(self.models) > 1 and not self.position and \
                    self._epoch_seconds < FRAME_INTERVAL and \
                    (not self.speed or self._tokens >= per_epoch):
                self._ensemble_epoch()
                self._tokens -= per_epoch if self.speed else 0
            else:
                self._one_step()
                self._tokens -= 1 if self.speed else 0
            if self._interrupted(deadline):
                break
        self._measure_rate()

    def _measure_rate(self):
        """Steps a second over the wall time since the last measurement."""
        start, steps = self._rate_from
        elapsed = time.perf_counter() - start
        if elapsed >= (0.5 if self.steps_per_second else 0.1):
            self.steps_per_second = (self.steps - steps) / elapsed
            self._rate_from = (start + elapsed, self.steps)

    def _ensemble_epoch(self):
        """One epoch of every model that has not diverged, in one Ensemble
        call (rebuilt when a model drops out)."""
        active = [k for k, gone in enumerate(self.diverged) if not gone]
        if self._ensemble is None or self._ensemble[0] != active:
            self._ensemble = (active, Ensemble.from_models([self.models[k] for k in active]))
        d = self.data
        start = time.perf_counter()
        histories = self._ensemble[1].fit(
            d.X_train, d.y_train, epochs=1, batch_size=self._batch_size(),
            optimizer=[self.optimizers[k] for k in active], streams="shared",
            seed=self.config["network"]["seed"], on_divergence="ignore")
        self._epoch_seconds = time.perf_counter() - start
        for k, h in zip(active, histories):
            self.diverged[k] = h.diverged
        for k in set(range(len(self.models))) - set(active):  # the frozen ones keep count
            self.models[k]._epochs_trained += 1
            self.optimizers[k].epoch += 1
        self.epoch += 1
        self.steps += self._steps_per_epoch()
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
        frame = {"type": "frame", "run": self.run, "running": self.running,
                 "epoch": self.epoch, "step": self.steps,
                 "steps_per_second": round(self.steps_per_second, 1),
                 "models": models, "focus": self.focus, "grid": GRID,
                 "layers": self._layers(self.models[self.focus]),
                 "network": self._network(self.models[self.focus])}
        self._dirty = False
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
        with np.errstate(all="ignore"):  # huge weights: the spreads say inf, shown as none
            trace = model.trace(*self.trace_batch)
        weights = model.weights
        top = _largest(weights)
        out = []
        for a, g, w in zip(trace.activations, trace.gradients, weights):
            # in float64: float32 edges of a range near the float32 maximum overflow
            counts, _ = np.histogram(w.astype(np.float64), bins=HIST_BINS, range=(-top, top))
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
            text = recipe(_config.varied(self.config)[k], self.epoch, self.data.n_classes,
                          self.position)
            self._publish({"type": "download", "what": "recipe",
                           "filename": "initreg-playground.txt", "mime": "text/plain",
                           "text": text})


def recipe(config, epochs, n_classes, unfinished=0):
    """The ``initreg train`` command and the Python code that train the
    configuration ``config`` (one model's) for ``epochs`` epochs;
    ``unfinished`` samples of the next epoch the page trained are said."""
    d, n, t = config["data"], config["network"], config["training"]
    value = _config.init_value(n)
    sizes = [2, *n["hidden"], n_classes]
    command = [f"initreg train --dataset {d['name']} --samples {d['n_samples']}",
               f"--noise {d['noise']} --test-fraction {d['test_fraction']}",
               f"--data-seed {d['seed']} --layers {','.join(map(str, sizes))}",
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
    python = f"""import initreg as ir
from initreg.experiments import load_dataset

data = load_dataset({d['name']!r}, seed={d['seed']}, test_size={d['test_fraction']!r},
                    n_samples={d['n_samples']}, noise={d['noise']!r})
net = ir.MLP({sizes}, activation={n['activation']!r}, init={init},
             bias_init={n['bias_init']!r}, seed={n['seed']})
opt = ir.{_config.OPTIMIZERS[t['optimizer']].__name__}({settings})
history = net.fit(data.X_train, data.y_train, epochs={epochs}, batch_size={t['batch_size']},
                  optimizer=opt, validation_data=(data.X_test, data.y_test))
print(net.score(data.X_test, data.y_test))
"""
    more = (f"# (The page also trained {unfinished} samples into the next epoch, which\n"
            "# these do not.)\n") if unfinished else ""
    return ("# The run of the initreg playground with these settings, from its initial\n"
            f"# weights, for the {epochs} whole epochs it trained.\n{more}"
            "# Settings changed while it trained are not replayed: these are the\n"
            "# settings it has now.\n\n"
            + " \\\n    ".join(command) + "\n\n" + python)
