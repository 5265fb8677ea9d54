// cnnzoo serve: the three pages over the JSON API (see /api). Plain JavaScript, no libraries, works offline.
"use strict";

const $ = (id) => document.getElementById(id);
let INFO = null;

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(path, options) {
  let resp;
  try {
    resp = await fetch(path, options);
  } catch (e) {
    throw new Error("the server does not answer; is `cnnzoo serve` still running?");
  }
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (!resp.ok) {
    const detail = body && (body.error || (body.detail && JSON.stringify(body.detail)));
    throw new Error(detail || `the server answered ${resp.status}`);
  }
  return body;
}

// ---------------------------------------------------------------------------------------------- colours
// Diverging: negative -> blue, zero -> white, positive -> orange (each layer scaled by its largest |value|).
function diverging(v) {
  const t = Math.max(-1, Math.min(1, v));
  if (t >= 0) return [255 - 38 * t, 255 - 157 * t, 255 - 212 * t];
  const s = -t;
  return [255 - 208 * s, 255 - 146 * s, 255 - 74 * s];
}
// Heat (0..1) for overlays: transparent -> yellow -> red.
function heatRGBA(h) {
  return [255, Math.round(230 * (1 - h)), 0, Math.round(190 * h * h)];
}

function drawArray(canvas, values, h, w, scale, colour) {
  canvas.width = w; canvas.height = h;
  canvas.style.width = `${w * scale}px`; canvas.style.height = `${h * scale}px`;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b, a] = colour(values[i]);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = a === undefined ? 255 : a;
  }
  ctx.putImageData(img, 0, 0);
}

function bars(el, top5) {
  el.innerHTML = "";
  for (const t of top5) {
    const row = document.createElement("div");
    row.className = "bar";
    const pct = (100 * t.prob).toFixed(1);
    row.innerHTML = `<div class="name" title="${t.name}"></div><div class="track"><div class="fill"></div></div>` +
      `<div class="pct">${pct}%</div>`;
    row.querySelector(".name").textContent = t.name;
    row.querySelector(".fill").style.width = `${Math.max(0.5, 100 * t.prob)}%`;
    el.appendChild(row);
  }
}

// ---------------------------------------------------------------------------------------------- numbers
// The page asks for base64 float32 arrays (exact, compact); "values" lists (the JSON API's default) also work.
function decodeF32(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}
function numbers(entry) { return entry.f32 !== undefined ? decodeF32(entry.f32) : Float32Array.from(entry.values); }
function decodeTree(obj) {
  // every {f32: ...} or {values: [...]} inside obj gets .v, a Float32Array
  if (!obj || typeof obj !== "object") return obj;
  if (obj.f32 !== undefined || (Array.isArray(obj.values) && typeof obj.values[0] === "number")) obj.v = numbers(obj);
  for (const k of Object.keys(obj)) if (k !== "v" && typeof obj[k] === "object") decodeTree(obj[k]);
  return obj;
}

// ---------------------------------------------------------------------------------------------- Draw
const pad = $("pad");
const pctx = pad.getContext("2d");
let drawing = false, last = null, inFlight = false, pending = false, sent = 0;
let LAST = null;  // the latest draw answer, numbers decoded (the inspector and the 3D view read it)

function clearPad() {
  pctx.fillStyle = "#000"; pctx.fillRect(0, 0, pad.width, pad.height);
}

function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}

function stroke(p) {
  pctx.strokeStyle = "#fff"; pctx.lineWidth = 20; pctx.lineCap = "round"; pctx.lineJoin = "round";
  pctx.beginPath(); pctx.moveTo(last[0], last[1]); pctx.lineTo(p[0], p[1]); pctx.stroke();
  last = p;
}

pad.addEventListener("pointerdown", (e) => {
  drawing = true; last = padPoint(e); pad.setPointerCapture(e.pointerId); stroke([last[0] + 0.1, last[1]]);
  e.preventDefault();
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  stroke(padPoint(e)); askDraw();
});
for (const ev of ["pointerup", "pointercancel"]) {
  pad.addEventListener(ev, () => { if (drawing) { drawing = false; askDraw(); } });
}
$("clear").addEventListener("click", () => { clearPad(); askDraw(); });
document.querySelectorAll("input[name=overlay]").forEach((r) => r.addEventListener("change", () => askDraw()));

function loadIntoPad(file) {
  if (!file) return;
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    clearPad();
    const s = Math.min(pad.width / img.width, pad.height / img.height);
    pctx.drawImage(img, (pad.width - img.width * s) / 2, (pad.height - img.height * s) / 2, img.width * s, img.height * s);
    URL.revokeObjectURL(url); askDraw();
  };
  img.onerror = () => { URL.revokeObjectURL(url); sendDrawBlob(file); };  // let the server say what is wrong
  img.src = url;
}
$("draw-file").addEventListener("change", (e) => loadIntoPad(e.target.files[0]));
pad.addEventListener("dragover", (e) => { e.preventDefault(); pad.classList.add("dragover"); });
pad.addEventListener("dragleave", () => pad.classList.remove("dragover"));
pad.addEventListener("drop", (e) => { e.preventDefault(); pad.classList.remove("dragover"); loadIntoPad(e.dataTransfer.files[0]); });

function overlayChoice() { return document.querySelector("input[name=overlay]:checked").value; }

// One request in flight at a time; strokes made meanwhile are sent as soon as it returns. A request counts
// as in flight from the moment the pad is being encoded (toBlob calls back later), so `!inFlight && !pending`
// means the answer on screen is the one for the pad as it is.
function askDraw() {
  if (!INFO || !INFO.draw) return;
  if (inFlight) { pending = true; return; }
  inFlight = true; pending = false;
  pad.toBlob((blob) => sendDrawBlob(blob), "image/png");
}

async function sendDrawBlob(blob) {
  inFlight = true;  // pending stays: strokes made while the pad was encoded are sent next
  const form = new FormData();
  form.append("image", blob, "drawing.png");
  form.append("overlay", overlayChoice());
  form.append("encoding", "f32");
  const t0 = performance.now();
  try {
    const rec = await api("/api/draw", { method: "POST", body: form });
    showMessage("");
    renderDraw(decodeTree(rec), performance.now() - t0);
    sent++;
  } catch (e) {
    showMessage(e.message);
  } finally {
    inFlight = false;
    if (pending) askDraw();
  }
}

function renderDraw(rec, roundTrip) {
  LAST = rec;
  const mini = $("answer-mini");
  if (rec.blank) {
    $("top5").innerHTML = '<p class="hint">The pad is empty: draw a digit.</p>';
    mini.textContent = "The pad is empty: draw a digit.";
  } else {
    bars($("top5"), rec.top5);
    const t = rec.top5[0];
    mini.innerHTML = `${INFO.draw.model} reads <b></b> <span></span>`;
    mini.querySelector("b").textContent = t.name;
    mini.querySelector("span").textContent = `${(100 * t.prob).toFixed(1)}%` +
      (rec.top5[1] ? `, then ${rec.top5[1].name} ${(100 * rec.top5[1].prob).toFixed(1)}%` : "");
  }
  $("timing").textContent = `server ${rec.ms.toFixed(1)} ms, round trip ${roundTrip.toFixed(0)} ms`;
  const [, h, w] = rec.input.shape;
  const seen = $("seen");
  seen.width = w * 5; seen.height = h * 5;  // drawn at display size so the overlay can be blended smoothly
  const ctx = seen.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  const tmp = document.createElement("canvas");
  drawArray(tmp, rec.input.v, h, w, 1, (v) => { const g = 255 * v; return [g, g, g]; });
  ctx.drawImage(tmp, 0, 0, w * 5, h * 5);
  if (rec.overlay) {
    const ov = document.createElement("canvas");
    drawArray(ov, rec.overlay.values, rec.overlay.shape[0], rec.overlay.shape[1], 1, heatRGBA);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(ov, 0, 0, w * 5, h * 5);
    const where = rec.overlay.layer ? ` at layer ${rec.overlay.layer}` : "";
    $("overlay-caption").textContent =
      `${rec.overlay.method === "gradcam" ? "Grad-CAM" : "Saliency"} for class ${rec.overlay.target_name}${where}: ` +
      "yellow-red marks what pushed the score up most.";
  } else {
    $("overlay-caption").textContent = "";
  }
  renderLayers(rec.layers);
  window.dispatchEvent(new CustomEvent("cnnzoo:draw", { detail: rec }));
}

function maxAbs(layer) { return Math.max(Math.abs(layer.min), Math.abs(layer.max)) || 1; }

// The grid a layer is drawn as: maps as they are; C5's 120 units as 10x12, F6's 84 as 12x7, others in a row.
function layerGrid(layer) {
  if (layer.kind === "maps") return { maps: layer.shape[0], h: layer.shape[1], w: layer.shape[2] };
  const n = layer.v.length;
  if (layer.display && layer.display[0] * layer.display[1] === n && layer.display[0] > 1) {
    return { maps: 1, h: layer.display[0], w: layer.display[1] };
  }
  if (n === 120) return { maps: 1, h: 10, w: 12 };
  return { maps: 1, h: 1, w: n };
}

function noteFor(name) { return INFO && INFO.notes ? INFO.notes[name] : null; }

// The layer rows are built once per network shape and then repainted in place: every answer (one per stroke
// while drawing) keeps the same canvases and cells, so keyboard focus, an opened note and the inspector's
// listeners survive, and nothing a reader (or a test) holds goes stale.
let LAYERS_KEY = null;

function renderLayers(layers) {
  const key = layers.map((l) => `${l.name}:${l.kind}:${l.shape.join("x")}:${l.v.length}:${l.label}`).join("|");
  if (key !== LAYERS_KEY) { buildLayers(layers); LAYERS_KEY = key; }
  const rows = $("layers").children;
  layers.forEach((layer, i) => {
    const row = rows[i];
    // when the pen is lifted, the layers appear one after the other, in the order the network computes them
    if (!drawing) {
      row.classList.remove("reveal"); void row.offsetWidth;  // restart the animation on the same element
      row.style.animationDelay = `${70 * i}ms`; row.classList.add("reveal");
    }
    row.querySelector(".range").textContent = `values ${layer.min.toFixed(2)} .. ${layer.max.toFixed(2)}`;
    const m = maxAbs(layer);
    const colour = (v) => diverging(v / m);
    if (layer.name === "output" && layer.shape[0] <= 20) { updateOutput(row, layer); return; }
    const g = layerGrid(layer), scale = mapScale(g);
    row.querySelectorAll("canvas.map").forEach((cv, k) => {
      drawArray(cv, layer.v.subarray(k * g.h * g.w, (k + 1) * g.h * g.w), g.h, g.w, scale, colour);
    });
  });
  if (window.INSPECT) INSPECT.refresh();
}

function mapScale(g) {
  return g.h === 1 ? Math.max(3, Math.floor(640 / g.w)) :
    g.maps > 1 ? Math.max(2, Math.round((g.maps > 8 ? 42 : 64) / Math.max(g.h, g.w))) : 8;
}

function buildLayers(layers) {
  const box = $("layers");
  box.innerHTML = "";
  layers.forEach((layer) => {
    const row = document.createElement("div");
    row.className = "layer";
    row.dataset.layer = layer.name;
    const label = document.createElement("div");
    label.className = "label";
    const [title, ...rest] = layer.label.split(": ");
    label.innerHTML = `<b></b><span class="desc"></span><div class="range"></div>`;
    label.querySelector("b").textContent = title;
    label.querySelector(".desc").textContent = rest.join(": ");
    const note = noteFor(layer.name);
    if (note) {
      const d = document.createElement("details");
      d.className = "note";
      d.innerHTML = `<summary>What it computes</summary><p></p><a>More in the guide</a>`;
      d.querySelector("p").textContent = note.text;
      d.querySelector("a").href = `/guide#${note.doc}`;
      label.appendChild(d);
    }
    const maps = document.createElement("div");
    maps.className = "maps";
    if (layer.name === "output" && layer.shape[0] <= 20) {
      buildOutput(maps, layer);
    } else {
      const g = layerGrid(layer);
      for (let k = 0; k < g.maps; k++) {
        const wrap = document.createElement("div");
        wrap.className = "mapwrap";
        const cv = document.createElement("canvas");
        cv.className = "map";
        cv.tabIndex = 0;
        cv.dataset.layer = layer.name; cv.dataset.map = k;
        cv.setAttribute("aria-label", `${layer.name} map ${k}: arrow keys move the inspected unit`);
        wrap.appendChild(cv);
        maps.appendChild(wrap);
        if (window.INSPECT) INSPECT.attach(cv, layer.name, k, g);
      }
    }
    row.appendChild(label); row.appendChild(maps);
    box.appendChild(row);
  });
}

// The output layer: one cell per class; for LeNet-5's RBF units the class's prototype, its distance to F6.
function buildOutput(maps, layer) {
  const protos = INFO && INFO.rbf_prototypes;
  const wrap = document.createElement("div");
  wrap.className = "rbf";
  for (let i = 0; i < layer.v.length; i++) {
    const cell = document.createElement("div");
    cell.className = "cls";
    cell.tabIndex = 0;
    cell.dataset.layer = "output"; cell.dataset.map = i;
    if (protos && protos[i] && protos[i].length === 84) {
      const cv = document.createElement("canvas");
      drawArray(cv, protos[i], 12, 7, 4, (p) => diverging(p));
      cell.appendChild(cv);
    }
    const name = (INFO && INFO.draw && INFO.draw.classes) ? INFO.draw.classes[i] : String(i);
    const t = document.createElement("div");
    t.textContent = name;
    const d = document.createElement("div");
    d.className = "dist";
    cell.appendChild(t); cell.appendChild(d);
    wrap.appendChild(cell);
    if (window.INSPECT) INSPECT.attachOutput(cell, i);
  }
  maps.appendChild(wrap);
}

function updateOutput(row, layer) {
  const vals = Array.from(layer.v);
  const isDist = layer.label.startsWith("RBF");
  const best = isDist ? vals.indexOf(Math.min(...vals)) : vals.indexOf(Math.max(...vals));
  row.querySelectorAll(".rbf .cls").forEach((cell, i) => {
    cell.classList.toggle("win", i === best);
    cell.setAttribute("aria-label", `output unit ${i}: ${isDist ? "distance" : "value"} ${vals[i].toFixed(2)}`);
    cell.querySelector(".dist").textContent = vals[i].toFixed(1);
  });
}

// ---------------------------------------------------------------------------------------------- Anatomy
let PROFILE = null, RF_LAYER = null, RF_POINT = null, RF_IMAGE = null;

function fmtInt(n) { return n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US"); }
function si(n) {
  if (!n) return "0";
  const u = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [f, s] of u) if (n >= f) return (n / f).toFixed(n / f >= 100 ? 0 : 1) + s;
  return String(n);
}
function dims(x) { return x === null || x === undefined ? "-" : Array.isArray(x) ? x.join("x") : String(x); }

async function loadAnatomy() {
  const name = $("anatomy-model").value.trim();
  const input = $("anatomy-input").value.trim();
  if (!name) return;
  $("anatomy-card").innerHTML = '<p class="hint">Profiling on the meta device...</p>';
  try {
    const q = input ? `?input=${encodeURIComponent(input)}` : "";
    const rec = await api(`/api/anatomy/${encodeURIComponent(name)}${q}`);
    showMessage("");
    PROFILE = rec.profile;
    renderAnatomy(rec);
  } catch (e) {
    $("anatomy-card").innerHTML = "";
    showMessage(e.message);
  }
}

function renderAnatomy(rec) {
  const p = rec.profile, info = rec.info;
  const bad = p.doesnt_fit.length;
  const card = [
    ["paper", `${info.paper || "-"} (${info.year || "?"})`], ["input", dims(p.input)],
    ["parameters", fmtInt(p.total_params)], ["MACs", si(p.total_macs)],
    ["activations", `${(p.activation_bytes / 2 ** 20).toFixed(2)} MiB`],
    ["receptive field", dims(p.receptive_field)],
    ["doesn't fit", bad ? `${bad} layer(s)` : "none"],
  ];
  $("anatomy-card").innerHTML = '<div class="card"></div>';
  const c = $("anatomy-card").firstChild;
  for (const [k, v] of card) {
    const d = document.createElement("div");
    d.innerHTML = "<span></span><b></b>";
    d.querySelector("span").textContent = k; d.querySelector("b").textContent = v;
    c.appendChild(d);
  }
  const t = $("anatomy-table");
  t.innerHTML = "<thead><tr><th>layer</th><th>type</th><th>output</th><th>params</th><th>MACs</th>" +
    "<th>memory</th><th>RF</th><th>jump</th><th>note</th></tr></thead>";
  const body = document.createElement("tbody");
  p.layers.forEach((r, i) => {
    const tr = document.createElement("tr");
    const cells = [r.name, r.type, dims(r.output_shape), fmtInt(r.params), si(r.macs),
      `${(r.activation_bytes / 1024).toFixed(1)} KiB`, dims(r.receptive_field), dims(r.jump), ""];
    for (const v of cells) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
    if (!r.fits) {
      tr.classList.add("bad");
      tr.lastChild.innerHTML = '<span class="badge bad">doesn\'t fit</span> ';
      tr.lastChild.append(r.note.replace(/^doesn't fit: ?/, ""));
    } else if (r.note) {
      tr.lastChild.textContent = r.note;
    }
    if (r.receptive_field !== null && r.receptive_field !== undefined) {
      tr.classList.add("pick");
      tr.tabIndex = 0;
      tr.addEventListener("click", () => pickLayer(i, tr));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pickLayer(i, tr); }
      });
    }
    body.appendChild(tr);
  });
  t.appendChild(body);
  // default: the last layer that still has a spatial map
  let pick = -1;
  p.layers.forEach((r, i) => {
    if (r.receptive_field !== null && r.output_shape.length === 3 && r.output_shape[1] * r.output_shape[2] > 1) pick = i;
  });
  RF_POINT = null;
  if (pick >= 0) pickLayer(pick, body.children[pick]); else drawRF();
}

// Code that wants to react to a picked Anatomy row registers here: fn(row, index, profile).
const ANATOMY_PICK_LISTENERS = [];

function pickLayer(i, tr) {
  document.querySelectorAll("#anatomy-table tr.selected").forEach((x) => x.classList.remove("selected"));
  tr.classList.add("selected");
  RF_LAYER = PROFILE.layers[i];
  drawRF();
  for (const fn of ANATOMY_PICK_LISTENERS) fn(RF_LAYER, i, PROFILE);
}

function pair(x) { return Array.isArray(x) ? x : [x, x]; }

function defaultImage(c, h, w) {
  // A drawing from the Draw pad for one-channel models; a labelled grid for colour models.
  const cv = document.createElement("canvas");
  cv.width = w; cv.height = h;
  const ctx = cv.getContext("2d");
  if (c === 1) {
    ctx.drawImage(pad, 0, 0, w, h);
    if (sent === 0) {  // nothing drawn yet: a digit to look at
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, w, h);
      ctx.fillStyle = "#fff"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.font = `bold ${Math.round(h * 0.8)}px sans-serif`; ctx.fillText("7", w / 2, h / 2 + h * 0.04);
    }
    return cv;
  }
  const g = ctx.createLinearGradient(0, 0, w, h);
  g.addColorStop(0, "#cfe3f7"); g.addColorStop(1, "#f6dcc9");
  ctx.fillStyle = g; ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = "rgba(0,0,0,.12)";
  const step = Math.max(8, Math.round(w / 14));
  for (let x = 0; x < w; x += step) { ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, h); ctx.stroke(); }
  for (let y = 0; y < h; y += step) { ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(w, y); ctx.stroke(); }
  return cv;
}

function drawRF() {
  const cv = $("rf"), ctx = cv.getContext("2d");
  if (!PROFILE) return;
  const [c, H, W] = PROFILE.input;
  const s = Math.min(320 / W, 320 / H);
  cv.width = Math.round(W * s); cv.height = Math.round(H * s);
  ctx.imageSmoothingEnabled = W < 64 ? false : true;
  ctx.drawImage(RF_IMAGE || defaultImage(c, H, W), 0, 0, cv.width, cv.height);
  if (!RF_LAYER) return;
  const [rh, rw] = pair(RF_LAYER.receptive_field), [jh, jw] = pair(RF_LAYER.jump || 1);
  const shape = RF_LAYER.output_shape;
  const oh = shape.length === 3 ? shape[1] : 1, ow = shape.length === 3 ? shape[2] : 1;
  // the unit under the chosen point (default: the centre unit); its centre sits in the middle of its jump cell
  const pt = RF_POINT || [W / 2, H / 2];
  const ui = Math.min(oh - 1, Math.max(0, Math.floor(pt[1] / jh))), uj = Math.min(ow - 1, Math.max(0, Math.floor(pt[0] / jw)));
  const cy = oh === 1 ? H / 2 : (ui + 0.5) * jh, cx = ow === 1 ? W / 2 : (uj + 0.5) * jw;
  ctx.fillStyle = "rgba(217,98,43,.18)"; ctx.strokeStyle = "#d9622b"; ctx.lineWidth = 2;
  const x0 = (cx - rw / 2) * s, y0 = (cy - rh / 2) * s;
  ctx.fillRect(x0, y0, rw * s, rh * s); ctx.strokeRect(x0, y0, rw * s, rh * s);
  ctx.fillStyle = "rgba(47,109,181,.8)";
  const spread = Math.min(jh, jw) * s >= 8 ? 2 : 0;  // neighbours only where they are far enough apart to see
  for (let a = -spread; a <= spread; a++) for (let b = -spread; b <= spread; b++) {
    const y = cy + a * jh, x = cx + b * jw;
    if (y >= 0 && y <= H && x >= 0 && x <= W && oh > 1) { ctx.beginPath(); ctx.arc(x * s, y * s, a || b ? 2 : 4, 0, 7); ctx.fill(); }
  }
  const cover = rh >= H && rw >= W ? " It covers the whole input." : "";
  $("rf-caption").textContent = `A unit of ${RF_LAYER.name} (${RF_LAYER.type}, map ${dims(shape)}) sees a ` +
    `${rh}x${rw} window of the ${H}x${W} input; neighbouring units are ${jh} pixel(s) apart.${cover}`;
}

$("rf").tabIndex = 0;
$("rf").addEventListener("keydown", (e) => {  // arrow keys move the unit, a jump at a time
  if (!PROFILE || !RF_LAYER) return;
  const [, H, W] = PROFILE.input, [jh, jw] = pair(RF_LAYER.jump || 1);
  const pt = RF_POINT || [W / 2, H / 2];
  const d = { ArrowLeft: [-jw, 0], ArrowRight: [jw, 0], ArrowUp: [0, -jh], ArrowDown: [0, jh] }[e.key];
  if (!d) return;
  e.preventDefault();
  RF_POINT = [Math.min(W - 1, Math.max(0, pt[0] + d[0])), Math.min(H - 1, Math.max(0, pt[1] + d[1]))];
  drawRF();
});
$("rf").addEventListener("click", (e) => {
  if (!PROFILE) return;
  const r = e.target.getBoundingClientRect();
  const [, H, W] = PROFILE.input;
  RF_POINT = [(e.clientX - r.left) / r.width * W, (e.clientY - r.top) / r.height * H];
  drawRF();
});
$("rf-file").addEventListener("change", (e) => {
  const f = e.target.files[0];
  if (!f) return;
  const img = new Image();
  img.onload = () => { RF_IMAGE = img; drawRF(); };
  img.onerror = () => showMessage("your browser cannot read that file as an image; choose a PNG or JPEG.");
  img.src = URL.createObjectURL(f);
});
$("anatomy-form").addEventListener("submit", (e) => { e.preventDefault(); loadAnatomy(); });
$("compare-form").addEventListener("submit", (e) => { e.preventDefault(); loadCompare(); });

async function loadCompare() {
  const names = $("compare-models").value.split(/[\s,]+/).filter(Boolean).join(",");
  $("compare-chart").innerHTML = '<p class="hint">Profiling each model once (the first time takes a few seconds)...</p>';
  try {
    const rec = await api(`/api/compare?models=${encodeURIComponent(names)}`);
    showMessage("");
    renderCompare(rec.models);
  } catch (e) {
    $("compare-chart").innerHTML = "";
    showMessage(e.message);
  }
}

// The lectures' chart: x = G-MACs (log scale), y = paper top-1 accuracy, marker area ~ parameters.
function renderCompare(rows) {
  const Wd = 760, Ht = 380, L = 60, R = 20, T = 20, B = 70;
  const xs = rows.map((r) => Math.max(r.total_macs, 1e5) / 1e9);
  const lx = (v) => Math.log10(v);
  let x0 = Math.floor(lx(Math.min(...xs))), x1 = Math.ceil(lx(Math.max(...xs)));
  if (x1 === x0) x1 += 1;
  const known = rows.filter((r) => r.paper_top1_error !== null).map((r) => 100 - r.paper_top1_error);
  const y0 = known.length ? Math.floor(Math.min(...known) / 5) * 5 - 5 : 50, y1 = known.length ? Math.min(100, Math.ceil(Math.max(...known) / 5) * 5 + 2) : 100;
  const X = (v) => L + (lx(v) - x0) / (x1 - x0) * (Wd - L - R);
  const Y = (v) => T + (y1 - v) / (y1 - y0) * (Ht - T - B);
  const maxP = Math.max(...rows.map((r) => r.total_params));
  let svg = `<svg viewBox="0 0 ${Wd} ${Ht}" width="100%" style="max-width:${Wd}px" role="img" aria-label="accuracy versus compute">`;
  for (let e = x0; e <= x1; e++) {
    svg += `<line x1="${X(10 ** e)}" y1="${T}" x2="${X(10 ** e)}" y2="${Ht - B}" stroke="#dde2ea"/>` +
      `<text x="${X(10 ** e)}" y="${Ht - B + 14}" text-anchor="middle">${10 ** e >= 1 ? 10 ** e : (10 ** e).toPrecision(1)}</text>`;
  }
  for (let v = Math.ceil(y0 / 5) * 5; v <= y1; v += 5) {
    svg += `<line x1="${L}" y1="${Y(v)}" x2="${Wd - R}" y2="${Y(v)}" stroke="#eef1f5"/><text x="${L - 6}" y="${Y(v) + 4}" text-anchor="end">${v}%</text>`;
  }
  svg += `<text x="${(L + Wd - R) / 2}" y="${Ht - B + 32}" text-anchor="middle">G-MACs per image (log scale; FLOPs = 2 x MACs)</text>`;
  svg += `<text transform="translate(14 ${(T + Ht - B) / 2}) rotate(-90)" text-anchor="middle">paper top-1 accuracy</text>`;
  const strip = Ht - B + 50;
  svg += `<text x="${L}" y="${strip + 16}" fill="#5d6677">hollow, on this strip: no paper accuracy figure</text>`;
  rows.forEach((r, i) => {
    const rad = 4 + 22 * Math.sqrt(r.total_params / maxP);
    const x = X(xs[i]);
    const safe = r.model.replace(/[<>&"]/g, "");
    if (r.paper_top1_error === null) {
      svg += `<circle cx="${x}" cy="${strip}" r="5" fill="none" stroke="#5d6677"/><text x="${x + 7}" y="${strip - 6}">${safe}</text>`;
    } else {
      const y = Y(100 - r.paper_top1_error);
      svg += `<circle cx="${x}" cy="${y}" r="${rad}" fill="rgba(217,98,43,.35)" stroke="#d9622b"><title>${safe}: ${fmtInt(r.total_params)} params</title></circle>` +
        `<text x="${x + rad + 3}" y="${y + 4}">${safe}</text>`;
    }
  });
  svg += "</svg><p class=\"hint\">Marker area ~ parameters. Accuracy is the paper's own figure (registry card).</p>";
  $("compare-chart").innerHTML = svg;
}

// ---------------------------------------------------------------------------------------------- Photo
let PHOTO = null, PHOTO_FILE = null;

function clearPhoto() {
  PHOTO = null;
  $("photo-top5").innerHTML = "";
  $("photo-timing").textContent = "";
  $("photo-caption").textContent = "";
  const cv = $("photo-view");
  cv.getContext("2d").clearRect(0, 0, cv.width, cv.height);
}

async function sendPhoto(file) {
  if (!file) return;
  PHOTO_FILE = file;
  const limit = INFO ? INFO.max_upload_bytes : Infinity;
  if (file.size > limit) {  // said here, before sending megabytes the server would refuse
    clearPhoto();
    showMessage(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB, more than this server's ${INFO.max_upload} ` +
      "upload limit; choose a smaller image.");
    return;
  }
  const form = new FormData();
  form.append("image", file, "photo");
  form.append("overlay", $("photo-gradcam").checked ? "gradcam" : "none");
  $("photo-caption").textContent = "Thinking...";
  const t0 = performance.now();
  try {
    const rec = await api("/api/photo", { method: "POST", body: form });
    showMessage("");
    PHOTO = rec;
    bars($("photo-top5"), rec.top5);
    $("photo-timing").textContent = `server ${rec.ms.toFixed(0)} ms, round trip ${(performance.now() - t0).toFixed(0)} ms`;
    drawPhoto();
  } catch (e) {
    clearPhoto();  // never leave the previous photo's answer under this one's error
    showMessage(`${file.name || "the photo"}: ${e.message}`);
  }
}

function drawPhoto() {
  if (!PHOTO) return;
  const img = new Image();
  img.onload = () => {
    const cv = $("photo-view"), ctx = cv.getContext("2d");
    cv.width = 320; cv.height = Math.round(320 * img.height / img.width);
    ctx.drawImage(img, 0, 0, cv.width, cv.height);
    if (PHOTO.overlay) {
      const ov = document.createElement("canvas");
      drawArray(ov, PHOTO.overlay.values, PHOTO.overlay.shape[0], PHOTO.overlay.shape[1], 1, heatRGBA);
      ctx.globalAlpha = $("photo-alpha").value / 100;
      ctx.drawImage(ov, 0, 0, cv.width, cv.height);
      ctx.globalAlpha = 1;
      $("photo-caption").textContent = `Grad-CAM for "${PHOTO.overlay.target_name}" at layer ${PHOTO.overlay.layer}.`;
    } else {
      $("photo-caption").textContent = PHOTO.overlay_note || "Tick Grad-CAM to see where the evidence for the top class is.";
    }
  };
  img.src = PHOTO.image;
}
$("photo-file").addEventListener("change", (e) => sendPhoto(e.target.files[0]));
$("photo-gradcam").addEventListener("change", () => { if (PHOTO_FILE) sendPhoto(PHOTO_FILE); });
$("photo-alpha").addEventListener("input", drawPhoto);
const drop = $("photo-drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("dragover"); });
drop.addEventListener("dragleave", () => drop.classList.remove("dragover"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("dragover"); sendPhoto(e.dataTransfer.files[0]); });

// ---------------------------------------------------------------------------------------------- Guide
function renderGuide() {
  const body = $("guide-body");
  if (!INFO || !INFO.notes || body.dataset.done) return;
  body.dataset.done = "1";
  for (const [name, note] of Object.entries(INFO.notes)) {
    const h = document.createElement("h3");
    h.id = note.doc; h.textContent = note.title;
    if (body.querySelector(`[id="${note.doc}"]`)) { body.querySelector(`[id="${note.doc}"]`).nextSibling.textContent += " " + note.text; continue; }
    const p = document.createElement("p");
    p.textContent = note.text;
    p.dataset.layer = name;
    body.appendChild(h); body.appendChild(p);
  }
  if (location.hash) { const t = document.getElementById(location.hash.slice(1)); if (t) t.scrollIntoView(); }
}

// ---------------------------------------------------------------------------------------------- start
function codeText(el, text) {
  // `code` spans in server messages become <code>, the rest stays text
  el.innerHTML = "";
  text.split("`").forEach((part, i) => {
    if (i % 2) { const c = document.createElement("code"); c.textContent = part; el.appendChild(c); } else el.append(part);
  });
}

async function start() {
  const path = location.pathname.replace(/\/$/, "") || "/";
  const page = { "/": "draw", "/widgets": "widgets", "/anatomy": "anatomy", "/photo": "photo", "/guide": "guide",
    "/api": "api" }[path] || "draw";
  $(`page-${page}`).hidden = false;
  document.querySelector(`nav a[data-page=${page}]`).classList.add("active");
  clearPad();
  try {
    INFO = await api("/api/info");
  } catch (e) {
    showMessage(e.message);
    return;
  }
  const names = $("model-names");
  INFO.models.forEach((m) => { const o = document.createElement("option"); o.value = m; names.appendChild(o); });
  if (INFO.draw) {
    renderModelCard(INFO.draw);
    $("anatomy-model").value = INFO.draw.model;
  } else {
    codeText($("draw-missing"), INFO.draw_message);
    $("draw-missing").hidden = false;
  }
  $("photo-limit").textContent = `Up to ${INFO.max_upload} per photo; it stays on this machine.`;
  if (INFO.photo) {
    const p = INFO.photo;
    $("photo-model-line").textContent = `Model: ${p.model} from ${p.source}${p.note ? " (" + p.note + ")" : ""}; ` +
      `${p.classes ? p.classes.length + " classes" : "class indices (no names recorded)"}; ` +
      `input ${p.record.input_size.join("x")}.`;
  } else {
    codeText($("photo-missing"), INFO.photo_message);
    $("photo-missing").hidden = false;
    $("photo-body").hidden = true;
  }
  // ImageNet classifiers only: LeNet-5's paper figure is an MNIST error, not comparable on this chart
  $("compare-models").value = INFO.compare_default.join(", ");
  if (page === "anatomy") { loadAnatomy(); loadCompare(); }
  if (page === "guide") renderGuide();
  if (page === "widgets" && window.WIDGETS) WIDGETS.start();
  if (page === "draw" && INFO.draw && window.INSPECT) INSPECT.start();
  window.dispatchEvent(new CustomEvent("cnnzoo:info", { detail: INFO }));
}

function renderModelCard(d) {
  const c = d.card || {};
  const box = $("model-card");
  box.innerHTML = "";
  const line = (label, text) => {
    const p = document.createElement("p");
    p.innerHTML = "<span></span> ";
    p.querySelector("span").textContent = label;
    p.append(text);
    box.appendChild(p);
  };
  line("Model:", `${d.model}${c.paper ? " (" + c.paper + ")" : ""}${d.note ? "; " + d.note : ""}.`);
  line("Trained on:", c.data ? `${c.data}.` : "not recorded in the checkpoint.");
  if (c.test_top1 !== undefined && c.test_top1 !== null) {
    line("Test:", `${(100 * c.test_top1).toFixed(2)}% right on ${Number(c.test_images).toLocaleString("en-US")} ` +
      "MNIST test digits it never saw (t10k).");
  }
  line("File:", c.shipped ? `shipped inside cnnzoo (made by ${c.script}).` : d.source);
}
start();
