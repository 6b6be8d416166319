// The events and causal edges the page holds, in growable typed arrays so
// that tens of thousands of them cost a few megabytes and no per-event
// objects: index i is an event, edges are pairs of indices. Times are
// seconds since t0 (the first event's wall time), which a float32 on the GPU
// holds to the millisecond for hours.

export const KINDS = ['client_request', 'send', 'receive', 'pre_prepared', 'prepared', 'committed',
  'execute', 'reply', 'checkpoint', 'view_change', 'membership', 'local'];

function grow(arr, need) {
  if (need <= arr.length) return arr;
  let n = arr.length;
  while (n < need) n *= 2;
  const out = new arr.constructor(n);
  out.set(arr);
  return out;
}

export class Store {
  constructor() {
    this.t0 = null; // wall ms of time 0
    this.count = 0;
    this.node = new Uint8Array(1024);
    this.kind = new Uint8Array(1024);
    this.t = new Float64Array(1024); // seconds since t0
    this.prev = new Int32Array(1024); // previous event of the node, -1
    this.from = new Int32Array(1024); // the send of a receive, -1
    this.edgeCount = 0;
    this.edges = new Int32Array(2048); // [parent, child] pairs, local and message edges
    this.ids = []; // "node.seq" of each event, for the panel
    this.meta = []; // the event's JSON text fields the panel shows (small)
    this.byId = new Map(); // "node.seq" -> index
    this.lastOfNode = new Map(); // node -> [seq, index]
    this.waiting = new Map(); // "node.seq" of a send not seen yet -> [receive indices]
    this.tMin = Infinity;
    this.tMax = -Infinity;
    this.version = 0; // bumps when anything is added
    this.onChange = null; // called when anything is added (the page's frame loop wakes)
  }

  has(id) {
    return this.byId.has(id);
  }

  // Adds one event {id, node, seq, t (wall ms), kind, from?, msg?, ...};
  // returns its index, or -1 when it is already held.
  add(ev) {
    if (this.byId.has(ev.id)) return -1;
    if (this.t0 === null) this.t0 = Math.floor(ev.t);
    const i = this.count;
    const need = i + 1;
    if (need > this.node.length) {
      this.node = grow(this.node, need);
      this.kind = grow(this.kind, need);
      this.t = grow(this.t, need);
      this.prev = grow(this.prev, need);
      this.from = grow(this.from, need);
    }
    const t = (ev.t - this.t0) / 1000;
    this.node[i] = ev.node;
    const k = KINDS.indexOf(ev.kind);
    this.kind[i] = k < 0 ? KINDS.length - 1 : k;
    this.t[i] = t;
    const last = this.lastOfNode.get(ev.node);
    this.prev[i] = last && last[0] === ev.seq - 1 ? last[1] : -1;
    if (this.prev[i] >= 0) this.pushEdge(this.prev[i], i);
    if (!last || ev.seq > last[0]) this.lastOfNode.set(ev.node, [ev.seq, i]);
    this.from[i] = -1;
    this.ids.push(ev.id);
    this.meta.push(ev.msg ? `${ev.kind} ${ev.msg}` : ev.kind);
    this.byId.set(ev.id, i);
    this.count = need;
    if (t < this.tMin) this.tMin = t;
    if (t > this.tMax) this.tMax = t;
    if (ev.from) {
      const s = this.byId.get(ev.from);
      if (s !== undefined) this.link(s, i);
      else {
        const w = this.waiting.get(ev.from);
        if (w) w.push(i); else this.waiting.set(ev.from, [i]);
      }
    }
    const w = this.waiting.get(ev.id);
    if (w) {
      this.waiting.delete(ev.id);
      for (const r of w) this.link(i, r);
    }
    this.version++;
    if (this.onChange) this.onChange();
    return i;
  }

  link(parent, child) {
    this.from[child] = parent;
    this.pushEdge(parent, child);
  }

  // Edges (local and message alike) as the line buffer draws them.
  pushEdge(parent, child) {
    const need = (this.edgeCount + 1) * 2;
    if (need > this.edges.length) this.edges = grow(this.edges, need);
    this.edges[this.edgeCount * 2] = parent;
    this.edges[this.edgeCount * 2 + 1] = child;
    this.edgeCount++;
  }

  // Indices of the causal history of event i (i included): its node's
  // earlier events and, through receives, the senders' histories. Iterative,
  // bounded by `max`.
  ancestors(i, max = 200000) {
    const seen = new Uint8Array(this.count);
    const out = [];
    const stack = [i];
    while (stack.length && out.length < max) {
      const j = stack.pop();
      if (j < 0 || seen[j]) continue;
      seen[j] = 1;
      out.push(j);
      stack.push(this.prev[j]);
      stack.push(this.from[j]);
    }
    return out;
  }

  // Number of events with t <= cursor (seconds): what the replay shows.
  countUpTo(cursor) {
    let n = 0;
    const t = this.t;
    for (let i = 0; i < this.count; i++) if (t[i] <= cursor) n++;
    return n;
  }
}
