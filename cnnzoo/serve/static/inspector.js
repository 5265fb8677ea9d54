// cnnzoo serve: the unit inspector of the Draw page. Hover, tap or focus (arrow keys) any unit of C1..F6 or the
// output: the units that feed it light up in the layer below (for C3 exactly its Table I inputs), its receptive
// field is boxed on the input, and the panel spells out its arithmetic with the network's own numbers: the
// input patch(es), the kernel weights and bias, the weighted sum a, the squashing 1.7159 tanh(2/3 a) (or
// S2/S4's coefficient and bias, or the RBF's squared distances), and the unit's output.
// Everything is computed here from the weights (GET /api/lenet/params, once) and the draw answer's layer
// outputs (base64 float32, exact): no request per hover. Plain JavaScript, no libraries.
"use strict";

const INSPECT = (() => {
  let P = null;                      // the model's parameters, decoded
  let pinned = null, hovered = null; // {layer, map, y, x}
  let current = null;                // what the panel shows (read by the tests and the 3D view)
  const BELOW = { c1: "input", s2: "c1", c3: "s2", s4: "c3", c5: "s4", f6: "c5", output: "f6" };
  const GEOM = { c1: [5, 1], s2: [2, 2], c3: [5, 1], s4: [2, 2], c5: [5, 1] };  // kernel, stride

  async function start() {
    if (!INFO || !INFO.inspector) {
      $("inspector-body").innerHTML = '<p class="hint">The inspector reads LeNet-5\'s layers; this Draw model is not one.</p>';
      return;
    }
    try {
      P = decodeTree(await api("/api/lenet/params?encoding=f32"));
    } catch (e) {
      showMessage(`the inspector could not load the model's weights: ${e.message}`);
      return;
    }
    buildTableI();
    window.addEventListener("cnnzoo:pick", (e) => pin(e.detail, false));
    refresh();
  }

  // ------------------------------------------------------------------------------------------ numbers
  function layerOf(name) {
    if (!LAST) return null;
    if (name === "input") {
      const [c, h, w] = LAST.x.shape;
      return { v: LAST.x.v, c, h, w };
    }
    const L = LAST.layers.find((l) => l.name === name);
    if (!L) return null;
    if (L.kind === "maps") return { v: L.v, c: L.shape[0], h: L.shape[1], w: L.shape[2] };
    return { v: L.v, c: L.v.length, h: 1, w: 1 };  // C5, F6, output: one value per "map"
  }
  function at(L, c, y, x) { return L.v[(c * L.h + y) * L.w + x]; }
  function squash(kind, a) {
    if (kind === "scaled_tanh") return P.squash.A * Math.tanh(P.squash.S * a);
    if (kind === "relu") return Math.max(0, a);
    return a;
  }
  function squashText(kind, a, out) {
    if (kind === "scaled_tanh") {
      return `f(a) = ${P.squash.A} tanh(2/3 \u00d7 ${fmt(a)}) = ${fmt(out)}`;
    }
    if (kind === "relu") return `f(a) = max(0, ${fmt(a)}) = ${fmt(out)}`;
    return `output = a = ${fmt(out)}`;
  }
  function fmt(v, d = 4) { return (v < 0 ? "\u2212" : "") + Math.abs(v).toFixed(d); }

  // The receptive field on the input of unit (y, x) of a layer: rows/cols [start, end].
  function receptiveField(layer, y, x) {
    const chain = ["c1", "s2", "c3", "s4", "c5"];
    if (!(layer in GEOM)) return null;  // F6 and the output see the whole input
    let r = [y, y], c = [x, x];
    for (let i = chain.indexOf(layer); i >= 0; i--) {
      const [k, s] = GEOM[chain[i]];
      r = [r[0] * s, r[1] * s + k - 1]; c = [c[0] * s, c[1] * s + k - 1];
    }
    return { rows: r, cols: c };
  }

  // What unit u computes, from the weights and the layer below's outputs.
  function compute(u) {
    const below = layerOf(BELOW[u.layer]);
    const here = layerOf(u.layer);
    if (!below || !here || !P) return null;
    const info = { ...u, inputs: [], below: BELOW[u.layer] };
    const p = P[u.layer];
    if (u.layer === "c1" || u.layer === "c3" || u.layer === "c5") {
      const [, cin, kh, kw] = p.weight.shape;
      const W = p.weight.v;
      const feeds = u.layer === "c3" ? p.table[u.map] : [...Array(below.c).keys()];
      let sum = 0;
      for (const j of feeds) {
        const patch = [], kernel = [];
        let partial = 0;
        for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) {
          const xv = at(below, j, u.y + a, u.x + b), wv = W[((u.map * cin + j) * kh + a) * kw + b];
          patch.push(xv); kernel.push(wv); partial += xv * wv;
        }
        sum += partial;
        info.inputs.push({ map: j, rows: [u.y, u.y + kh - 1], cols: [u.x, u.x + kw - 1], patch, kernel, h: kh, w: kw, partial });
      }
      info.kind = "conv"; info.sum = sum; info.bias = p.bias.v[u.map];
      info.a = sum + info.bias;
      info.act = p.act;
    } else if (u.layer === "s2" || u.layer === "s4") {
      const k = p.size, patch = [];
      for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) patch.push(at(below, u.map, u.y * k + a, u.x * k + b));
      info.inputs.push({ map: u.map, rows: [u.y * k, u.y * k + k - 1], cols: [u.x * k, u.x * k + k - 1], patch, h: k, w: k });
      info.act = p.act;
      if (p.kind === "subsampling") {
        info.kind = "subsampling";
        info.sum = patch.reduce((s, v) => s + v, 0);
        info.coef = p.coef.v[u.map]; info.bias = p.bias.v[u.map];
        info.a = info.coef * info.sum + info.bias;
      } else {
        info.kind = "max"; info.a = Math.max(...patch);
      }
    } else if (u.layer === "f6") {
      const [, n] = p.weight.shape, W = p.weight.v;
      const xs = Array.from(below.v), ws = Array.from(W.subarray(u.map * n, (u.map + 1) * n));
      info.kind = "linear";
      info.inputs.push({ map: null, all: true, patch: xs, kernel: ws, h: n === 120 ? 10 : 1, w: n === 120 ? 12 : n });
      info.sum = xs.reduce((s, v, i) => s + v * ws[i], 0);
      info.bias = p.bias.v[u.map]; info.a = info.sum + info.bias; info.act = p.act;
    } else if (u.layer === "output") {
      const xs = Array.from(below.v);
      info.inputs.push({ map: null, all: true, patch: xs, h: 12, w: 7 });
      if (p.kind === "rbf") {
        const n = p.prototypes.shape[1], protos = p.prototypes.v;
        info.kind = "rbf";
        info.distances = [];
        for (let i = 0; i < p.prototypes.shape[0]; i++) {
          let d = 0;
          for (let j = 0; j < n; j++) { const e = xs[j] - protos[i * n + j]; d += e * e; }
          info.distances.push(d);
        }
        info.prototype = Array.from(protos.subarray(u.map * n, (u.map + 1) * n));
        info.a = info.distances[u.map];
        const m = Math.min(...info.distances);
        const ex = info.distances.map((d) => Math.exp(-(d - m)));
        const z = ex.reduce((s, v) => s + v, 0);
        info.percent = ex.map((e) => 100 * e / z);
      } else {
        const [, n] = p.weight.shape, W = p.weight.v;
        info.kind = "linear";
        info.sum = xs.reduce((s, v, i) => s + v * W[u.map * n + i], 0);
        info.bias = p.bias.v[u.map]; info.a = info.sum + info.bias;
      }
      info.act = "none";
    }
    info.out = info.kind === "rbf" ? info.a : squash(info.act, info.a);
    info.network = u.layer === "output" || here.h === 1 ? here.v[u.map] : at(here, u.map, u.y, u.x);
    info.rf = receptiveField(u.layer, u.y, u.x);
    return info;
  }

  // ------------------------------------------------------------------------------------------ selection
  function attach(cv, layer, map, g) {
    const unitAt = (e) => {
      const r = cv.getBoundingClientRect();
      const x = Math.min(g.w - 1, Math.max(0, Math.floor((e.clientX - r.left) / r.width * g.w)));
      const y = Math.min(g.h - 1, Math.max(0, Math.floor((e.clientY - r.top) / r.height * g.h)));
      return g.maps > 1 ? { layer, map, y, x } : { layer, map: y * g.w + x, y: 0, x: 0 };
    };
    cv.addEventListener("pointermove", (e) => { if (e.pointerType === "mouse") hover(unitAt(e)); });
    cv.addEventListener("pointerleave", () => hover(null));
    cv.addEventListener("pointerdown", (e) => { e.preventDefault(); pin(unitAt(e)); });
    cv.addEventListener("focus", () => {
      if (!pinned || pinned.layer !== layer || (g.maps > 1 && pinned.map !== map)) {
        pin(g.maps > 1 ? { layer, map, y: g.h >> 1, x: g.w >> 1 } : { layer, map: 0, y: 0, x: 0 });
      }
    });
    cv.addEventListener("keydown", (e) => {
      const d = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] }[e.key];
      if (!d || !pinned) return;
      e.preventDefault();
      if (g.maps > 1) {
        pin({ layer, map, y: Math.min(g.h - 1, Math.max(0, pinned.y + d[0])), x: Math.min(g.w - 1, Math.max(0, pinned.x + d[1])) });
      } else {
        const n = g.h * g.w, i = pinned.map + d[0] * g.w + d[1];
        pin({ layer, map: Math.min(n - 1, Math.max(0, i)), y: 0, x: 0 });
      }
    });
  }

  function attachOutput(cell, i) {
    const u = { layer: "output", map: i, y: 0, x: 0 };
    cell.addEventListener("pointerenter", (e) => { if (e.pointerType === "mouse") hover(u); });
    cell.addEventListener("pointerleave", () => hover(null));
    cell.addEventListener("pointerdown", () => pin(u));
    cell.addEventListener("focus", () => pin(u));
    cell.addEventListener("keydown", (e) => {
      const d = { ArrowLeft: -1, ArrowRight: 1 }[e.key];
      if (!d) return;
      e.preventDefault();
      const next = document.querySelector(`.rbf .cls[data-map="${i + d}"]`);
      if (next) next.focus();
    });
  }

  function hover(u) { hovered = u; show(); }
  function pin(u, announce = true) {
    pinned = u; hovered = null; show();
    if (announce) window.dispatchEvent(new CustomEvent("cnnzoo:select", { detail: u }));
  }
  function refresh() { show(); }

  function show() {
    const u = hovered || pinned;
    clearMarks();
    if (!u || !P || !LAST) { current = null; return; }
    const info = compute(u);
    current = info;
    if (!info) return;
    mark(info);
    render(info);
    lightTableI(u.layer === "c3" ? u.map : null);
  }

  // ------------------------------------------------------------------------------------------ marks
  function clearMarks() {
    document.querySelectorAll("#layers .mark, #seen-wrap .mark").forEach((m) => m.remove());
    document.querySelectorAll("#layers .feeds, #layers .inspected").forEach((m) => m.classList.remove("feeds", "inspected"));
  }
  function box(wrap, rows, cols, h, w, cls) {
    const m = document.createElement("div");
    m.className = `mark ${cls}`;
    m.style.top = `${100 * rows[0] / h}%`; m.style.height = `${100 * (rows[1] - rows[0] + 1) / h}%`;
    m.style.left = `${100 * cols[0] / w}%`; m.style.width = `${100 * (cols[1] - cols[0] + 1) / w}%`;
    wrap.appendChild(m);
  }
  function wrapOf(layer, map) {
    const cv = document.querySelector(`#layers canvas.map[data-layer="${layer}"][data-map="${map}"]`);
    return cv ? cv.parentElement : null;
  }
  function mark(info) {
    // the unit itself
    const here = layerOf(info.layer);
    if (info.layer === "output") {
      const cell = document.querySelector(`.rbf .cls[data-map="${info.map}"]`);
      if (cell) cell.classList.add("inspected");
    } else if (here.h > 1) {
      const w = wrapOf(info.layer, info.map);
      if (w) { w.classList.add("inspected"); box(w, [info.y, info.y], [info.x, info.x], here.h, here.w, "unit"); }
    } else {
      const w = wrapOf(info.layer, 0), cv = w && w.firstChild;
      if (w) {
        const g = { h: cv.height, w: cv.width };
        const r = Math.floor(info.map / g.w), c = info.map % g.w;
        w.classList.add("inspected"); box(w, [r, r], [c, c], g.h, g.w, "unit");
      }
    }
    // the units that feed it
    for (const inp of info.inputs) {
      if (info.below === "input") continue;
      const b = layerOf(info.below);
      if (inp.all) {
        const w = wrapOf(info.below, 0);
        if (w) w.classList.add("feeds");
        continue;
      }
      const w = wrapOf(info.below, inp.map);
      if (w) { w.classList.add("feeds"); box(w, inp.rows, inp.cols, b.h, b.w, "patch"); }
    }
    // the receptive field on the input
    const seen = $("seen-wrap"), [, H, W] = LAST.input.shape;
    const rf = info.rf || { rows: [0, H - 1], cols: [0, W - 1] };
    box(seen, rf.rows, rf.cols, H, W, "rf");
  }

  // ------------------------------------------------------------------------------------------ panel
  function grid(values, h, w, scale, maxabs) {
    const cv = document.createElement("canvas");
    const m = maxabs || Math.max(...values.map(Math.abs)) || 1;
    drawArray(cv, values, h, w, scale, (v) => diverging(v / m));
    cv.title = numbersText(values, w);
    return cv;
  }
  function numbersText(values, w) {
    const rows = [];
    for (let i = 0; i < values.length; i += w) rows.push(values.slice(i, i + w).map((v) => v.toFixed(3)).join(" "));
    return rows.join("\n");
  }
  function numberTable(values, w, cls) {
    const t = document.createElement("table");
    t.className = `nums ${cls || ""}`;
    for (let i = 0; i < values.length; i += w) {
      const tr = t.insertRow();
      for (const v of values.slice(i, i + w)) { const td = tr.insertCell(); td.textContent = v.toFixed(2); }
    }
    return t;
  }
  function line(parent, html, field, value) {
    const p = document.createElement("p");
    p.className = "formula";
    p.textContent = html;
    if (field) { p.dataset.field = field; p.dataset.value = String(value); }
    parent.appendChild(p);
    return p;
  }
  function name(layer) { return layer === "input" ? "input" : layer.toUpperCase(); }

  function render(info) {
    const body = $("inspector-body");
    body.innerHTML = "";
    Object.assign(body.dataset, { layer: info.layer, map: info.map, y: info.y, x: info.x, a: String(info.a), out: String(info.out) });
    const h = document.createElement("h3");
    h.textContent = info.layer === "output" ? `Output unit ${info.map} (class ${INFO.draw.classes ? INFO.draw.classes[info.map] : info.map})`
      : info.layer === "c5" || info.layer === "f6" ? `${name(info.layer)} unit ${info.map}`
        : `${name(info.layer)} map ${info.map}, unit (row ${info.y}, column ${info.x})`;
    body.appendChild(h);
    const note = noteFor(info.layer);
    if (note) { const p = document.createElement("p"); p.className = "hint"; p.textContent = note.text; body.appendChild(p); }
    const feeds = document.createElement("p");
    feeds.className = "feeds-line";
    if (info.kind === "conv") {
      feeds.textContent = `Inputs: ${info.inputs.length} ${name(info.below)} map(s) ` +
        `[${info.inputs.map((i) => i.map).join(", ")}]` + (info.layer === "c3" ? " (Table I)" : "") +
        `, a ${info.inputs[0].h}x${info.inputs[0].w} patch of each, times its kernel.`;
    } else if (info.kind === "subsampling" || info.kind === "max") {
      feeds.textContent = `Input: the 2x2 window of ${name(info.below)} map ${info.map} at rows ${info.inputs[0].rows.join("-")}, ` +
        `columns ${info.inputs[0].cols.join("-")}.`;
    } else {
      feeds.textContent = `Inputs: all ${info.inputs[0].patch.length} outputs of ${name(info.below)}.`;
    }
    body.appendChild(feeds);
    const pairs = document.createElement("div");
    pairs.className = "pairs";
    if (info.kind === "conv") {
      const wmax = Math.max(...info.inputs.flatMap((i) => i.kernel.map(Math.abs)));
      for (const inp of info.inputs) {
        const cell = document.createElement("div");
        cell.className = "pair";
        const cap = document.createElement("div");
        cap.textContent = `${name(info.below)}[${inp.map}]`;
        cell.appendChild(cap);
        const sc = info.inputs.length > 6 ? 5 : 8;
        cell.appendChild(grid(inp.patch, inp.h, inp.w, sc));
        cell.appendChild(document.createTextNode("\u00d7"));
        cell.appendChild(grid(inp.kernel, inp.h, inp.w, sc, wmax));
        const s = document.createElement("div");
        s.className = "partial"; s.textContent = `\u03a3 ${fmt(inp.partial, 3)}`;
        cell.appendChild(s);
        pairs.appendChild(cell);
      }
      body.appendChild(pairs);
      if (info.inputs.length === 1) {
        const nums = document.createElement("div");
        nums.className = "pairs";
        const a = document.createElement("div"); a.append("patch", numberTable(info.inputs[0].patch, info.inputs[0].w));
        const b = document.createElement("div"); b.append("kernel", numberTable(info.inputs[0].kernel, info.inputs[0].w));
        nums.append(a, b);
        body.appendChild(nums);
      }
      line(body, `a = \u03a3 patch \u00d7 kernel + bias = ${fmt(info.sum)} + (${fmt(info.bias)}) = ${fmt(info.a)}`, "a", info.a);
      line(body, squashText(info.act, info.a, info.out), "out", info.out);
    } else if (info.kind === "subsampling") {
      const inp = info.inputs[0];
      pairs.appendChild(numberTable(inp.patch, inp.w));
      body.appendChild(pairs);
      line(body, `a = coefficient \u00d7 (${inp.patch.map((v) => fmt(v, 3)).join(" + ")}) + bias = ` +
        `${fmt(info.coef)} \u00d7 ${fmt(info.sum)} + (${fmt(info.bias)}) = ${fmt(info.a)}`, "a", info.a);
      line(body, squashText(info.act, info.a, info.out), "out", info.out);
    } else if (info.kind === "max") {
      const inp = info.inputs[0];
      pairs.appendChild(numberTable(inp.patch, inp.w));
      body.appendChild(pairs);
      line(body, `max(${inp.patch.map((v) => fmt(v, 3)).join(", ")}) = ${fmt(info.a)}`, "a", info.a);
    } else if (info.kind === "linear") {
      const inp = info.inputs[0];
      const cell = document.createElement("div");
      cell.className = "pair";
      const prod = inp.patch.map((v, i) => v * (inp.kernel ? inp.kernel[i] : 0));
      cell.append(`${name(info.below)}`, grid(inp.patch, inp.h, inp.w, 6), "\u00d7 weights", grid(inp.kernel, inp.h, inp.w, 6),
        "= products", grid(prod, inp.h, inp.w, 6));
      pairs.appendChild(cell);
      body.appendChild(pairs);
      line(body, `a = \u03a3 input \u00d7 weight + bias = ${fmt(info.sum)} + (${fmt(info.bias)}) = ${fmt(info.a)}`, "a", info.a);
      line(body, squashText(info.act, info.a, info.out), "out", info.out);
    } else if (info.kind === "rbf") {
      renderRBF(body, info);
    }
    const net = line(body, `The network's own output for this unit: ${fmt(info.network)}` +
      (Math.abs(info.network - info.out) < 1e-3 ? " (the same)." : "."), "network", info.network);
    net.className = "hint";
  }

  function renderRBF(body, info) {
    const f6 = info.inputs[0].patch;
    const diff = f6.map((v, j) => (v - info.prototype[j]) ** 2);
    const cell = document.createElement("div");
    cell.className = "pairs";
    const mk = (label, vals, m) => { const d = document.createElement("div"); d.className = "pair"; d.append(label, grid(vals, 12, 7, 6, m)); return d; };
    cell.append(mk("F6 (12x7)", f6, 1.7159), mk(`prototype of ${info.map}`, info.prototype, 1), mk("(x \u2212 w)\u00b2", diff));
    body.appendChild(cell);
    line(body, `y_${info.map} = \u03a3_j (x_j \u2212 w_${info.map}j)\u00b2 over 84 inputs = ${fmt(info.a, 3)}`, "a", info.a);
    line(body, `percent = exp(\u2212y_${info.map}) / \u03a3_k exp(\u2212y_k) = ${info.percent[info.map].toFixed(2)}% ` +
      "(a softmax of minus the distances: the nearest prototype wins)", "percent", info.percent[info.map]);
    const t = document.createElement("table");
    t.className = "rbf-table";
    const head = t.insertRow();
    for (const x of ["class", "prototype", "y (squared distance)", "percent"]) { const th = document.createElement("th"); th.textContent = x; head.appendChild(th); }
    const n = P.output.prototypes.shape[1];
    info.distances.forEach((d, i) => {
      const tr = t.insertRow();
      if (i === info.map) tr.className = "lit";
      tr.insertCell().textContent = INFO.draw.classes ? INFO.draw.classes[i] : String(i);
      tr.insertCell().appendChild(grid(Array.from(P.output.prototypes.v.subarray(i * n, (i + 1) * n)), 12, 7, 2, 1));
      tr.insertCell().textContent = d.toFixed(2);
      tr.insertCell().textContent = `${info.percent[i].toFixed(2)}%`;
    });
    body.appendChild(t);
  }

  // ------------------------------------------------------------------------------------------ Table I
  function buildTableI() {
    const panel = $("inspector");
    if (!P.c3 || !P.c3.table || $("table1")) return;
    const wrap = document.createElement("div");
    wrap.className = "table1-wrap";
    wrap.innerHTML = "<h3>C3's connections: the paper's Table I</h3><p class=\"hint\">A column per C3 map, an X where " +
      "it reads an S2 map; hover a C3 unit and its column lights up.</p>";
    const t = document.createElement("table");
    t.id = "table1";
    const head = t.insertRow();
    head.appendChild(document.createElement("th"));
    for (let k = 0; k < P.c3.table.length; k++) { const th = document.createElement("th"); th.textContent = k; th.dataset.c3 = k; head.appendChild(th); }
    for (let j = 0; j < 6; j++) {
      const tr = t.insertRow();
      const th = document.createElement("th"); th.textContent = j; tr.appendChild(th);
      for (let k = 0; k < P.c3.table.length; k++) {
        const td = tr.insertCell();
        td.dataset.c3 = k; td.dataset.s2 = j;
        if (P.c3.table[k].includes(j)) { td.textContent = "X"; td.classList.add("x"); }
      }
    }
    wrap.appendChild(t);
    panel.appendChild(wrap);
  }
  function lightTableI(k) {
    document.querySelectorAll("#table1 .lit, #table1 .hit").forEach((c) => c.classList.remove("lit", "hit"));
    if (k === null) return;
    document.querySelectorAll(`#table1 [data-c3="${k}"]`).forEach((c) => {
      c.classList.add("lit");
      if (c.classList.contains("x")) c.classList.add("hit");
    });
  }

  return { start, attach, attachOutput, refresh, pin, hover, compute, get current() { return current; }, get params() { return P; } };
})();
window.INSPECT = INSPECT;
