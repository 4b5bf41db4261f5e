// The initreg playground page: sends the settings over a WebSocket, draws
// the frames the server's training thread publishes.  Plain JavaScript and
// canvas; nothing is loaded from the network.
"use strict";

const CLASS_COLORS = [[245, 147, 34], [8, 119, 189], [44, 160, 44], [148, 103, 189]];
const MODEL_COLORS = ["#0877bd", "#f59322", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                      "#e377c2", "#17becf"];
const CURVE_POINTS = 600;  // a curve longer than this is thinned to half

const state = {
  socket: null, config: null, choices: null, data: null, frames: 0, lastFrame: null,
  curves: [], run: null, errors: [], running: false,
};
window.playground = state;  // for the curious, and for the browser tests

const $ = (id) => document.getElementById(id);

// ---- the connection ----------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  state.socket = socket;
  socket.onmessage = (event) => receive(JSON.parse(event.data));
  socket.onclose = () => showError(null, "The connection to the server closed: reload the page to start again.");
}

function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(message));
  }
}

function receive(m) {
  switch (m.type) {
    case "hello":
      state.choices = m.choices;
      fillChoices();
      showConfig(m.config);
      send({type: "speed", steps_per_second: Number($("speed").value)});
      break;
    case "config": showConfig(m.config); clearError(); break;
    case "data": state.data = m; break;
    case "frame": drawFrame(m); break;
    case "error": showError(m.field, m.message); break;
    case "download": saveDownload(m); break;
  }
}

// ---- the settings ------------------------------------------------------------------

function fillSelect(select, values, labels) {
  const current = select.value;
  select.innerHTML = "";
  for (const v of values) {
    const option = document.createElement("option");
    option.value = v;
    option.textContent = labels ? labels[v] || v : v;
    select.appendChild(option);
  }
  if (values.includes(current)) select.value = current;
}

function fillChoices() {
  for (const el of document.querySelectorAll("select[data-field]")) {
    const values = state.choices[el.dataset.field];
    if (Array.isArray(values)) fillSelect(el, values);
  }
  fillSelect($("vary"), ["", ...state.choices["compare.vary"]], {"": "nothing"});
}

function fieldValue(el) {
  if (el.dataset.kind === "list") {
    const text = el.value.trim();
    return text === "" ? [] : text.split(",").map((v) => Number(v.trim()));
  }
  if (el.type === "number") return el.value === "" ? null : Number(el.value);
  return el.value;
}

function showConfig(config) {
  state.config = config;
  for (const el of document.querySelectorAll("[data-field]")) {
    const [part, name] = el.dataset.field.split(".");
    if (el.tagName === "SELECT" && name === "l1_mode") {
      fillSelect(el, state.choices["training.l1_mode"][config.training.optimizer]);
    }
    const value = config[part][name];
    if (document.activeElement !== el) el.value = Array.isArray(value) ? value.join(",") : value;
    el.classList.remove("invalid");
  }
  const parameter = state.choices.init_parameter[config.network.init];
  $("init-param-label").hidden = !parameter;
  if (parameter) $("init-param-label").firstChild.textContent = parameter + " ";
  $("momentum-label").hidden = config.training.optimizer !== "sgd";
  $("vary").value = config.compare.vary || "";
  if (document.activeElement !== $("values")) $("values").value = config.compare.values.join(",");
}

function onFieldChange(event) {
  const el = event.target;
  const [part, name] = el.dataset.field.split(".");
  const update = {[part]: {[name]: fieldValue(el)}};
  if (name === "init") {  // each initializer's own default for its number
    const defaults = {gain: 1, std: 1, limit: 1, value: 0.5};
    const parameter = state.choices.init_parameter[el.value];
    if (parameter) update.network.init_param = defaults[parameter];
  }
  send({type: "config", config: update});
}

function parseValues(vary, text) {
  const numeric = !["init", "optimizer", "l1_mode"].includes(vary);
  return text.split(",").map((v) => v.trim()).filter((v) => v !== "")
    .map((v) => (numeric ? Number(v) : v));
}

function onCompare() {
  const vary = $("vary").value;
  const compare = vary ? {vary, values: parseValues(vary, $("values").value)}
                       : {vary: null, values: []};
  send({type: "config", config: {compare}});
}

function showError(field, message) {
  state.errors.push({field, message});
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  for (const el of document.querySelectorAll(".invalid")) el.classList.remove("invalid");
  // the field at fault, when it is one of the page's own (the server may
  // name a field the page never sent, from a message typed by hand)
  const el = [...document.querySelectorAll("[data-field]")].find((e) => e.dataset.field === field);
  if (el) el.classList.add("invalid");
}

function clearError() { $("error").hidden = true; }

// ---- the frames --------------------------------------------------------------------

function decode(b64, Type) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer);
}

function drawFrame(f) {
  state.frames += 1;
  state.lastFrame = f;
  state.running = f.running;
  $("play").innerHTML = f.running ? "&#10073;&#10073; Pause" : "&#9654; Play";
  $("epoch").textContent = f.epoch;
  $("stepcount").textContent = f.step;
  $("rate").textContent = Math.round(f.steps_per_second).toLocaleString("en");
  if (f.run !== state.run || state.curves.length !== f.models.length) {  // a new run
    state.run = f.run;
    state.curves = f.models.map(() => []);
  }
  f.models.forEach((m, k) => {
    const curve = state.curves[k];
    if (curve.length && curve[curve.length - 1].step === f.step) return;
    curve.push({step: f.step, trainLoss: m.train_loss, testLoss: m.test_loss,
                trainAcc: m.train_accuracy, testAcc: m.test_accuracy});
    if (curve.length > CURVE_POINTS) state.curves[k] = curve.filter((_, i) => i % 2 === 0);
  });
  drawBoundaries(f);
  drawCurves(f);
  drawValues(f);
  drawNetwork(f);
  drawSpread(f);
  drawHistograms(f);
}

function boundaryCanvases(n) {
  const box = $("boundaries");
  const width = box.clientWidth;
  if (box.children.length !== n || box.dataset.width !== String(width)) {
    box.innerHTML = "";
    box.dataset.width = width;
    // one large plane, or a grid of up to four across that fits the column
    const across = n === 1 ? 1 : n <= 4 ? 2 : Math.min(4, Math.max(3, Math.floor(width / 150)));
    const size = Math.min(n === 1 ? 400 : 200, Math.floor((width - 4 * (across - 1)) / across) - 2);
    for (let k = 0; k < n; k++) {
      const figure = document.createElement("figure");
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = size;
      canvas.className = "boundary";
      canvas.onclick = () => send({type: "focus", index: k});
      const caption = document.createElement("figcaption");
      figure.append(canvas, caption);
      box.appendChild(figure);
    }
  }
  return [...box.querySelectorAll("figure")];
}

function drawBoundaries(f) {
  const figures = boundaryCanvases(f.models.length);
  const g = f.grid;
  const nClasses = state.data ? state.data.n_classes : 2;
  const floor = 1 / nClasses;
  const image = new ImageData(g, g);
  const small = document.createElement("canvas");
  small.width = small.height = g;
  f.models.forEach((m, k) => {
    const canvas = figures[k].querySelector("canvas");
    const caption = figures[k].querySelector("figcaption");
    caption.textContent = (m.label || "") + (m.diverged ? " (diverged)" : "");
    caption.style.color = f.models.length > 1 ? MODEL_COLORS[k] : "";
    figures[k].classList.toggle("focused", f.models.length > 1 && k === f.focus);
    const cells = decode(m.boundary, Uint8Array);
    for (let i = 0; i < g * g; i++) {
      const color = CLASS_COLORS[cells[2 * i] % CLASS_COLORS.length];
      const confidence = Math.max(0, (cells[2 * i + 1] / 255 - floor) / (1 - floor));
      image.data.set([color[0], color[1], color[2], Math.round(40 + 170 * confidence)], 4 * i);
    }
    small.getContext("2d").putImageData(image, 0, 0);
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
    drawPoints(ctx, canvas.width);
  });
}

function drawPoints(ctx, size) {
  const d = state.data;
  if (!d) return;
  const [x0, x1, y0, y1] = d.extent;
  const r = size > 300 ? 3.2 : 2.2;
  for (const [part, stroke] of [["train", "#fff"], ["test", "#222"]]) {
    const points = d[part];
    for (let i = 0; i < points.y.length; i++) {
      const [x, y] = points.x[i];
      const c = CLASS_COLORS[points.y[i] % CLASS_COLORS.length];
      ctx.beginPath();
      ctx.arc((x - x0) / (x1 - x0) * size, (y1 - y) / (y1 - y0) * size, r, 0, 2 * Math.PI);
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.fill();
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 1;
      ctx.stroke();
    }
  }
}

function plot(canvas, series, {log = false, yMin = null, yMax = null, title = ""} = {}) {
  // series: [{points: [[x, y]...], color, dash}]
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 44, R = 6, T = 14, B = 16;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "10px sans-serif";
  ctx.fillStyle = "#444";
  ctx.fillText(title, L, 10);
  const all = series.flatMap((s) => s.points).filter((p) => p[1] !== null && isFinite(p[1]) &&
                                                          (!log || p[1] > 0));
  if (!all.length) return;
  const tf = log ? Math.log10 : (v) => v;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => tf(p[1]));
  const xa = Math.min(...xs), xb = Math.max(...xs, xa + 1);
  let ya = yMin !== null ? yMin : Math.min(...ys), yb = yMax !== null ? yMax : Math.max(...ys);
  if (yb - ya < 1e-9) { ya -= 0.5; yb += 0.5; }
  const px = (x) => L + (x - xa) / (xb - xa) * (W - L - R);
  const py = (y) => T + (1 - (y - ya) / (yb - ya)) * (H - T - B);
  ctx.strokeStyle = "#ccc";
  ctx.strokeRect(L, T, W - L - R, H - T - B);
  ctx.fillStyle = "#666";
  for (const y of [ya, yb]) {
    ctx.fillText(log ? (10 ** y).toPrecision(2) : y.toFixed(2), 2, py(y) + 4);
  }
  ctx.fillText(String(Math.round(xb)), W - R - 40, H - 4);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.setLineDash(s.dash ? [4, 3] : []);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (y === null || !isFinite(y) || (log && y <= 0)) { started = false; continue; }
      if (started) ctx.lineTo(px(x), py(tf(y))); else ctx.moveTo(px(x), py(tf(y)));
      started = true;
    }
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

function drawCurves(f) {
  const one = f.models.length === 1;
  const loss = [], accuracy = [];
  state.curves.forEach((curve, k) => {
    const color = one ? "#0877bd" : MODEL_COLORS[k];
    loss.push({points: curve.map((p) => [p.step, p.trainLoss]), color});
    loss.push({points: curve.map((p) => [p.step, p.testLoss]), color: one ? "#f59322" : color,
               dash: true});
    accuracy.push({points: curve.map((p) => [p.step, p.trainAcc]), color});
    accuracy.push({points: curve.map((p) => [p.step, p.testAcc]), color: one ? "#f59322" : color,
                   dash: true});
  });
  plot($("loss"), loss, {log: true, title: "loss (solid: train, dashed: test) against steps"});
  plot($("accuracy"), accuracy, {yMin: 0, yMax: 1, title: "accuracy"});
}

const fmt = (v, digits = 4) => (v === null || v === undefined ? "-" : Number(v).toFixed(digits));

function drawValues(f) {
  const rows = [["", "train loss", "test loss", "train acc", "test acc", "zero weights"]];
  f.models.forEach((m, k) => {
    rows.push([m.label || "now", fmt(m.train_loss), fmt(m.test_loss), fmt(m.train_accuracy, 3),
               fmt(m.test_accuracy, 3), `${m.zeros} / ${m.n_weights}`]);
  });
  const table = $("values-table");
  table.innerHTML = rows.map((r, i) => "<tr>" + r.map((c, j) => {
    const tag = i === 0 ? "th" : "td";
    const style = i > 0 && j === 0 && f.models.length > 1 ? ` style="color:${MODEL_COLORS[i - 1]}"` : "";
    return `<${tag}${style}>${c}</${tag}>`;
  }).join("") + "</tr>").join("");
  const m = f.models[f.focus];
  $("zeros").textContent = `(${m.zeros} of ${m.n_weights} exactly 0)`;
  $("zeros").dataset.zeros = m.zeros;
  $("focus-label").textContent = f.models.length > 1 ? `(${m.label}; click a boundary to focus)` : "";
}

function drawNetwork(f) {
  const canvas = $("network");
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const sizes = f.network.sizes;
  const q = decode(f.network.weights, Int8Array);
  const x = (l) => 16 + l * (W - 32) / (sizes.length - 1);
  const y = (i, n) => (n === 1 ? H / 2 : 10 + i * (H - 20) / (n - 1));
  let offset = 0;
  ctx.lineCap = "round";
  for (let l = 0; l < sizes.length - 1; l++) {
    const fi = sizes[l], fo = sizes[l + 1];
    for (let i = 0; i < fi; i++) {
      for (let j = 0; j < fo; j++) {
        const w = q[offset + i * fo + j];
        if (w === 0) continue;  // an exact zero is no edge at all
        const a = Math.abs(w) / 127;
        ctx.strokeStyle = w > 0 ? `rgba(8,119,189,${0.15 + 0.85 * a})` : `rgba(245,147,34,${0.15 + 0.85 * a})`;
        ctx.lineWidth = 0.3 + 3 * a;
        ctx.beginPath();
        ctx.moveTo(x(l), y(i, fi));
        ctx.lineTo(x(l + 1), y(j, fo));
        ctx.stroke();
      }
    }
    offset += fi * fo;
  }
  ctx.fillStyle = "#333";
  sizes.forEach((n, l) => {
    for (let i = 0; i < n; i++) {
      ctx.beginPath();
      ctx.arc(x(l), y(i, n), n > 32 ? 1.5 : 3, 0, 2 * Math.PI);
      ctx.fill();
    }
  });
}

function drawSpread(f) {
  const layers = f.layers;
  const act = layers.map((s, l) => [l + 1, s.activation_std]);
  const grad = layers.map((s, l) => [l + 1, s.gradient_std]);
  plot($("spread"), [{points: act, color: "#0877bd"}, {points: grad, color: "#d62728", dash: true}],
       {log: true, title: "std per layer: activations (solid), gradients dL/dz (dashed)"});
}

function drawHistograms(f) {
  const box = $("histograms");
  const layers = f.layers;
  if (box.children.length !== layers.length) {
    box.innerHTML = "";
    layers.forEach(() => {
      const figure = document.createElement("figure");
      const canvas = document.createElement("canvas");
      canvas.width = 140; canvas.height = 64;
      figure.append(canvas, document.createElement("figcaption"));
      box.appendChild(figure);
    });
  }
  layers.forEach((s, l) => {
    const figure = box.children[l];
    const canvas = figure.querySelector("canvas");
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const top = Math.max(...s.histogram, 1);
    const bw = canvas.width / s.histogram.length;
    const middle = (s.histogram.length - 1) / 2;
    s.histogram.forEach((c, i) => {
      const h = (c / top) * (canvas.height - 4);
      ctx.fillStyle = i === middle ? "#555" : "#0877bd";
      ctx.fillRect(i * bw, canvas.height - h, bw - 0.5, h);
    });
    if (s.zeros) {  // the exact zeros, as a red bar over the middle bin
      const h = (s.zeros / top) * (canvas.height - 4);
      ctx.fillStyle = "#d62728";
      ctx.fillRect(middle * bw, canvas.height - h, bw, h);
    }
    figure.querySelector("figcaption").textContent =
      `layer ${l + 1}: ${s.zeros}/${s.size} zero, |w| < ${s.range.toPrecision(2)}`;
  });
}

// ---- downloads ---------------------------------------------------------------------

function saveBlob(blob, filename) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function saveDownload(m) {
  if (m.what === "model") {
    saveBlob(new Blob([decode(m.data, Uint8Array)], {type: m.mime}), m.filename);
  } else {
    $("recipe").textContent = m.text;
    $("recipe-box").hidden = false;
    saveBlob(new Blob([m.text], {type: m.mime}), m.filename);
  }
}

function savePng() {
  const parts = [...document.querySelectorAll("#boundaries canvas"), $("loss"), $("accuracy"),
                 $("network"), $("spread"), ...document.querySelectorAll("#histograms canvas")];
  const pad = 8, width = 900;
  let x = pad, y = pad, rowHeight = 0;
  const placed = parts.map((c) => {
    if (x + c.width > width) { x = pad; y += rowHeight + pad; rowHeight = 0; }
    const at = [x, y];
    x += c.width + pad;
    rowHeight = Math.max(rowHeight, c.height);
    return at;
  });
  const out = document.createElement("canvas");
  out.width = width; out.height = y + rowHeight + pad;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, out.width, out.height);
  parts.forEach((c, i) => ctx.drawImage(c, placed[i][0], placed[i][1]));
  out.toBlob((blob) => saveBlob(blob, "initreg-playground.png"), "image/png");
}

// ---- wiring ------------------------------------------------------------------------

function init() {
  for (const el of document.querySelectorAll("[data-field]")) {
    el.addEventListener("change", onFieldChange);
  }
  $("play").onclick = () => send({type: "control", action: state.running ? "pause" : "play"});
  $("step").onclick = () => send({type: "control", action: "step"});
  $("reset").onclick = () => send({type: "control", action: "reset"});
  $("reseed").onclick = () => send({type: "control", action: "reseed"});
  $("speed").onchange = (e) => send({type: "speed", steps_per_second: Number(e.target.value)});
  $("compare").onclick = onCompare;
  $("dl-model").onclick = () => send({type: "download", what: "model"});
  $("dl-recipe").onclick = () => send({type: "download", what: "recipe"});
  $("dl-png").onclick = savePng;
  $("recipe-close").onclick = () => { $("recipe-box").hidden = true; };
  $("error").onclick = clearError;
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space" && !["INPUT", "SELECT", "BUTTON"].includes(e.target.tagName)) {
      e.preventDefault();
      $("play").click();
    }
  });
  connect();
}

init();
