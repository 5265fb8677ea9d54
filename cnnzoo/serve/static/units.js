// cnnzoo serve, Anatomy page: the top-9 patches of a unit (Zeiler & Fergus 2014, Fig. 2) from the units
// indexes the server was started with (`cnnzoo serve --units DIR`, DIR written by `cnnzoo units --out DIR`).
// Self-contained: it adds its own panel under the per-layer table and listens to clicks on that table, so
// app.js needs no change. API: /api/units, /api/units/unit, /api/units/tile (see cnnzoo/serve/units.py).
"use strict";

(function () {
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  let INDEXES = [], CUR = 0, LAYER = null;

  async function get(path) {
    const resp = await fetch(path);
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) throw new Error((body && body.error) || `the server answered ${resp.status}`);
    return body;
  }

  function style() {
    const s = el("style");
    s.textContent = "#units-panel .unit-grid{display:flex;flex-wrap:wrap;gap:6px;margin:.5em 0}" +
      "#units-panel .unit-grid button{min-width:2.6em;padding:2px 4px;font:inherit;font-size:12px;cursor:pointer}" +
      "#units-panel .unit-grid button.drawn{font-weight:bold}" +
      "#units-panel .unit-grid button.selected{outline:2px solid #d9622b}" +
      "#units-panel .unit-view{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}" +
      "#units-panel .unit-view img{image-rendering:pixelated;width:300px;max-width:100%;border:1px solid #ccc}" +
      "#units-panel ol{font-size:12px;margin:0;padding-left:1.8em}" +
      "#units-panel .layers button{margin:0 4px 4px 0;font:inherit;font-size:12px}" +
      "#units-panel .layers button.selected{outline:2px solid #d9622b}" +
      "#anatomy-table td .badge.units{background:#2f6db5;color:#fff;margin-left:4px}";
    document.head.appendChild(s);
  }

  function panel() {
    let p = document.getElementById("units-panel");
    if (p) return p;
    p = el("div", "panel");
    p.id = "units-panel";
    p.innerHTML = "<h2>What a unit responds to: its top patches</h2>" +
      '<p class="hint" id="units-about"></p><div class="row" id="units-which"></div>' +
      '<div class="layers" id="units-layers"></div><div class="unit-grid" id="units-grid"></div>' +
      '<div class="unit-view" id="units-view"></div>';
    const page = document.getElementById("page-anatomy");
    const grid = page && page.querySelector(".anatomy-grid");
    if (grid && grid.nextSibling) page.insertBefore(p, grid.nextSibling); else if (page) page.appendChild(p);
    return p;
  }

  function shownModel() {
    const m = document.getElementById("anatomy-model");
    return m ? m.value.trim() : "";
  }

  function renderWhich() {
    const box = document.getElementById("units-which");
    box.innerHTML = "";
    if (INDEXES.length > 1) {
      const sel = el("select");
      INDEXES.forEach((ix, i) => {
        const o = el("option", "", `${ix.model} · ${ix.data}`);
        o.value = String(i);
        sel.appendChild(o);
      });
      sel.value = String(CUR);
      sel.addEventListener("change", () => { CUR = Number(sel.value); LAYER = null; render(); });
      box.appendChild(sel);
    }
    const ix = INDEXES[CUR];
    if (ix.model !== shownModel()) {
      const b = el("button", "", `show ${ix.model}'s table`);
      b.type = "button";
      b.addEventListener("click", () => {
        document.getElementById("anatomy-model").value = ix.model;
        document.getElementById("anatomy-form").requestSubmit();
      });
      box.appendChild(b);
    }
  }

  function render() {
    const ix = INDEXES[CUR];
    document.getElementById("units-about").textContent =
      `${ix.model} (${ix.weights}) over ${ix.data}: per unit the ${ix.top} images whose strongest activation ` +
      "(the maximum over the unit's map) is highest, each cropped to the receptive field of that position. " +
      "Pick a layer, then a unit; bold units have pictures, the others only their list.";
    renderWhich();
    const lb = document.getElementById("units-layers");
    lb.innerHTML = "";
    ix.layers.forEach((L) => {
      const b = el("button", L.name === LAYER ? "selected" : "", `${L.name} (RF ${L.rf.join("x")})`);
      b.type = "button";
      b.addEventListener("click", () => showLayer(L.name));
      lb.appendChild(b);
    });
    if (!LAYER && ix.layers.length) LAYER = ix.layers[0].name;
    if (LAYER) showLayer(LAYER);
    decorateTable();
  }

  function showLayer(name) {
    const ix = INDEXES[CUR];
    const L = ix.layers.find((l) => l.name === name);
    if (!L) return;
    LAYER = name;
    document.querySelectorAll("#units-layers button").forEach((b) =>
      b.classList.toggle("selected", b.textContent.startsWith(name + " ")));
    const grid = document.getElementById("units-grid");
    grid.innerHTML = "";
    const drawn = new Set(L.drawn);
    for (let u = 0; u < L.units; u++) {
      const b = el("button", drawn.has(u) ? "drawn" : "", String(u));
      b.type = "button";
      b.dataset.unit = String(u);
      b.title = drawn.has(u) ? `unit ${u}` : `unit ${u} (list only: not drawn)`;
      b.addEventListener("click", () => showUnit(u));
      grid.appendChild(b);
    }
    const first = L.drawn.length ? L.drawn[0] : 0;
    showUnit(first);
  }

  async function showUnit(u) {
    const view = document.getElementById("units-view");
    document.querySelectorAll("#units-grid button").forEach((b) =>
      b.classList.toggle("selected", b.dataset.unit === String(u)));
    try {
      const q = new URLSearchParams({ index: CUR, layer: LAYER, unit: u });
      const r = await get(`/api/units/unit?${q}`);
      view.innerHTML = "";
      const pics = el("div");
      if (r.projection_tile) {
        const p = el("img");
        p.src = r.projection_tile;
        p.alt = `projections of unit ${u}`;
        p.title = r.projection || "projection";
        pics.appendChild(p);
      }
      if (r.tile) {
        const img = el("img");
        img.src = r.tile;
        img.alt = `top patches of unit ${u} of ${r.layer}`;
        pics.appendChild(img);
      } else {
        pics.appendChild(el("p", "hint", `Unit ${u} has no picture: draw it with cnnzoo units ... --units ${u}.`));
      }
      view.appendChild(pics);
      const side = el("div");
      side.appendChild(el("h3", "", `${r.layer}, unit ${u}: receptive field ${r.rf.join("x")}`));
      const ol = el("ol");
      r.top.forEach((h) => {
        const what = h.label_name ? ` (${h.label_name})` : "";
        const file = h.file ? ` ${h.file.split(/[\\/]/).pop()}` : "";
        ol.appendChild(el("li", "", `image ${h.image}${what}${file}: ${Number(h.value).toPrecision(4)} at (${h.y}, ${h.x})`));
      });
      side.appendChild(ol);
      view.appendChild(side);
    } catch (e) {
      view.textContent = e.message;
    }
  }

  // Rows of the per-layer table that belong to an indexed layer (the layer itself or the last row inside it)
  // get a badge; a click on such a row opens that layer here.
  function layerOfRow(name) {
    const ix = INDEXES[CUR];
    if (!ix || ix.model !== shownModel()) return null;
    let best = null;
    for (const L of ix.layers) {
      if (name === L.name || name.startsWith(L.name + ".") || name.startsWith(L.name + ":")) {
        if (!best || L.name.length > best.length) best = L.name;
      }
    }
    return best;
  }

  function decorateTable() {
    const rows = Array.from(document.querySelectorAll("#anatomy-table tbody tr"));
    rows.forEach((tr) => tr.querySelectorAll(".badge.units").forEach((b) => b.remove()));
    const last = {};
    rows.forEach((tr) => {
      const L = layerOfRow(tr.firstChild ? tr.firstChild.textContent : "");
      if (L) last[L] = tr;
    });
    for (const tr of Object.values(last)) {
      const b = el("span", "badge units", "top-9");
      b.title = "click: this layer's units and their top patches";
      tr.firstChild.appendChild(b);
    }
  }

  async function start() {
    let rec;
    try { rec = await get("/api/units"); } catch (e) { return; }
    INDEXES = rec.indexes || [];
    if (!INDEXES.length) return;
    style();
    panel();
    const found = INDEXES.findIndex((ix) => ix.model === shownModel());
    CUR = found >= 0 ? found : 0;
    render();
    const table = document.getElementById("anatomy-table");
    if (table) {
      new MutationObserver(() => {  // the table was drawn again (another model): follow it if indexed
        const f = INDEXES.findIndex((ix) => ix.model === shownModel());
        if (f >= 0 && f !== CUR) { CUR = f; LAYER = null; render(); } else { renderWhich(); decorateTable(); }
      }).observe(table, { childList: true });
      table.addEventListener("click", (e) => {
        const tr = e.target.closest("tr");
        const L = tr && tr.firstChild ? layerOfRow(tr.firstChild.textContent.replace(/top-9$/, "")) : null;
        if (L) { showLayer(L); }
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
