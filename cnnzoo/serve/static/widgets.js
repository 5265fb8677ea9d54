// cnnzoo serve: the Worked examples page. Max-pooling forward and backward step by step, and a convolution
// playground; every number comes from the server (PyTorch's F.max_pool2d, autograd and F.conv2d).
"use strict";

const WIDGETS = (() => {
  const DECK = { grid: "2 4 8 3 6\n9 3 4 2 5\n5 4 6 3 1\n2 3 1 3 4\n2 7 4 5 7", up: "1 3 1\n1 4 2\n6 2 1", window: 3, stride: 1 };
  let POOL = null, step = -1, CONV = null;

  function parseGrid(text) {
    const rows = text.trim().split(/\n+/).map((r) => r.trim().split(/[\s,]+/).filter(Boolean).map(Number));
    return rows.filter((r) => r.length);
  }
  function table(rows, cellClass) {
    const t = document.createElement("table");
    t.className = "wgrid";
    rows.forEach((r, i) => {
      const tr = t.insertRow();
      r.forEach((v, j) => {
        const td = tr.insertCell();
        td.textContent = v;
        td.dataset.r = i; td.dataset.c = j;
        const cls = cellClass ? cellClass(i, j, v) : "";
        if (cls) td.className = cls;
      });
    });
    return t;
  }
  function figure(caption, el) {
    const f = document.createElement("figure");
    f.style.margin = "0";
    const c = document.createElement("figcaption");
    c.textContent = caption;
    f.append(c, el);
    return f;
  }

  // ------------------------------------------------------------------------------------------ max-pool
  async function pool(e) {
    if (e) e.preventDefault();
    const body = { grid: parseGrid($("pool-grid").value), window: Number($("pool-window").value), stride: Number($("pool-stride").value) };
    const up = $("pool-up").value.trim();
    if (up) body.upstream = parseGrid(up);
    try {
      POOL = await api("/api/maxpool", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      showMessage("");
      step = -1;
      drawPool();
    } catch (err) {
      POOL = null;
      $("pool-out").innerHTML = "";
      showMessage(err.message);
    }
  }

  function drawPool() {
    const out = $("pool-out");
    out.innerHTML = "";
    if (!POOL) return;
    const s = step >= 0 ? POOL.steps[step] : null;
    const grids = document.createElement("div");
    grids.className = "wgrids";
    const inWin = (i, j) => s && i >= s.rows[0] && i <= s.rows[1] && j >= s.cols[0] && j <= s.cols[1];
    grids.appendChild(figure(`Activation of layer L (${POOL.grid.length}x${POOL.grid[0].length})`, table(POOL.grid, (i, j) =>
      (s && s.argmax[0] === i && s.argmax[1] === j ? "arg" : inWin(i, j) ? "win" : ""))));
    grids.appendChild(figure(`Forward: ${POOL.window}x${POOL.window} max, stride ${POOL.stride}`, table(POOL.output, (i, j) =>
      (s && s.out[0] === i && s.out[1] === j ? "cur" : ""))));
    grids.appendChild(figure("Upstream gradient (from the rest of the network)", table(POOL.upstream, (i, j) =>
      (s && s.out[0] === i && s.out[1] === j ? "cur" : ""))));
    const grad = s ? s.after : POOL.grid.map((r) => r.map(() => 0));
    const overlap = new Set(POOL.overlaps.map(([r, c]) => `${r},${c}`));
    grids.appendChild(figure(step === POOL.steps.length - 1 ? "Gradient w.r.t. layer L (= autograd's)" : "Gradient w.r.t. layer L, so far",
      table(grad, (i, j, v) => [v !== 0 ? "got" : "", overlap.has(`${i},${j}`) ? "over" : "", s && s.argmax[0] === i && s.argmax[1] === j ? "cur" : ""].join(" ").trim())));
    out.appendChild(grids);
    const ctrl = document.createElement("div");
    ctrl.className = "steps";
    ctrl.innerHTML = '<button type="button" id="pool-prev">&larr; Back</button><button type="button" id="pool-next">Next step &rarr;</button>' +
      '<button type="button" id="pool-all">All steps</button><span id="pool-say" class="hint"></span>';
    out.appendChild(ctrl);
    $("pool-prev").onclick = () => { step = Math.max(-1, step - 1); drawPool(); $("pool-prev").focus(); };
    $("pool-next").onclick = () => { step = Math.min(POOL.steps.length - 1, step + 1); drawPool(); $("pool-next").focus(); };
    $("pool-all").onclick = () => { step = POOL.steps.length - 1; drawPool(); $("pool-all").focus(); };
    const say = $("pool-say");
    if (!s) {
      say.textContent = `${POOL.steps.length} outputs. Step through the backward pass: each output sends its upstream ` +
        "gradient to its window's maximum." + (POOL.dropped ? ` ${POOL.dropped}` : "");
    } else {
      say.textContent = `Step ${step + 1}/${POOL.steps.length}: output (${s.out.join(", ")}) = max of rows ${s.rows.join("-")}, ` +
        `columns ${s.cols.join("-")} = ${s.value}, found at (${s.argmax.join(", ")}); its upstream gradient ${s.upstream} is added ` +
        `there, everywhere else in the window gets 0.` + (overlap.has(s.argmax.join(",")) ? " Windows overlap here: the gradients add up." : "");
    }
  }

  // ------------------------------------------------------------------------------------------ conv
  async function conv(e, unit) {
    if (e) e.preventDefault();
    const body = {};
    for (const k of ["size", "kernel", "padding", "stride", "dilation"]) body[k] = Number($(`conv-${k}`).value);
    if (unit) body.unit = unit;
    try {
      CONV = await api("/api/conv", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      showMessage("");
      // the output table is redrawn; a keyboard user who picked a cell keeps the focus on that cell
      const refocus = unit && document.activeElement && document.activeElement.closest("#conv-out");
      drawConv();
      if (refocus) {
        const td = $("conv-out").querySelector(`td.pick[data-r="${CONV.unit[0]}"][data-c="${CONV.unit[1]}"]`);
        if (td) td.focus();
      }
    } catch (err) {
      CONV = null;
      $("conv-out").innerHTML = "";
      showMessage(err.message);
    }
  }

  function drawConv() {
    const out = $("conv-out");
    out.innerHTML = "";
    const c = CONV;
    const head = document.createElement("p");
    head.innerHTML = "<b>Output size</b> <code></code> ";
    head.querySelector("code").textContent = c.formula;
    if (!c.fits) {
      const b = document.createElement("span");
      b.className = "badge bad"; b.textContent = "doesn't fit";
      head.append(b, " " + c.message.replace(/^doesn't fit: /, ""));
    } else {
      head.append(`: a ${c.output_size}x${c.output_size} output; the kernel spans ${c.receptive_field.span} input pixels a side.`);
    }
    out.appendChild(head);
    const p = c.padding, n = c.size, rf = c.receptive_field;
    const used = new Set(c.terms.map((t) => `${t.at[0]},${t.at[1]}`));
    const padded = [];
    for (let i = -p; i < n + p; i++) {
      const row = [];
      for (let j = -p; j < n + p; j++) row.push(i >= 0 && j >= 0 && i < n && j < n ? c.input[i][j] : 0);
      padded.push(row);
    }
    const grids = document.createElement("div");
    grids.className = "wgrids";
    grids.appendChild(figure(`Input ${n}x${n}, padding ${p} (dashed); the unit's receptive field in green`, table(padded, (i, j) => {
      const r = i - p, q = j - p;
      const cls = [];
      if (r < 0 || q < 0 || r >= n || q >= n) cls.push("pad");
      if (r >= rf.rows[0] && r <= rf.rows[1] && q >= rf.cols[0] && q <= rf.cols[1]) cls.push("win");
      if (used.has(`${r},${q}`)) cls.push("got");
      return cls.join(" ");
    })));
    grids.appendChild(figure(`Kernel ${c.kernel}x${c.kernel}, dilation ${c.dilation}`, table(c.weight)));
    const outT = table(c.output, (i, j) => `pick${i === c.unit[0] && j === c.unit[1] ? " cur" : ""}`);
    outT.querySelectorAll("td").forEach((td) => {
      td.tabIndex = 0;
      const go = () => conv(null, [Number(td.dataset.r), Number(td.dataset.c)]);
      td.addEventListener("click", go);
      td.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
    });
    grids.appendChild(figure(`Output ${c.output_size}x${c.output_size} (stride ${c.stride}): click a cell`, outT));
    out.appendChild(grids);
    const terms = c.terms.map((t) => `${t.x}\u00d7${t.w < 0 ? "(" + t.w + ")" : t.w}`).join(" + ");
    const sum = document.createElement("p");
    sum.className = "formula";
    sum.dataset.sum = c.sum;
    sum.textContent = `output (${c.unit.join(", ")}) = ${terms} = ${c.sum}`;
    out.appendChild(sum);
  }

  function start() {
    if (!$("pool-grid").value) { $("pool-grid").value = DECK.grid; $("pool-up").value = DECK.up; }
    pool();
    conv();
  }
  $("pool-form").addEventListener("submit", pool);
  $("pool-deck").addEventListener("click", () => {
    $("pool-grid").value = DECK.grid; $("pool-up").value = DECK.up;
    $("pool-window").value = DECK.window; $("pool-stride").value = DECK.stride;
    pool();
  });
  $("conv-form").addEventListener("submit", (e) => conv(e));
  return { start, get pool() { return POOL; }, get conv() { return CONV; } };
})();
window.WIDGETS = WIDGETS;
