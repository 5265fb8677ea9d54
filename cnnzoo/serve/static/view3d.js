// cnnzoo serve: LeNet-5 in 3D (the view Harley's "3D visualization of networks in action" made famous). Every
// unit of every layer is a square in space, coloured by its output, from the 32x32 input at the bottom to the
// ten RBF units at the top; it follows the drawing live. Orbit, zoom and pan with the mouse or fingers (three.js
// OrbitControls); click or tap a unit and the units that feed it light up, joined to it by lines (the same
// connections the inspector lists, C3's from Table I). three.js is vendored in static/vendor/three (MIT).
import * as THREE from "three";
import { OrbitControls } from "/static/vendor/three/OrbitControls.js";

const canvas = document.getElementById("view3d");
const status = document.getElementById("view3d-status");
const GAP = 3, STEP_Y = 24;
// layer -> how its units are laid out: maps side by side along x, each map h x w in the x-z plane
const LAYOUT = [];
let renderer = null, scene, camera, controls, lines, lit;
let selected = null;
const meshes = {};

function plan(rec) {
  LAYOUT.length = 0;
  const add = (name, maps, h, w, size = 1) => LAYOUT.push({ name, maps, h, w, size });
  add("input", 1, rec.x.shape[1], rec.x.shape[2]);
  for (const L of rec.layers) {
    if (L.kind === "maps") add(L.name, L.shape[0], L.shape[1], L.shape[2]);
    else if (L.name === "output") add(L.name, L.shape[0], 1, 1, 4);
    else if (L.shape[0] === 120) add(L.name, 1, 10, 12, 1.6);
    else if (L.shape[0] === 84) add(L.name, 1, 12, 7, 1.6);
    else add(L.name, 1, 1, L.shape[0], 1.6);
  }
  LAYOUT.forEach((l, i) => {
    const gap = l.name === "output" ? 2 : GAP;
    l.width = l.maps * l.w * l.size + (l.maps - 1) * gap;
    l.gap = gap;
    l.y = i * STEP_Y;
  });
}

// Centre of unit (map, y, x) of a layer, in world coordinates.
function position(l, map, y, x) {
  const x0 = -l.width / 2 + map * (l.w * l.size + l.gap);
  return new THREE.Vector3(x0 + (x + 0.5) * l.size, l.y, -(l.h * l.size) / 2 + (y + 0.5) * l.size);
}
function layerNamed(name) { return LAYOUT.find((l) => l.name === name); }
// A unit as the inspector names it: maps layers {map, y, x}; C5/F6/output one "map" per unit.
function unitOf(l, id) {
  if (l.maps > 1 || l.name === "input") {
    const per = l.h * l.w, map = Math.floor(id / per), r = id % per;
    return { layer: l.name, map, y: Math.floor(r / l.w), x: r % l.w };
  }
  return { layer: l.name, map: id, y: 0, x: 0 };
}
function idOf(l, u) { return l.maps > 1 || l.name === "input" ? (u.map * l.h + u.y) * l.w + u.x : u.map; }
function centreOf(l, id) {
  const u = unitOf(l, id);
  return l.maps > 1 || l.name === "input" ? position(l, u.map, u.y, u.x)
    : position(l, 0, Math.floor(id / l.w), id % l.w);
}

function build(rec) {
  plan(rec);
  scene = new THREE.Scene();
  scene.background = new THREE.Color(0x10131a);
  const geo = new THREE.PlaneGeometry(0.88, 0.88).rotateX(-Math.PI / 2);
  for (const l of LAYOUT) {
    const n = l.maps * l.h * l.w;
    const mat = new THREE.MeshBasicMaterial({ side: THREE.DoubleSide });
    const mesh = new THREE.InstancedMesh(geo, mat, n);
    const m = new THREE.Matrix4();
    for (let id = 0; id < n; id++) {
      const p = centreOf(l, id);
      m.makeScale(l.size, 1, l.size).setPosition(p);
      mesh.setMatrixAt(id, m);
      mesh.setColorAt(id, new THREE.Color(0x808080));
    }
    mesh.userData.layer = l;
    meshes[l.name] = mesh;
    scene.add(mesh);
  }
  lines = new THREE.LineSegments(new THREE.BufferGeometry(),
    new THREE.LineBasicMaterial({ color: 0xffd166, transparent: true, opacity: 0.55 }));
  scene.add(lines);
  lit = new THREE.InstancedMesh(geo, new THREE.MeshBasicMaterial({ color: 0xffd166, side: THREE.DoubleSide }), 1024);
  lit.count = 0;
  scene.add(lit);
  const top = LAYOUT[LAYOUT.length - 1].y;
  camera = new THREE.PerspectiveCamera(40, canvas.clientWidth / canvas.clientHeight, 1, 2000);
  camera.position.set(0, top / 2 + 135, 215);
  controls = new OrbitControls(camera, canvas);
  controls.target.set(0, top / 2 + 8, 0);
  controls.update();
  controls.addEventListener("change", render);
}

function colour(v, m, gray) {
  if (gray) { const g = Math.max(0, Math.min(1, v)); return [g, g, g]; }
  const [r, g, b] = diverging(v / m);
  return [r / 255, g / 255, b / 255];
}

function update(rec) {
  if (!renderer) return;
  if (!LAYOUT.length) build(rec);
  const c = new THREE.Color();
  const sources = [{ name: "input", v: rec.input.v, gray: true }, ...rec.layers.map((L) => ({ name: L.name, v: L.v, L }))];
  for (const s of sources) {
    const mesh = meshes[s.name];
    if (!mesh) continue;
    let m = 1;
    if (s.L) m = Math.max(Math.abs(s.L.min), Math.abs(s.L.max)) || 1;
    const out = s.name === "output";
    const best = out ? s.v.indexOf(Math.min(...s.v)) : -1;
    for (let i = 0; i < mesh.count; i++) {
      if (out) {
        c.setRGB(...(i === best ? [0.85, 0.38, 0.17] : [0.35, 0.38, 0.45]));
      } else {
        c.setRGB(...colour(s.v[i], m, s.gray));
      }
      mesh.setColorAt(i, c);
    }
    mesh.instanceColor.needsUpdate = true;
  }
  if (selected) connect(selected);
  render();
}

// Light the units that feed u and join them to it.
function connect(u) {
  selected = u;
  const l = layerNamed(u.layer);
  if (!l || !window.INSPECT) return;
  const info = INSPECT.compute(u);
  const from = centreOf(l, idOf(l, u));
  const pts = [], cells = [];
  if (info) {
    const below = layerNamed(info.below);
    for (const inp of info.inputs) {
      if (inp.all) {
        for (let id = 0; id < below.maps * below.h * below.w; id++) cells.push(centreOf(below, id));
      } else {
        for (let r = inp.rows[0]; r <= inp.rows[1]; r++) {
          for (let q = inp.cols[0]; q <= inp.cols[1]; q++) cells.push(position(below, below.name === "input" ? 0 : inp.map, r, q));
        }
      }
    }
  }
  for (const p of cells) pts.push(from.x, from.y, from.z, p.x, p.y, p.z);
  lines.geometry.dispose();
  lines.geometry = new THREE.BufferGeometry();
  lines.geometry.setAttribute("position", new THREE.Float32BufferAttribute(pts, 3));
  const m = new THREE.Matrix4();
  const all = [from, ...cells].slice(0, 1024);
  all.forEach((p, i) => {
    const s = i === 0 ? l.size * 1.3 : 1.05;
    m.makeScale(s, 1, s).setPosition(p.x, p.y + 0.15, p.z);
    lit.setMatrixAt(i, m);
  });
  lit.count = all.length;
  lit.instanceMatrix.needsUpdate = true;
  status.textContent = info ? `${u.layer.toUpperCase()} unit ${u.layer === "c5" || u.layer === "f6" || u.layer === "output" ? u.map : `map ${u.map} (${u.y}, ${u.x})`}: ` +
    `${cells.length} connection(s) from ${info.below}` : "";
  render();
}

function pickAt(clientX, clientY) {
  const r = canvas.getBoundingClientRect();
  const ndc = new THREE.Vector2(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
  const ray = new THREE.Raycaster();
  ray.setFromCamera(ndc, camera);
  const hits = ray.intersectObjects(Object.values(meshes), false);
  if (!hits.length) return null;
  const l = hits[0].object.userData.layer;
  return unitOf(l, hits[0].instanceId);
}

// Screen position (client pixels) of a unit's centre: what a finger would tap.
function unitScreen(u) {
  const l = layerNamed(u.layer);
  const p = centreOf(l, idOf(l, u)).project(camera);
  const r = canvas.getBoundingClientRect();
  return { x: r.left + (p.x + 1) / 2 * r.width, y: r.top + (1 - p.y) / 2 * r.height };
}

function render() {
  if (!renderer || !camera) return;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * renderer.getPixelRatio()) || canvas.height !== Math.round(h * renderer.getPixelRatio())) {
    renderer.setSize(w, h, false);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
  }
  renderer.render(scene, camera);
}

function start() {
  try {
    renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
  } catch (e) {
    status.textContent = "This browser has no WebGL, which the 3D view needs; the layers above show the same numbers.";
    window.VIEW3D = { ready: false, error: String(e) };
    return;
  }
  status.textContent = "Draw a digit to fill the network.";
  let down = null;
  canvas.addEventListener("pointerdown", (e) => { down = [e.clientX, e.clientY]; });
  canvas.addEventListener("pointerup", (e) => {
    if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 5 || !LAYOUT.length) return;
    const u = pickAt(e.clientX, e.clientY);
    if (u && u.layer !== "input") {
      connect(u);
      window.dispatchEvent(new CustomEvent("cnnzoo:pick", { detail: u }));
    }
  });
  canvas.addEventListener("keydown", (e) => {  // orbit and zoom from the keyboard
    if (!camera) return;
    const off = camera.position.clone().sub(controls.target);
    const sph = new THREE.Spherical().setFromVector3(off);
    const k = { ArrowLeft: [-0.1, 0, 1], ArrowRight: [0.1, 0, 1], ArrowUp: [0, -0.1, 1], ArrowDown: [0, 0.1, 1], "+": [0, 0, 0.9], "-": [0, 0, 1.1] }[e.key];
    if (!k) return;
    e.preventDefault();
    sph.theta += k[0]; sph.phi = Math.min(Math.PI - 0.05, Math.max(0.05, sph.phi + k[1])); sph.radius *= k[2];
    camera.position.copy(controls.target).add(new THREE.Vector3().setFromSpherical(sph));
    controls.update();
    render();
  });
  window.addEventListener("resize", render);
  window.addEventListener("cnnzoo:draw", (e) => update(e.detail));
  window.addEventListener("cnnzoo:select", (e) => { if (LAYOUT.length && e.detail) connect(e.detail); });
  if (LAST) update(LAST);
  window.VIEW3D = {
    ready: true, pickAt, unitScreen, render,
    get selected() { return selected; },
    get units() { return Object.values(meshes).reduce((s, m) => s + m.count, 0); },
  };
}

start();
