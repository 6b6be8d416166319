// The 3D scene: a sphere per node placed by datacenter and rack (all in
// one geometry), the events one buffer of points and the message edges one
// buffer of lines, at a level of detail bounded by the window. An event's
// height is its age at the replay cursor, computed in the vertex shader from
// its time and a uniform: moving the cursor (the slider, play, the live
// clock) changes two uniforms and uploads nothing, and events after the
// cursor are clipped there too.
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { KINDS } from './store.js';

export const COLORS = {
  primary: '#f5c542',
  backup: '#3fbf9f',
  learner: '#5a8dee',
  suspect: '#ff8c1a',
  dead: '#d83a3a',
  unknown: '#667085',
};

const KIND_COLORS = {
  client_request: '#ff5fd2', send: '#4f8cff', receive: '#38d7e6', pre_prepared: '#f3e26b',
  prepared: '#ffae42', committed: '#5fdc6a', execute: '#ffffff', reply: '#ff8fb1',
  checkpoint: '#b08cff', view_change: '#ff4040', membership: '#9ad0ff', local: '#8a93a6',
};

const ZERO = new THREE.Vector3();
// Which kind a slot of several events shows: the rarest and most telling.
const PRIO = new Uint8Array(KINDS.length);
['local', 'receive', 'send', 'pre_prepared', 'prepared', 'committed', 'execute', 'reply', 'client_request',
  'checkpoint', 'membership', 'view_change'].forEach((k, p) => { PRIO[KINDS.indexOf(k)] = p; });
// What a window of history is drawn with at most, whatever the events
// held: points for events, lines for message edges (spread over the nodes,
// and over the pairs of nodes that can exchange messages), and the fewest
// slots a node (a pair) gets. A software renderer gets half: SwiftShader
// pays about a microsecond a point and three a line whatever their length
// (docs/web.md, "Third pass"), and at half the points a slot is still under
// the 3 to 4 pixels a point is wide on 10 nodes.
const LOD = {
  gpu: { points: 4096, lines: 2048, perNode: 128, perPair: 16 },
  software: { points: 2048, lines: 1024, perNode: 64, perPair: 8 },
};

function grow32(arr, need) {
  let n = Math.max(1024, arr.length);
  while (n < need) n *= 2;
  const out = new Int32Array(n);
  out.set(arr);
  return out;
}

const BASE_Y = 1.0; // where a node's newest event sits, above its sphere
const HEIGHT = 16; // world units the visible window of history spans

const EVENT_VS = `
uniform float uCursor, uWindow, uScale, uSize, uDim, uPx;
uniform vec3 uKinds[${KINDS.length}];
attribute vec3 aP;   // x, time (s), z
attribute float aK;  // kind
attribute float aHi; // in the highlighted history
varying vec3 vC;
void main() {
  float age = uCursor - aP.y;
  if (age < 0.0 || age > uWindow) { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); vC = vec3(0.0); return; }
  float fresh = max(0.0, 1.0 - age * 3.0);
  float s = uSize * (1.0 + aHi * 0.7 + fresh * 1.5);
  vec3 p = position * s + vec3(aP.x, ${BASE_Y.toFixed(1)} + age * uScale, aP.z);
  vec3 c = uKinds[int(aK + 0.5)];
  vC = mix(c, vec3(1.0, 0.95, 0.5), aHi * 0.55) * ((uDim > 0.5 && aHi < 0.5) ? 0.25 : 1.0);
  gl_Position = projectionMatrix * modelViewMatrix * vec4(p, 1.0);
}`;
// Edges are GL lines (two triangles a pixel wide cost more there).
const EDGE_VS = `
uniform float uCursor, uWindow, uScale, uDim;
attribute vec3 aB;   // the other end (position is this one: x, time, z)
attribute vec2 aT;   // drawn while uCursor >= aT.x and uCursor - aT.y <= uWindow
attribute float aHi; // in the highlighted history
varying vec3 vC;
void main() {
  if (uCursor < aT.x || uCursor - aT.y > uWindow) { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); vC = vec3(0.0); return; }
  // an end outside the window is drawn at its edge
  float age = clamp(uCursor - position.y, 0.0, uWindow);
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position.x, ${BASE_Y.toFixed(1)} + age * uScale, position.z, 1.0);
  vC = aHi > 0.5 ? vec3(1.0, 0.9, 0.35) : vec3(0.30, 0.50, 0.95) * ((uDim > 0.5) ? 0.3 : 1.0);
}`;
const FS = `
varying vec3 vC;
void main() { gl_FragColor = vec4(vC, 1.0); }`;
const POINT_FS = `
varying vec3 vC;
void main() {
  vec2 d = gl_PointCoord - vec2(0.5);
  if (dot(d, d) > 0.25) discard;
  gl_FragColor = vec4(vC * (1.1 - dot(d, d) * 1.6), 1.0);
}`;

// Node labels: quads of a fixed world size facing the camera (what a
// THREE.Sprite does), all in one draw from one atlas texture.
// Nodes: one point each, shaded as a lit sphere of world radius uR in the
// fragment shader (an impostor: one primitive a node where a tessellated
// sphere was 520 triangles, which SwiftShader sets up one by one: 3.5 ms a
// frame for 10 spheres against 0.3; docs/web.md, "Third pass"). The colour is
// the state's, as given (sRGB), at full strength where the sphere faces the
// light. Each fragment writes the depth of the sphere's surface, so the
// floor and the lines through a node pass behind its front as they did
// behind a mesh.
const NODE_VS = `
uniform float uPxUnit, uR;
attribute vec3 aColor;
varying vec3 vC;
varying float vZ;
void main() {
  vec4 mv = modelViewMatrix * vec4(position, 1.0);
  gl_Position = projectionMatrix * mv;
  gl_PointSize = 2.0 * uR * uPxUnit / max(0.01, -mv.z);
  vC = aColor;
  vZ = mv.z;
}`;
const NODE_FS = `
uniform float uR;
uniform vec2 uDepth; // projectionMatrix[2][2], [3][2]
varying vec3 vC;
varying float vZ;
void main() {
  vec2 d = gl_PointCoord * 2.0 - 1.0;
  float r2 = dot(d, d);
  if (r2 > 1.0) discard;
  vec3 n = vec3(d.x, -d.y, sqrt(1.0 - r2));
  float lit = max(0.0, dot(n, vec3(-0.30, 0.55, 0.78)));
  gl_FragColor = vec4(vC * (0.35 + 0.65 * lit), 1.0);
  float z = vZ + uR * n.z;
  gl_FragDepth = 0.5 + 0.5 * (uDepth.x * z + uDepth.y) / -z;
}`;

const LABEL_VS = `
attribute vec2 aCorner; // -0.5..0.5
varying vec2 vUv;
void main() {
  vUv = uv;
  vec4 mv = modelViewMatrix * vec4(position, 1.0);
  mv.xy += aCorner * vec2(5.0, 1.25);
  gl_Position = projectionMatrix * mv;
}`;
const LABEL_FS = `
uniform sampler2D uMap;
varying vec2 vUv;
void main() { gl_FragColor = texture2D(uMap, vUv); }`;

// A buffer of segments (edges, or spans of the columns) drawn in one call:
// slot k is segment k; set() writes it, flush() uploads what changed.
class Segs {
  constructor(scene, material, cap) {
    this.scene = scene;
    this.material = material;
    this.V = 2; // vertices a segment
    this.count = 0;
    this.alloc(cap);
  }

  alloc(cap) {
    const V = this.V, old = this.mesh;
    const geo = new THREE.BufferGeometry();
    const mk = (w) => { const a = new THREE.BufferAttribute(new Float32Array(cap * V * w), w); a.setUsage(THREE.DynamicDrawUsage); return a; };
    const attrs = { position: mk(3), aT: mk(2), aHi: mk(1) };
    for (const [name, a] of Object.entries(attrs)) {
      if (old) a.array.set(old.geometry.getAttribute(name).array);
      geo.setAttribute(name, a);
    }
    if (old) { this.scene.remove(old); old.geometry.dispose(); }
    geo.setDrawRange(0, this.count * V);
    this.mesh = new THREE.LineSegments(geo, this.material);
    this.mesh.frustumCulled = false;
    this.scene.add(this.mesh);
    this.cap = cap;
    this.lo = 0; // a new buffer is uploaded whole
    this.hi = cap - 1;
  }

  // Appends a segment; returns its slot.
  add() {
    if (this.count === this.cap) this.alloc(this.cap * 2);
    return this.count++;
  }

  // Segment k from a = (x, time, z) to b, drawn from time t0 while t1 is
  // in the window.
  set(k, ax, ay, az, bx, by, bz, t0, t1, hi = 0) {
    const g = this.mesh.geometry;
    const pos = g.getAttribute('position').array;
    const aT = g.getAttribute('aT').array, aHi = g.getAttribute('aHi').array;
    const o = k * 6;
    pos[o] = ax; pos[o + 1] = ay; pos[o + 2] = az; pos[o + 3] = bx; pos[o + 4] = by; pos[o + 5] = bz;
    aT[k * 4] = aT[k * 4 + 2] = t0; aT[k * 4 + 1] = aT[k * 4 + 3] = t1;
    aHi[k * 2] = aHi[k * 2 + 1] = hi;
    this.touch(k);
  }

  setHi(k, hi) {
    this.mesh.geometry.getAttribute('aHi').array.fill(hi, k * this.V, (k + 1) * this.V);
    this.touch(k);
  }

  clearHi() {
    this.mesh.geometry.getAttribute('aHi').array.fill(0);
    if (this.count) { this.touch(0); this.touch(this.count - 1); }
  }

  touch(k) {
    if (k < this.lo) this.lo = k;
    if (k > this.hi) this.hi = k;
  }

  truncate(n) {
    this.count = n;
  }

  flush() {
    const g = this.mesh.geometry, V = this.V;
    g.setDrawRange(0, this.count * V);
    if (this.hi < this.lo) return;
    for (const [name, w] of [['position', 3], ['aT', 2], ['aHi', 1]]) {
      const a = g.getAttribute(name);
      a.addUpdateRange(this.lo * V * w, (this.hi - this.lo + 1) * V * w); a.needsUpdate = true;
    }
    this.lo = Infinity;
    this.hi = -1;
  }
}

// Positions of the nodes: datacenters around a wide circle, racks on an arc
// inside each, nodes side by side in a rack; a plain ring when no node has a
// datacenter.
export function layout(nodes) {
  const pos = new Map();
  const byDc = new Map();
  for (const n of nodes) {
    const dc = n.datacenter || '';
    if (!byDc.has(dc)) byDc.set(dc, new Map());
    const racks = byDc.get(dc);
    const rack = n.rack || '';
    if (!racks.has(rack)) racks.set(rack, []);
    racks.get(rack).push(n);
  }
  if (byDc.size === 1 && byDc.has('')) {
    const r = Math.max(3, nodes.length * 0.9);
    nodes.forEach((n, i) => {
      const a = (i / nodes.length) * Math.PI * 2;
      pos.set(n.id, new THREE.Vector3(Math.cos(a) * r, 0, Math.sin(a) * r));
    });
    return pos;
  }
  // A floor plan: datacenters side by side along x, the racks of one
  // behind each other along z, the nodes of a rack in a row.
  const dcs = [...byDc.keys()].sort();
  const widths = dcs.map((dc) => Math.max(...[...byDc.get(dc).values()].map((m) => m.length)) * 4);
  const total = widths.reduce((a, b) => a + b, 0) + (dcs.length - 1) * 5;
  let x0 = -total / 2;
  dcs.forEach((dc, di) => {
    const racks = [...byDc.get(dc).keys()].sort();
    const cx = x0 + widths[di] / 2;
    racks.forEach((rack, ri) => {
      const members = byDc.get(dc).get(rack);
      const z = (ri - (racks.length - 1) / 2) * 5;
      members.forEach((n, k) => {
        pos.set(n.id, new THREE.Vector3(cx + (k - (members.length - 1) / 2) * 4, 0, z));
      });
    });
    x0 += widths[di] + 5;
  });
  return pos;
}

// The WebGL implementation's name (the unmasked one when the browser tells
// it), e.g. "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) ...".
export function rendererName(gl) {
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
}

// Whether that is a software renderer, which rasterises on the CPU.
export function isSoftware(name) {
  return /SwiftShader|llvmpipe|softpipe|Software Rasterizer|Microsoft Basic Render/i.test(name);
}

export class Scene {
  constructor(container, store, { instanced = false, windowS = 30, eventBins = 0, edgeBins = 0 } = {}) {
    this.store = store;
    this.instanced = instanced;
    // an opaque canvas: the compositor need not blend it with the page
    this.renderer = new THREE.WebGLRenderer({ antialias: false, alpha: false, powerPreference: 'high-performance' });
    // The render resolution (docs/web.md, "Quality"): the display's pixels,
    // at most 2 a CSS pixel on a GPU and 1 on a software renderer
    // (SwiftShader, llvmpipe: its cost grows with the pixels, and a HiDPI
    // display would give it 4 times as many); ?scale=F renders at F times
    // that, the browser scaling the canvas up (0.5: a quarter of the pixels,
    // softer lines and labels).
    this.software = isSoftware(rendererName(this.renderer.getContext()));
    const scale = Number(new URLSearchParams(location.search).get('scale')) || 1;
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, this.software ? 1 : 2) * scale);
    this.renderer.setClearColor(0x0b0e14);
    container.appendChild(this.renderer.domElement);
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.1, 500);
    this.camera.position.set(0, 14, 24);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.target.set(0, 6, 0);
    this.controls.update();
    this.controls.addEventListener('change', () => { this.dirty = true; });
    // 0.8: what 0.55 and an emissive of a quarter of the colour gave
    this.scene.add(new THREE.AmbientLight(0xffffff, 0.8));
    const sun = new THREE.DirectionalLight(0xffffff, 1.4);
    sun.position.set(5, 12, 8);
    this.scene.add(sun);
    // The floor's grid, and (from setNodes on) every node's time column,
    // in one line buffer coloured by vertex: one draw call for both.
    this.grid = new THREE.GridHelper(40, 20, 0x1d2433, 0x151a25);
    this.gridVerts = this.grid.geometry.getAttribute('position').count;
    this.scene.add(this.grid);

    this.uniforms = {
      uCursor: { value: 0 }, uWindow: { value: 30 }, uScale: { value: HEIGHT / 30 },
      uSize: { value: 0.09 }, uDim: { value: 0 }, uPx: { value: 0 }, uPxUnit: { value: 0 }, uR: { value: 0.55 }, uDepth: { value: new THREE.Vector2() },
      uKinds: { value: KINDS.map((k) => new THREE.Color(KIND_COLORS[k])) },
    };
    this.nodeMeshes = new Map();
    this.nodePos = new Map();
    // The level of detail (slots) is fixed by the window the page was opened with.
    // set with the nodes: slots per node (per pair) and window
    this.windowS = windowS;
    this.eventBins = eventBins;
    this.edgeBins = edgeBins;
    this.evKey = new Map(); // time bin * 256 + node -> event slot
    this.edgeKey = new Map(); // (time bin * 256 + sender) * 256 + receiver -> line slot
    this.evSlot = new Int32Array(1024); // store index -> its slot
    this.edgeSlot = new Int32Array(1024); // store edge -> its line slot, -1 when local
    this.evDone = 0; // store events binned
    this.edgesDone = 0;
    this.evSlots = 0;
    this.hiCount = 0;
    this.allocEvents(8192);
    this.edgeMat = new THREE.ShaderMaterial({ uniforms: this.uniforms, vertexShader: EDGE_VS, fragmentShader: FS });
    this.lines = new Segs(this.scene, this.edgeMat, 8192); // message edges
    this.spans = new Segs(this.scene, this.edgeMat, 256); // highlighted spans of the columns
    this.onDirty = null; // called when a frame becomes due (the page's frame loop wakes)
    this.dirty = true; // something changed since the last frame drawn
    this.drawnCursor = NaN;
    this.resize();
    window.addEventListener('resize', () => this.resize());
  }

  get dirty() {
    return this.dirtyFlag;
  }

  set dirty(v) {
    this.dirtyFlag = v;
    if (v && this.onDirty) this.onDirty();
  }

  resize() {
    const w = this.renderer.domElement.parentElement.clientWidth || window.innerWidth;
    const h = this.renderer.domElement.parentElement.clientHeight || window.innerHeight;
    this.renderer.setSize(w, h);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    const pm = this.camera.projectionMatrix.elements;
    this.uniforms.uDepth.value.set(pm[10], pm[14]);
    // a point of world size uSize at the scene's distance, in pixels
    // pixels a world unit at distance 1
    this.uniforms.uPxUnit.value = (h * this.renderer.getPixelRatio()) / (2 * Math.tan((this.camera.fov * Math.PI) / 360));
    this.uniforms.uPx.value = this.uniforms.uPxUnit.value / 22;
    this.dirty = true;
  }

  setNodes(nodes) {
    this.nodePos = layout(nodes);
    // The level of detail: a slot is this long a time (on one node; between
    // one pair of nodes).
    const n = Math.max(1, nodes.length);
    const lod = this.software ? LOD.software : LOD.gpu;
    const eb = this.eventBins || Math.min(1024, Math.max(lod.perNode, Math.floor(lod.points / n)));
    const mb = this.edgeBins || Math.min(256, Math.max(lod.perPair, Math.floor(lod.lines / Math.max(1, n * (n - 1)))));
    this.qE = this.windowS / eb;
    this.qM = this.windowS / mb;
    // Frame the floor and the columns above it.
    let r = 4;
    for (const p of this.nodePos.values()) r = Math.max(r, Math.hypot(p.x, p.z) + 2);
    this.controls.target.set(0, HEIGHT * 0.4, 0);
    this.camera.position.set(0, HEIGHT * 0.55 + r * 0.2, r * 1.6 + 16);
    this.controls.update();
    // The nodes are drawn in three calls whatever their number (SwiftShader
    // pays for every draw call and every triangle: docs/web.md, "Frame
    // times"): one point a node shaded as a sphere (NODE_VS), coloured by
    // vertex; every node's time column added to the floor grid's line
    // buffer; one quad a label, all in one atlas texture; the rings of
    // unhealthy nodes (rare) one mesh each. A sphere mesh per node, kept
    // out of the scene, is what a click is cast against.
    const sphere = new THREE.SphereGeometry(this.uniforms.uR.value, 20, 14);
    const nodePos = [];
    const colPos = [], colRgb = [];
    const colColor = new THREE.Color(0x283042);
    const ringGeo = new THREE.TorusGeometry(0.85, 0.06, 8, 32);
    const ringMat = new THREE.MeshBasicMaterial({ color: '#ff4d4d' });
    // the label atlas: cells of 256x64, 16 to a column of cells
    const rows = Math.min(nodes.length, 16), cols = Math.ceil(nodes.length / 16);
    const atlas = document.createElement('canvas');
    atlas.width = 256 * cols;
    atlas.height = 64 * rows;
    this.atlas = atlas;
    this.atlasTex = new THREE.CanvasTexture(atlas);
    // sampled bilinearly, no mipmaps: labels are drawn near their atlas size,
    // and a trilinear fetch costs SwiftShader twice the texels a pixel
    this.atlasTex.generateMipmaps = false;
    this.atlasTex.minFilter = THREE.LinearFilter;
    const lPos = [], lCorner = [], lUv = [], lIdx = [];
    nodes.forEach((n, k) => {
      const p = this.nodePos.get(n.id);
      nodePos.push(p.x, p.y, p.z);
      const mesh = new THREE.Mesh(sphere);
      mesh.position.copy(p);
      mesh.updateMatrixWorld(true);
      mesh.userData.nodeId = n.id;
      const ring = new THREE.Mesh(ringGeo, ringMat);
      ring.position.copy(p);
      ring.rotation.x = Math.PI / 2;
      ring.visible = false;
      this.scene.add(ring);
      colPos.push(p.x, BASE_Y, p.z, p.x, BASE_Y + HEIGHT, p.z);
      colRgb.push(colColor.r, colColor.g, colColor.b, colColor.r, colColor.g, colColor.b);
      // The label is a quad in the scene facing the camera, not HTML over
      // the canvas: a software compositor re-rasterised moving HTML labels
      // every frame (20 ms of a frame's CPU in the bench).
      const cx = Math.floor(k / 16), cy = k % 16;
      const u0 = cx / cols, u1 = (cx + 1) / cols, v1 = 1 - cy / rows, v0 = 1 - (cy + 1) / rows;
      const corners = [[-0.5, -0.5, u0, v0], [0.5, -0.5, u1, v0], [0.5, 0.5, u1, v1], [-0.5, 0.5, u0, v1]];
      for (const [x, y, u, v] of corners) { lPos.push(p.x, -1.4, p.z + 0.8); lCorner.push(x, y); lUv.push(u, v); }
      lIdx.push(k * 4, k * 4 + 1, k * 4 + 2, k * 4, k * 4 + 2, k * 4 + 3);
      this.nodeMeshes.set(n.id, { k, mesh, ring, cell: [cx * 256, cy * 64], text: null });
    });
    const spheres = new THREE.BufferGeometry();
    spheres.setAttribute('position', new THREE.Float32BufferAttribute(nodePos, 3));
    const unknown = new THREE.Color(COLORS.unknown).getRGB(new THREE.Color(), THREE.SRGBColorSpace);
    const rgb = new Float32Array(nodes.length * 3);
    for (let v = 0; v < rgb.length; v += 3) { rgb[v] = unknown.r; rgb[v + 1] = unknown.g; rgb[v + 2] = unknown.b; }
    spheres.setAttribute('aColor', new THREE.BufferAttribute(rgb, 3));
    this.spheres = new THREE.Points(spheres, new THREE.ShaderMaterial({ uniforms: this.uniforms, vertexShader: NODE_VS, fragmentShader: NODE_FS }));
    this.spheres.frustumCulled = false;
    this.scene.add(this.spheres);
    // the columns go after the grid's lines in its buffer
    const g = this.grid.geometry, gv = this.gridVerts;
    const fPos = new Float32Array((gv + nodes.length * 2) * 3), fRgb = new Float32Array(fPos.length);
    fPos.set(g.getAttribute('position').array.subarray(0, gv * 3));
    fRgb.set(g.getAttribute('color').array.subarray(0, gv * 3));
    fPos.set(colPos, gv * 3);
    fRgb.set(colRgb, gv * 3);
    g.setAttribute('position', new THREE.BufferAttribute(fPos, 3));
    g.setAttribute('color', new THREE.BufferAttribute(fRgb, 3));
    g.setDrawRange(0, gv + nodes.length * 2);
    this.floorVerts = gv + nodes.length * 2;
    const lGeo = new THREE.BufferGeometry();
    lGeo.setAttribute('position', new THREE.Float32BufferAttribute(lPos, 3));
    lGeo.setAttribute('aCorner', new THREE.Float32BufferAttribute(lCorner, 2));
    lGeo.setAttribute('uv', new THREE.Float32BufferAttribute(lUv, 2));
    lGeo.setIndex(lIdx);
    this.labels = new THREE.Mesh(lGeo, new THREE.ShaderMaterial({
      uniforms: { uMap: { value: this.atlasTex } }, vertexShader: LABEL_VS, fragmentShader: LABEL_FS,
      transparent: true, depthTest: false, depthWrite: false,
    }));
    this.labels.frustumCulled = false;
    this.labels.renderOrder = 10;
    this.scene.add(this.labels);
    for (const n of nodes) this.setNodeLabel(n.id, 'connecting');
  }

  setNodeLabel(id, state) {
    const m = this.nodeMeshes.get(id);
    if (!m || m.text === state) return;
    m.text = state;
    const g = this.atlas.getContext('2d');
    const [x, y] = m.cell;
    g.clearRect(x, y, 256, 64);
    g.textAlign = 'center';
    g.fillStyle = '#e5e9f0';
    g.font = 'bold 26px system-ui, sans-serif';
    g.fillText(`node ${id}`, x + 128, y + 28);
    g.fillStyle = '#aab2c5';
    g.font = '22px system-ui, sans-serif';
    g.fillText(state, x + 128, y + 56);
    this.atlasTex.needsUpdate = true;
    this.dirty = true;
  }

  setNodeLook(id, color, unhealthy) {
    const m = this.nodeMeshes.get(id);
    if (!m || (m.color === color && m.ring.visible === !!unhealthy)) return;
    m.color = color;
    // the node's point takes its colour (sRGB, as the shader writes it)
    const c = new THREE.Color(color).getRGB(new THREE.Color(), THREE.SRGBColorSpace);
    const a = this.spheres.geometry.getAttribute('aColor');
    a.setXYZ(m.k, c.r, c.g, c.b);
    // added to the ranges of the next upload (three clears them after it):
    // several nodes can change colour in one frame
    a.addUpdateRange(m.k * 3, 3); a.needsUpdate = true;
    m.ring.visible = !!unhealthy;
    this.dirty = true;
  }

  // Events are one buffer of points (one vertex each, one draw call), edges
  // one buffer of line segments, both at a level of detail fixed by the
  // window and the nodes: one point per node and 1/(4096/nodes) of the
  // window (10 nodes: 1/409, about a pixel of the column at the default
  // camera, where a point is 3 to 4 pixels wide), one line per sender,
  // receiver and 1/(2048/pairs) of the window (10 nodes: 1/22; 4 nodes:
  // 1/170). SwiftShader, the software renderer, pays about a microsecond a
  // point and tens of nanoseconds a pixel of line (docs/web.md, "Frame
  // times"), so what it draws is bounded by the window and the nodes, not by
  // the events held: about 4,096 points and 2,048 lines a window. The store keeps every event exact (picking, the
  // panel, the causal history); a slot shows the most telling kind of its
  // events and is lit when any of them is. A node's own successive events
  // are on its column, so local edges are not drawn (the column is), only a
  // highlighted history's span of each column. ?instanced=1 draws the slots
  // as octahedron instances instead of points (several times slower there).
  allocEvents(cap) {
    const old = this.events;
    const instanced = this.instanced;
    const geo = instanced ? new THREE.InstancedBufferGeometry() : new THREE.BufferGeometry();
    const A = instanced ? THREE.InstancedBufferAttribute : THREE.BufferAttribute;
    const aP = new A(new Float32Array(cap * 3), 3);
    const aK = new A(new Float32Array(cap), 1);
    const aHi = new A(new Float32Array(cap), 1);
    for (const a of [aP, aK, aHi]) a.setUsage(THREE.DynamicDrawUsage);
    if (old) {
      aP.array.set(old.geometry.getAttribute('aP').array);
      aK.array.set(old.geometry.getAttribute('aK').array);
      aHi.array.set(old.geometry.getAttribute('aHi').array);
      this.scene.remove(old);
      old.geometry.dispose();
    }
    if (instanced) {
      const shape = new THREE.OctahedronGeometry(1, 0);
      geo.setAttribute('position', shape.getAttribute('position'));
      geo.instanceCount = this.evSlots;
    } else {
      geo.setAttribute('position', aP); // three needs a position; the shader reads aP
      geo.setDrawRange(0, this.evSlots);
    }
    geo.setAttribute('aP', aP);
    geo.setAttribute('aK', aK);
    geo.setAttribute('aHi', aHi);
    const mat = this.eventMat || new THREE.ShaderMaterial({
      uniforms: this.uniforms,
      vertexShader: instanced ? EVENT_VS : EVENT_VS.replace('vec3 p = position * s +', 'gl_PointSize = uPx * s; vec3 p ='),
      fragmentShader: instanced ? FS : POINT_FS,
    });
    this.eventMat = mat;
    this.events = instanced ? new THREE.Mesh(geo, mat) : new THREE.Points(geo, mat);
    this.events.frustumCulled = false;
    this.scene.add(this.events);
    this.capacity = cap;
    // a new buffer is uploaded whole on its first draw
    this.evDirty = [Infinity, -1];
  }

  eventXZ(i) {
    const p = this.nodePos.get(this.store.node[i]);
    return p || ZERO;
  }

  // Puts event i into its slot (a new one, or its node's slot for its time).
  binEvent(i) {
    const s = this.store;
    const node = s.node[i], t = s.t[i], k = s.kind[i];
    const key = Math.floor(t / this.qE) * 256 + node;
    let slot = this.evKey.get(key);
    const aP = this.events.geometry.getAttribute('aP').array;
    const aK = this.events.geometry.getAttribute('aK').array;
    if (slot === undefined) {
      if (this.evSlots === this.capacity) this.allocEvents(this.capacity * 2);
      slot = this.evSlots++;
      this.evKey.set(key, slot);
      const p = this.eventXZ(i);
      const a = this.events.geometry.getAttribute('aP').array;
      a[slot * 3] = p.x; a[slot * 3 + 1] = t; a[slot * 3 + 2] = p.z;
      this.events.geometry.getAttribute('aK').array[slot] = k;
      this.events.geometry.getAttribute('aHi').array[slot] = 0;
    } else {
      // the slot appears with its earliest event, in its most telling kind
      const earlier = t < aP[slot * 3 + 1], telling = PRIO[k] > PRIO[aK[slot]];
      if (!earlier && !telling) return slot;
      if (earlier) aP[slot * 3 + 1] = t;
      if (telling) aK[slot] = k;
    }
    if (slot < this.evDirty[0]) this.evDirty[0] = slot;
    if (slot > this.evDirty[1]) this.evDirty[1] = slot;
    return slot;
  }

  // Puts edge e into a line slot when it is a message edge; -1 when local.
  binEdge(e) {
    const s = this.store;
    const a = s.edges[e * 2], b = s.edges[e * 2 + 1];
    if (s.from[b] !== a) return -1;
    const key = (Math.floor(s.t[a] / this.qM) * 256 + s.node[a]) * 256 + s.node[b];
    let slot = this.edgeKey.get(key);
    if (slot !== undefined) return slot;
    slot = this.lines.add();
    this.edgeKey.set(key, slot);
    const pa = this.eventXZ(a), pb = this.eventXZ(b);
    // visible from the receive on, while the receive is in the window
    this.lines.set(slot, pa.x, s.t[a], pa.z, pb.x, s.t[b], pb.z, s.t[b], s.t[b]);
    return slot;
  }

  // Bins the events and edges added to the store since the last call, for
  // at most budgetMs (a burst, such as the backfill of 80,000 events, is
  // spread over frames), and uploads only the slots that changed. Returns
  // whether anything did.
  sync(budgetMs = 8) {
    const s = this.store;
    if (this.evDone === s.count && this.edgesDone === s.edgeCount) return false;
    const until = performance.now() + budgetMs;
    if (this.evSlot.length < s.count) this.evSlot = grow32(this.evSlot, s.count);
    while (this.evDone < s.count) {
      const stop = Math.min(s.count, this.evDone + 2048);
      for (let i = this.evDone; i < stop; i++) this.evSlot[i] = this.binEvent(i);
      this.evDone = stop;
      if (performance.now() > until) break;
    }
    if (this.edgeSlot.length < s.edgeCount) this.edgeSlot = grow32(this.edgeSlot, s.edgeCount);
    // an edge waits until both its events are binned
    while (this.edgesDone < s.edgeCount) {
      const e = this.edgesDone;
      if (s.edges[e * 2] >= this.evDone || s.edges[e * 2 + 1] >= this.evDone) break;
      this.edgeSlot[e] = this.binEdge(e);
      this.edgesDone++;
      if ((e & 2047) === 0 && performance.now() > until) break;
    }
    this.flush();
    return true;
  }

  // Uploads the changed range of each buffer (one range each: new slots
  // are appended, and the slots an event changes are its time's, near the end).
  flush() {
    const [lo, hi] = this.evDirty;
    if (hi >= lo) {
      const g = this.events.geometry;
      for (const [name, w] of [['aP', 3], ['aK', 1], ['aHi', 1]]) {
        const a = g.getAttribute(name);
        a.addUpdateRange(lo * w, (hi - lo + 1) * w); a.needsUpdate = true;
      }
      if (this.instanced) g.instanceCount = this.evSlots; else g.setDrawRange(0, this.evSlots);
      this.evDirty = [Infinity, -1];
    }
    this.lines.flush();
    this.dirty = true;
  }

  // Highlights the events in `set` (indices) and the message edges between
  // them, and each node's span of its column from the set's earliest to its
  // latest event there (the local edges); an empty set clears it.
  highlight(set) {
    const s = this.store;
    const mark = new Uint8Array(s.count);
    for (const i of set) mark[i] = 1;
    this.hiCount = set.length;
    const aHi = this.events.geometry.getAttribute('aHi');
    aHi.array.fill(0);
    for (const i of set) if (i < this.evDone) aHi.array[this.evSlot[i]] = 1;
    // every slot; ranges add up until the next upload (three clears them
    // then), so one a sync adds before it cannot narrow this one
    aHi.addUpdateRange(0, Math.max(1, this.evSlots)); aHi.needsUpdate = true;
    this.lines.clearHi();
    for (let e = 0; e < this.edgesDone; e++) {
      const slot = this.edgeSlot[e];
      if (slot >= 0 && mark[s.edges[e * 2]] && mark[s.edges[e * 2 + 1]]) this.lines.setHi(slot, 1);
    }
    this.lines.flush();
    const lo = new Map(), hi = new Map();
    for (const i of set) {
      const n = s.node[i], t = s.t[i];
      if (!lo.has(n) || t < lo.get(n)) lo.set(n, t);
      if (!hi.has(n) || t > hi.get(n)) hi.set(n, t);
    }
    this.spans.truncate(0);
    for (const [n, t0] of lo) {
      const p = this.nodePos.get(n) || ZERO, t1 = hi.get(n);
      this.spans.set(this.spans.add(), p.x, t0, p.z, p.x, t1, p.z, t0, t1, 1);
    }
    this.spans.flush();
    this.uniforms.uDim.value = set.length > 0 ? 1 : 0;
    this.dirty = true;
  }

  // Moves the cursor; a move of less than 1/600 of the window (under a
  // pixel of the column) is drawn with the next change, not at once.
  setCursor(cursor, windowS) {
    this.uniforms.uCursor.value = cursor;
    this.uniforms.uWindow.value = windowS;
    this.uniforms.uScale.value = HEIGHT / windowS;
    if (!(Math.abs(cursor - this.drawnCursor) < windowS / 600)) this.dirty = true;
  }

  // World position of event i at the current cursor, or null when hidden.
  eventWorld(i, out) {
    const age = this.uniforms.uCursor.value - this.store.t[i];
    if (age < 0 || age > this.uniforms.uWindow.value) return null;
    const p = this.eventXZ(i);
    return out.set(p.x, BASE_Y + age * this.uniforms.uScale.value, p.z);
  }

  // The event drawn nearest to the pixel (x, y) within 10 px, or -1.
  pickEvent(x, y) {
    const rect = this.renderer.domElement.getBoundingClientRect();
    const m = new THREE.Matrix4().multiplyMatrices(this.camera.projectionMatrix, this.camera.matrixWorldInverse);
    const e = m.elements;
    const v = new THREE.Vector3();
    let best = -1, bestD = 100;
    for (let i = 0; i < this.store.count; i++) {
      if (!this.eventWorld(i, v)) continue;
      const w = e[3] * v.x + e[7] * v.y + e[11] * v.z + e[15];
      if (w <= 0) continue;
      const sx = ((e[0] * v.x + e[4] * v.y + e[8] * v.z + e[12]) / w * 0.5 + 0.5) * rect.width;
      const sy = (0.5 - (e[1] * v.x + e[5] * v.y + e[9] * v.z + e[13]) / w * 0.5) * rect.height;
      const d = (sx - (x - rect.left)) ** 2 + (sy - (y - rect.top)) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }

  pickNode(x, y) {
    const rect = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((x - rect.left) / rect.width) * 2 - 1, -((y - rect.top) / rect.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(ndc, this.camera);
    const hits = ray.intersectObjects([...this.nodeMeshes.values()].map((m) => m.mesh), false);
    return hits.length ? hits[0].object.userData.nodeId : null;
  }

  // Screen position of node id's centre raised by dy (the label: below).
  nodeScreen(id, dy = -0.9) {
    const p = this.nodePos.get(id);
    if (!p) return null;
    const v = p.clone().add(new THREE.Vector3(0, dy, 0)).project(this.camera);
    const rect = this.renderer.domElement.getBoundingClientRect();
    return { x: (v.x * 0.5 + 0.5) * rect.width, y: (0.5 - v.y * 0.5) * rect.height, behind: v.z > 1 };
  }

  // The colour drawn at the centre of node id's sphere, [r, g, b] 0..255:
  // a frame of the spheres and the floor alone (nothing drawn over them),
  // read back before it is presented; the next frame draws everything.
  probeNode(id) {
    const sc = this.nodeScreen(id, 0);
    if (!sc || sc.behind) return null;
    const parts = [this.labels, this.events, this.lines.mesh, this.spans.mesh];
    const was = parts.map((o) => o.visible);
    parts.forEach((o) => { o.visible = false; });
    this.renderer.render(this.scene, this.camera);
    parts.forEach((o, k) => { o.visible = was[k]; });
    const gl = this.renderer.getContext(), pr = this.renderer.getPixelRatio();
    const px = new Uint8Array(4);
    gl.readPixels(Math.round(sc.x * pr), Math.round(gl.drawingBufferHeight - sc.y * pr), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
    this.dirty = true;
    return [px[0], px[1], px[2]];
  }

  // Shows the floor's grid and the nodes' columns, or either (?hide=).
  showFloor(grid, columns) {
    const gv = this.gridVerts, all = this.floorVerts || gv;
    if (this.floorShown === `${grid},${columns},${all}`) return;
    this.floorShown = `${grid},${columns},${all}`;
    this.grid.visible = grid || columns;
    this.grid.geometry.setDrawRange(grid ? 0 : gv, (grid ? gv : 0) + (columns ? all - gv : 0));
    this.dirty = true;
  }

  // Draws a frame when something changed (or `force`); returns whether it did.
  render(force = false) {
    this.controls.update();
    if (!this.dirty && !force) return false;
    this.renderer.render(this.scene, this.camera);
    this.drawnCursor = this.uniforms.uCursor.value;
    this.dirty = false;
    return true;
  }
}
