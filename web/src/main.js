// The web view of a Void cluster (docs/web.md): nodes in 3D coloured by
// health and role, the causal DAG between them flowing as it grows, a time
// slider and play/pause that replay the retained range. window.voidView is
// the page's state for the browser tests and the frame bench.
import { Store } from './store.js';
import { Scene, COLORS, rendererName } from './scene.js';
import { ClusterSource, SyntheticSource } from './source.js';

const params = new URLSearchParams(location.search);
const store = new Store();
let windowS = Number(params.get('window')) || (params.has('synthetic') ? 61 : 30);
const scene = new Scene(document.getElementById('view'), store, {
  instanced: params.has('instanced'), windowS,
  // ?bins=E,M: event and message-edge slots per window (the level of detail)
  ...(params.get('bins') ? { eventBins: Number(params.get('bins').split(',')[0]), edgeBins: Number(params.get('bins').split(',')[1]) } : {}),
});
const $ = (id) => document.getElementById(id);

let source = null;
let nodes = [];
let live = true;
let playing = false;
let speed = 1;
let cursor = 0; // seconds since store.t0
let selectedNode = null;
let selectedEvent = -1;
// Node states over time, for the replay: [{wall, states: Map}] in order.
const timeline = [];

function fmtWall(ms) {
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const frac = String(Math.floor((ms % 1000) * 1000)).padStart(6, '0');
  return `${d.toISOString().slice(0, 19)}.${frac}Z`;
}

function liveCursor() {
  if (store.t0 === null) return 0;
  return Math.max((Date.now() - store.t0) / 1000, store.tMax);
}

function rangeEnd() {
  return live ? liveCursor() : Math.max(store.tMax, cursor, liveEndSeen);
}
let liveEndSeen = 0;

function statesAt(wallMs) {
  if (!timeline.length) return new Map();
  let lo = 0, hi = timeline.length - 1;
  if (timeline[0].wall > wallMs) return timeline[0].states;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (timeline[mid].wall <= wallMs) lo = mid; else hi = mid - 1;
  }
  return timeline[lo].states;
}

function sameStates(a, b) {
  if (!a || a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.health !== v.health || w.role !== v.role || w.healthy !== v.healthy) return false;
  }
  return true;
}

function recordStates() {
  if (!source) return;
  const s = source.states();
  const last = timeline.length ? timeline[timeline.length - 1].states : null;
  if (!sameStates(last, s)) timeline.push({ wall: Date.now(), states: s });
}

function colorOf(st) {
  if (!st) return COLORS.unknown;
  if (st.health === 'dead') return COLORS.dead;
  if (st.health === 'suspect') return COLORS.suspect;
  if (st.health === 'unknown') return COLORS.unknown;
  return COLORS[st.role] || COLORS.backup;
}

function currentStates() {
  const wall = store.t0 === null ? Date.now() : store.t0 + cursor * 1000;
  return live ? (timeline.length ? timeline[timeline.length - 1].states : new Map()) : statesAt(wall);
}

function applyLooks() {
  const states = currentStates();
  for (const n of nodes) {
    const st = states.get(n.id);
    scene.setNodeLook(n.id, colorOf(st), st && st.healthy === false && st.health !== 'dead');
    scene.setNodeLabel(n.id, st ? `${st.health === 'alive' ? st.role : st.health}` : 'connecting');
  }
}

function legend() {
  const items = [['primary', 'primary'], ['backup', 'backup'], ['learner', 'learner'], ['suspect', 'suspect'], ['dead', 'dead']];
  $('legend').innerHTML = items.map(([k, t]) => `<i style="background:${COLORS[k]}"></i>${t}`).join('') +
    '<span class="muted"> · height: age of an event · click a node or an event</span>';
}

// ---- the panel -------------------------------------------------------------

function drawSpark(n) {
  const c = $('spark');
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const pts = [];
  for (let i = 1; i < n.spark.length; i++) {
    const [t0, a] = n.spark[i - 1], [t1, b] = n.spark[i];
    pts.push(a === null || b === null ? null : ((b - a) * 1000) / Math.max(1, t1 - t0));
  }
  const max = Math.max(1, ...pts.filter((x) => x !== null));
  g.strokeStyle = '#5fdc6a';
  g.beginPath();
  let pen = false;
  pts.forEach((v, i) => {
    const x = (i / Math.max(1, pts.length - 1)) * (c.width - 2) + 1;
    if (v === null) { pen = false; return; }
    const y = c.height - 2 - (v / max) * (c.height - 4);
    if (pen) g.lineTo(x, y); else g.moveTo(x, y);
    pen = true;
  });
  g.stroke();
  const lastV = pts.length ? pts[pts.length - 1] : null;
  $('spark-label').textContent = `executed ops/s over the last ${pts.length} s: now ${lastV === null ? '—' : lastV.toFixed(1)}, peak ${max.toFixed(1)}`;
}

function showNode(id) {
  selectedNode = id;
  selectedEvent = -1;
  scene.highlight([]);
  const n = nodes.find((x) => x.id === id);
  const st = currentStates().get(id);
  $('panel').hidden = false;
  $('panel-title').textContent = `node ${id}`;
  $('spark').hidden = !n.spark;
  const d = n.detail || {};
  const lines = [
    `state: ${st ? st.health : 'unknown'}, role: ${st ? st.role : '?'}`,
    `healthy: ${st && st.healthy !== null ? st.healthy : '?'}${st && st.reasons && st.reasons.length ? ` (${st.reasons.join('; ')})` : ''}`,
    `place: ${[n.datacenter, n.rack, n.host].filter(Boolean).join(' / ') || '(no topology)'}`,
  ];
  if (n.base) lines.push(`http: ${n.base}`);
  for (const k of ['view', 'primary', 'last_executed', 'stable_checkpoint', 'hlc', 'state_keys', 'clock_offset_ns']) {
    if (d[k] !== undefined) lines.push(`${k}: ${d[k]}`);
  }
  $('panel-body').textContent = lines.join('\n');
  if (n.spark) drawSpark(n); else $('spark-label').textContent = '';
}

function showEvent(i) {
  selectedEvent = i;
  selectedNode = null;
  const hist = store.ancestors(i);
  scene.highlight(hist);
  $('panel').hidden = false;
  $('spark').hidden = true;
  $('spark-label').textContent = '';
  $('panel-title').textContent = `event ${store.ids[i]}`;
  const wall = store.t0 + store.t[i] * 1000;
  const sendNote = store.from[i] >= 0 ? `\nsent by: ${store.ids[store.from[i]]}` : '';
  $('panel-body').textContent = `${store.meta[i]} on node ${store.node[i]}\nat ${fmtWall(wall)}${sendNote}\n` +
    `causal history: ${hist.length} events held here (highlighted)`;
}

$('close').onclick = () => { $('panel').hidden = true; selectedNode = null; selectedEvent = -1; scene.highlight([]); };

// A click that did not drag the camera picks a node, else an event.
let down = null;
scene.renderer.domElement.addEventListener('pointerdown', (e) => { down = [e.clientX, e.clientY]; });
scene.renderer.domElement.addEventListener('pointerup', (e) => {
  if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) return;
  const id = scene.pickNode(e.clientX, e.clientY);
  if (id !== null) { showNode(id); return; }
  const i = scene.pickEvent(e.clientX, e.clientY);
  if (i >= 0) showEvent(i);
});

// ---- time controls ------------------------------------------------------------

const slider = $('slider');
function sliderToCursor(v) {
  const lo = store.tMin === Infinity ? 0 : store.tMin;
  const hi = rangeEnd();
  return lo + (v / 1000) * Math.max(0, hi - lo);
}
function cursorToSlider(c) {
  const lo = store.tMin === Infinity ? 0 : store.tMin;
  const hi = rangeEnd();
  return hi > lo ? Math.round(((c - lo) / (hi - lo)) * 1000) : 1000;
}
let inputAt = null; // performance.now() of the last slider input, for the bench
slider.addEventListener('input', (e) => {
  liveEndSeen = Math.max(liveEndSeen, liveCursor());
  live = false;
  cursor = sliderToCursor(Number(slider.value));
  inputAt = e.timeStamp; // when the input happened, on performance.now()'s clock
  scene.dirty = true; // drawn at the next frame, however small the move
  updateBar(performance.now()); // the cursor's time shown with the input, not a frame later
  $('live').classList.remove('on');
  applyLooks();
});
$('live').onclick = () => { live = true; playing = false; $('live').classList.add('on'); $('play').textContent = '▶'; scene.dirty = true; updateBar(performance.now()); };
$('play').onclick = () => {
  if (live) { live = false; cursor = store.tMin === Infinity ? 0 : store.tMin; liveEndSeen = liveCursor(); }
  playing = !playing;
  wake();
  $('live').classList.toggle('on', live);
  $('play').textContent = playing ? '❚❚' : '▶';
};
$('speed').onchange = (e) => { speed = Number(e.target.value); };

// ---- the frame loop --------------------------------------------------------------

// A frame is drawn only when something changed (scene.dirty: new events,
// the camera, the cursor moved by a pixel's worth, a node's look, a
// highlight). The loop runs while the page is live or playing (the cursor
// moves with the clock), the camera circles, or events wait to be binned;
// otherwise it stops asking for animation frames, so a still page costs
// nothing a frame, and wakes when something changes (new events, the
// camera, an input, a resize: wake()). frames.times holds the frames drawn,
// for the measurement (tests/web/frames.mjs).
const frames = { times: [], render: [], slider: [], skipped: 0 };
const px = new Uint8Array(4);
let lastFrame = performance.now();
let orbit = params.has('orbit');
let bench = params.has('bench');
let lastLooks = 0;
let lastBar = 0;
let asleep = true; // no animation frame asked for
let booted = false;
function wake() {
  if (!asleep || !booted) return;
  asleep = false;
  lastFrame = performance.now();
  requestAnimationFrame(frame);
}
scene.onDirty = wake;
store.onChange = wake;
// ?hide=edges,events,grid,nodes,labels,columns,bar: leave parts out (to see what a frame's time is spent on)
const hide = new Set((params.get('hide') || '').split(',').filter(Boolean));
function applyHide() {
  if (!hide.size) return;
  scene.lines.mesh.visible = !hide.has('edges'); scene.events.visible = !hide.has('events');
  scene.showFloor(!hide.has('grid'), !hide.has('columns'));
  scene.spheres.visible = !hide.has('nodes'); scene.labels.visible = !hide.has('labels');
  $('bar').hidden = hide.has('bar');
}

function frame(now) {
  const dt = (now - lastFrame) / 1000;
  lastFrame = now;
  if (live) cursor = liveCursor();
  else if (playing) {
    cursor += dt * speed;
    if (cursor >= liveCursor()) { live = true; playing = false; $('live').classList.add('on'); $('play').textContent = '▶'; }
  }
  const t0 = performance.now();
  scene.sync();
  scene.setCursor(cursor, windowS);
  applyHide();
  if (orbit) {
    const a = now / 4000;
    scene.camera.position.set(Math.sin(a) * 26, 14, Math.cos(a) * 26);
    scene.dirty = true;
  }
  if (now - lastLooks > 100) { applyLooks(); lastLooks = now; }
  if (scene.render()) {
    if (bench) {
      // Wait for the pixels: glFinish returns before the GPU process has
      // drawn, a one-pixel read does not.
      const gl = scene.renderer.getContext();
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
    }
    const t1 = performance.now();
    frames.render.push(t1 - t0);
    frames.times.push(now);
    if (frames.times.length > 4000) { frames.times.shift(); frames.render.shift(); }
    if (inputAt !== null) { frames.slider.push(t1 - inputAt); inputAt = null; }
  } else frames.skipped++;
  // The bar is HTML: repainted at most 10 times a second (at once after an
  // input: updateBar), not every frame.
  if (now - lastBar > 100 || (!live && playing)) updateBar(now);
  const binning = scene.evDone < store.count || scene.edgesDone < store.edgeCount;
  if (live || playing || orbit || binning || scene.dirty) requestAnimationFrame(frame);
  else {
    updateBar(now); // the bar as the frame left it
    asleep = true;
  }
}

function updateBar(now) {
  lastBar = now;
  const v = live ? '1000' : String(cursorToSlider(cursor));
  if (slider.value !== v) slider.value = v;
  const wall = store.t0 === null ? null : store.t0 + cursor * 1000;
  const text = wall === null ? '—' : `${live ? 'live ' : 'replay '}${fmtWall(wall)}`;
  if ($('cursor').textContent !== text) $('cursor').textContent = text;
}

function summary() {
  const up = source && source.nodes ? source.nodes.filter((n) => n.reachable !== false).length : 0;
  const text = `${nodes.length} nodes (${up} reachable) · ${store.count} events · ${store.edgeCount} edges`;
  if ($('summary').textContent !== text) $('summary').textContent = text; // no repaint when nothing changed
}

// ---- the test and bench interface ------------------------------------------------

function pct(arr, p) {
  if (!arr.length) return null;
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

window.voidView = {
  ready: false,
  error: null,
  colors: COLORS,
  nodes: () => {
    const st = currentStates();
    return nodes.map((n) => {
      const s = st.get(n.id);
      return { id: n.id, health: s ? s.health : 'unknown', role: s ? s.role : null, color: colorOf(s), healthy: s ? s.healthy : null };
    });
  },
  events: () => store.count,
  // ms from each of the last n streamed events' HLC to its arrival
  lags: (n) => (source && source.lags ? source.lags.slice(-n) : []),
  edges: () => store.edgeCount,
  visibleEvents: () => { let n = 0; for (let i = 0; i < store.count; i++) { const a = cursor - store.t[i]; if (a >= 0 && a <= windowS) n++; } return n; },
  eventsUpTo: () => store.countUpTo(cursor),
  cursorWall: () => (store.t0 === null ? null : store.t0 + cursor * 1000),
  isLive: () => live,
  // The slider position for a wall time (ms), to move it as a person would.
  sliderValueFor: (wallMs) => cursorToSlider((wallMs - store.t0) / 1000),
  selectEvent: (i) => showEvent(i),
  nodeScreen: (id) => scene.nodeScreen(id, 0),
  // the colour node id's sphere is drawn in, [r, g, b]
  nodePixel: (id) => scene.probeNode(id),
  highlighted: () => scene.hiCount,
  // slots drawn: event points and message lines (the level of detail)
  drawn: () => ({ points: scene.evSlots, lines: scene.lines.count, binned: scene.evDone }),
  frameStats: () => {
    const iv = [];
    for (let i = 1; i < frames.times.length; i++) iv.push(frames.times[i] - frames.times[i - 1]);
    return { frames: frames.times.length, skipped: frames.skipped, intervals: iv, interval_p50: pct(iv, 50), interval_p95: pct(iv, 95),
      render_p50: pct(frames.render, 50), render_p95: pct(frames.render, 95), render: [...frames.render], slider: [...frames.slider] };
  },
  resetFrames: () => { frames.times.length = 0; frames.render.length = 0; frames.slider.length = 0; frames.skipped = 0; },
  // for the measurement: the camera circling (every frame drawn) or still,
  // and each frame waiting for its pixels (?orbit=1, ?bench=1 at load)
  setOrbit: (on) => { orbit = !!on; wake(); },
  setBench: (on) => { bench = !!on; },
  // the draw of a frame alone, n times back to back, each waiting for its
  // pixels (no compositing, no requestAnimationFrame): ms each, sorted
  drawTimes: (n = 30) => {
    const gl = scene.renderer.getContext(), out = [];
    for (let k = 0; k < n; k++) {
      const t = performance.now();
      scene.render(true);
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
      out.push(performance.now() - t);
    }
    return out.sort((a, b) => a - b);
  },
  renderer: () => rendererName(scene.renderer.getContext()),
  // what a frame is drawn at: the canvas in CSS pixels, the pixels rendered
  // per CSS pixel (docs/web.md, "Quality"), the display's devicePixelRatio
  resolution: () => { const c = scene.renderer.domElement; return { css: [c.clientWidth, c.clientHeight], pixelRatio: scene.renderer.getPixelRatio(), drawn: [c.width, c.height], devicePixelRatio: window.devicePixelRatio, software: scene.software }; },
};

async function boot() {
  legend();
  const synthetic = params.get('synthetic');
  if (synthetic !== null) {
    const n = Number(params.get('n')) || 10;
    const events = Number(synthetic) || 10000;
    const edges = params.has('edges') ? Number(params.get('edges')) : 2 * events; // like PBFT: about one message edge an event
    // ?stream=R: R more events a second after those, live (as a cluster's stream)
    const rate = Number(params.get('stream')) || 0;
    source = new SyntheticSource(store, events, edges, n, rate);
    nodes = source.start();
    scene.setNodes(nodes);
    recordStates();
    live = rate > 0;
    cursor = store.tMax;
  } else {
    source = new ClusterSource(store, () => { recordStates(); summary(); });
    const explicit = params.get('nodes') ? params.get('nodes').split(',') : null;
    nodes = await source.start(location.origin, explicit);
    scene.setNodes(nodes);
    setInterval(recordStates, 250);
  }
  setInterval(summary, 250);
  setInterval(() => { if (selectedNode !== null) showNode(selectedNode); }, 1000);
  summary();
  window.voidView.ready = true;
  booted = true;
  wake();
}

boot().catch((e) => {
  window.voidView.error = `${e} ${e && e.stack ? e.stack : ""}`;
  $('summary').textContent = `cannot load the cluster: ${e}`;
});
