// The 3D scene: one sphere per node placed by datacenter and rack, every
// event one instance of a single InstancedBufferGeometry, every causal edge
// two vertices of a single line buffer. An event's height is its age at the
// replay cursor, computed in the vertex shader from its time and a uniform:
// moving the cursor (the slider, play, the live clock) changes two uniforms
// and uploads nothing, and events after the cursor are clipped there too.
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
const EDGE_VS = `
uniform float uCursor, uWindow, uScale, uDim;
attribute float aTc;  // the child's time: the edge exists once it does
attribute float aMsg; // message edge (send -> receive), else local
attribute float aHi;
varying vec3 vC;
void main() {
  float age = uCursor - position.y;
  if (uCursor < aTc || age > uWindow) { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); vC = vec3(0.0); return; }
  vec3 p = vec3(position.x, ${BASE_Y.toFixed(1)} + age * uScale, position.z);
  vec3 c = aMsg > 0.5 ? vec3(0.30, 0.50, 0.95) : vec3(0.28, 0.30, 0.36);
  vC = aHi > 0.5 ? vec3(1.0, 0.9, 0.35) : c * ((uDim > 0.5) ? 0.3 : 1.0);
  gl_Position = projectionMatrix * modelViewMatrix * vec4(p, 1.0);
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

export class Scene {
  constructor(container, store, { instanced = false } = {}) {
    this.store = store;
    this.instanced = instanced;
    this.renderer = new THREE.WebGLRenderer({ antialias: false, powerPreference: 'high-performance' });
    // ?scale=F renders at F times the display's resolution (a software
    // renderer's cost is per pixel)
    const scale = Number(new URLSearchParams(location.search).get('scale')) || 1;
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2) * scale);
    this.renderer.setClearColor(0x0b0e14);
    container.appendChild(this.renderer.domElement);
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.1, 500);
    this.camera.position.set(0, 14, 24);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.target.set(0, 6, 0);
    this.controls.update();
    this.scene.add(new THREE.AmbientLight(0xffffff, 0.55));
    const sun = new THREE.DirectionalLight(0xffffff, 1.4);
    sun.position.set(5, 12, 8);
    this.scene.add(sun);
    this.grid = new THREE.GridHelper(40, 20, 0x1d2433, 0x151a25);
    this.scene.add(this.grid);

    this.uniforms = {
      uCursor: { value: 0 }, uWindow: { value: 30 }, uScale: { value: HEIGHT / 30 },
      uSize: { value: 0.09 }, uDim: { value: 0 }, uPx: { value: 0 },
      uKinds: { value: KINDS.map((k) => new THREE.Color(KIND_COLORS[k])) },
    };
    this.nodeMeshes = new Map();
    this.nodePos = new Map();
    this.capacity = 0;
    this.edgeCapacity = 0;
    this.uploaded = 0; // events copied into the instance buffers
    this.edgesUploaded = 0;
    this.allocEvents(16384);
    this.allocEdges(32768);
    this.resize();
    window.addEventListener('resize', () => this.resize());
  }

  resize() {
    const w = this.renderer.domElement.parentElement.clientWidth || window.innerWidth;
    const h = this.renderer.domElement.parentElement.clientHeight || window.innerHeight;
    this.renderer.setSize(w, h);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    // a point of world size uSize at the scene's distance, in pixels
    this.uniforms.uPx.value = (h * this.renderer.getPixelRatio()) / (2 * Math.tan((this.camera.fov * Math.PI) / 360)) / 22;
  }

  setNodes(nodes) {
    this.nodePos = layout(nodes);
    // Frame the floor and the columns above it.
    let r = 4;
    for (const p of this.nodePos.values()) r = Math.max(r, Math.hypot(p.x, p.z) + 2);
    this.controls.target.set(0, HEIGHT * 0.4, 0);
    this.camera.position.set(0, HEIGHT * 0.55 + r * 0.2, r * 1.6 + 16);
    this.controls.update();
    const geo = new THREE.SphereGeometry(0.55, 24, 16);
    const ringGeo = new THREE.TorusGeometry(0.85, 0.06, 8, 32);
    for (const n of nodes) {
      const p = this.nodePos.get(n.id);
      const mat = new THREE.MeshStandardMaterial({ color: COLORS.unknown, roughness: 0.45, metalness: 0.1 });
      const mesh = new THREE.Mesh(geo, mat);
      mesh.position.copy(p);
      mesh.userData.nodeId = n.id;
      const ring = new THREE.Mesh(ringGeo, new THREE.MeshBasicMaterial({ color: '#ff4d4d' }));
      ring.rotation.x = Math.PI / 2;
      ring.visible = false;
      mesh.add(ring);
      // the node's time column
      const col = new THREE.BufferGeometry().setFromPoints([
        new THREE.Vector3(p.x, BASE_Y, p.z), new THREE.Vector3(p.x, BASE_Y + HEIGHT, p.z)]);
      this.scene.add(new THREE.Line(col, new THREE.LineBasicMaterial({ color: 0x283042 })));
      this.scene.add(mesh);
      // The label is a sprite in the scene, not HTML over the canvas: a
      // software compositor re-rasterised moving HTML labels every frame
      // (20 ms of a frame's CPU in the bench).
      const canvas = document.createElement('canvas');
      canvas.width = 256;
      canvas.height = 64;
      const tex = new THREE.CanvasTexture(canvas);
      tex.colorSpace = THREE.SRGBColorSpace;
      const label = new THREE.Sprite(new THREE.SpriteMaterial({ map: tex, depthTest: false, transparent: true }));
      label.scale.set(5, 1.25, 1);
      label.position.set(p.x, -1.4, p.z + 0.8);
      label.renderOrder = 10;
      this.scene.add(label);
      this.nodeMeshes.set(n.id, { mesh, ring, label, canvas, tex, text: null });
      this.setNodeLabel(n.id, 'connecting');
    }
  }

  setNodeLabel(id, state) {
    const m = this.nodeMeshes.get(id);
    if (!m || m.text === state) return;
    m.text = state;
    const g = m.canvas.getContext('2d');
    g.clearRect(0, 0, 256, 64);
    g.textAlign = 'center';
    g.fillStyle = '#e5e9f0';
    g.font = 'bold 26px system-ui, sans-serif';
    g.fillText(`node ${id}`, 128, 28);
    g.fillStyle = '#aab2c5';
    g.font = '22px system-ui, sans-serif';
    g.fillText(state, 128, 56);
    m.tex.needsUpdate = true;
  }

  setNodeLook(id, color, unhealthy) {
    const m = this.nodeMeshes.get(id);
    if (!m) return;
    m.mesh.material.color.set(color);
    m.mesh.material.emissive.set(color).multiplyScalar(0.25);
    m.ring.visible = !!unhealthy;
  }

  // Events are one buffer: by default a point sprite each (one vertex, one
  // draw call for all of them); with ?instanced=1 an octahedron instance
  // each. Both upload only what is new. SwiftShader, the software renderer
  // of the browser tests, runs every instance as its own small draw: 10,000
  // instances took 25x the frame time of 10,000 points there (docs/web.md).
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
      geo.instanceCount = this.uploaded;
    } else {
      geo.setAttribute('position', aP); // three needs a position; the shader reads aP
      geo.setDrawRange(0, this.uploaded);
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
  }

  allocEdges(cap) {
    const old = this.lines;
    const geo = new THREE.BufferGeometry();
    const pos = new THREE.BufferAttribute(new Float32Array(cap * 6), 3);
    const aTc = new THREE.BufferAttribute(new Float32Array(cap * 2), 1);
    const aMsg = new THREE.BufferAttribute(new Float32Array(cap * 2), 1);
    const aHi = new THREE.BufferAttribute(new Float32Array(cap * 2), 1);
    for (const a of [pos, aTc, aMsg, aHi]) a.setUsage(THREE.DynamicDrawUsage);
    if (old) {
      pos.array.set(old.geometry.getAttribute('position').array);
      aTc.array.set(old.geometry.getAttribute('aTc').array);
      aMsg.array.set(old.geometry.getAttribute('aMsg').array);
      aHi.array.set(old.geometry.getAttribute('aHi').array);
      this.scene.remove(old);
      old.geometry.dispose();
    }
    geo.setAttribute('position', pos);
    geo.setAttribute('aTc', aTc);
    geo.setAttribute('aMsg', aMsg);
    geo.setAttribute('aHi', aHi);
    geo.setDrawRange(0, this.edgesUploaded * 2);
    const mat = this.edgeMat || new THREE.ShaderMaterial({ uniforms: this.uniforms, vertexShader: EDGE_VS, fragmentShader: FS });
    this.edgeMat = mat;
    this.lines = new THREE.LineSegments(geo, mat);
    this.lines.frustumCulled = false;
    this.scene.add(this.lines);
    this.edgeCapacity = cap;
  }

  eventXZ(i) {
    const p = this.nodePos.get(this.store.node[i]);
    return p || new THREE.Vector3();
  }

  // Copies events and edges added to the store since the last call into the
  // GPU buffers: only the new range is uploaded.
  sync() {
    const s = this.store;
    if (s.count > this.capacity) {
      let c = this.capacity;
      while (c < s.count) c *= 2;
      this.allocEvents(c);
    }
    if (s.count > this.uploaded) {
      const aP = this.events.geometry.getAttribute('aP');
      const aK = this.events.geometry.getAttribute('aK');
      for (let i = this.uploaded; i < s.count; i++) {
        const p = this.eventXZ(i);
        aP.array[i * 3] = p.x;
        aP.array[i * 3 + 1] = s.t[i];
        aP.array[i * 3 + 2] = p.z;
        aK.array[i] = s.kind[i];
      }
      aP.clearUpdateRanges(); aP.addUpdateRange(this.uploaded * 3, (s.count - this.uploaded) * 3); aP.needsUpdate = true;
      aK.clearUpdateRanges(); aK.addUpdateRange(this.uploaded, s.count - this.uploaded); aK.needsUpdate = true;
      this.uploaded = s.count;
      if (this.instanced) this.events.geometry.instanceCount = s.count;
      else this.events.geometry.setDrawRange(0, s.count);
    }
    if (s.edgeCount > this.edgeCapacity) {
      let c = this.edgeCapacity;
      while (c < s.edgeCount) c *= 2;
      this.allocEdges(c);
    }
    if (s.edgeCount > this.edgesUploaded) {
      const g = this.lines.geometry;
      const pos = g.getAttribute('position'), aTc = g.getAttribute('aTc'), aMsg = g.getAttribute('aMsg');
      for (let e = this.edgesUploaded; e < s.edgeCount; e++) {
        const a = s.edges[e * 2], b = s.edges[e * 2 + 1];
        const pa = this.eventXZ(a), pb = this.eventXZ(b);
        pos.array.set([pa.x, s.t[a], pa.z, pb.x, s.t[b], pb.z], e * 6);
        aTc.array[e * 2] = aTc.array[e * 2 + 1] = s.t[b];
        aMsg.array[e * 2] = aMsg.array[e * 2 + 1] = s.from[b] === a ? 1 : 0;
      }
      const from = this.edgesUploaded, n = s.edgeCount - from;
      pos.clearUpdateRanges(); pos.addUpdateRange(from * 6, n * 6); pos.needsUpdate = true;
      aTc.clearUpdateRanges(); aTc.addUpdateRange(from * 2, n * 2); aTc.needsUpdate = true;
      aMsg.clearUpdateRanges(); aMsg.addUpdateRange(from * 2, n * 2); aMsg.needsUpdate = true;
      this.edgesUploaded = s.edgeCount;
      g.setDrawRange(0, s.edgeCount * 2);
    }
  }

  // Highlights the events in `set` (indices) and the edges between them;
  // an empty set clears the highlight.
  highlight(set) {
    const s = this.store;
    const mark = new Uint8Array(s.count);
    for (const i of set) mark[i] = 1;
    const aHi = this.events.geometry.getAttribute('aHi');
    for (let i = 0; i < s.count; i++) aHi.array[i] = mark[i];
    aHi.clearUpdateRanges(); aHi.needsUpdate = true;
    const eHi = this.lines.geometry.getAttribute('aHi');
    for (let e = 0; e < this.edgesUploaded; e++) {
      const v = mark[s.edges[e * 2]] && mark[s.edges[e * 2 + 1]] ? 1 : 0;
      eHi.array[e * 2] = eHi.array[e * 2 + 1] = v;
    }
    eHi.clearUpdateRanges(); eHi.needsUpdate = true;
    this.uniforms.uDim.value = set.length > 0 ? 1 : 0;
  }

  setCursor(cursor, windowS) {
    this.uniforms.uCursor.value = cursor;
    this.uniforms.uWindow.value = windowS;
    this.uniforms.uScale.value = HEIGHT / windowS;
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

  render() {
    this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }
}
