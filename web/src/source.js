// Where the page's data comes from.
//
// Cluster: the node serving the page names every replica and its HTTP
// address (/nodes); the page then talks to each node directly (every voidd
// answers its read-only endpoints with Access-Control-Allow-Origin: *, so no
// proxy is needed): /events to fill in the retained past, one /stream
// (Server-Sent Events) for new events and status changes, /status once a
// second for the panel and the sparkline, /members once for roles.
// ?nodes=http://h:p,http://h:p names the nodes instead (a page opened from
// a file or another server).
//
// Synthetic: ?synthetic=N makes N events (and ?edges=M edges, ?n=K nodes) in
// the page itself, for the frame-time bench (bench/web_frames.sh).

const BACKFILL_PER_NODE = 20000; // recent events fetched from each node at start
const STATUS_MS = 1000;

async function getJSON(url, ms = 3000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    const r = await fetch(url, { signal: ctl.signal, cache: 'no-store' });
    if (!r.ok && r.status !== 503) throw new Error(`${url}: HTTP ${r.status}`);
    return await r.json();
  } catch (e) {
    throw new Error(`${url}: ${e.name === 'AbortError' ? `no answer within ${ms} ms` : e.message}`);
  } finally {
    clearTimeout(timer);
  }
}

export class ClusterSource {
  constructor(store, onChange) {
    this.store = store;
    this.onChange = onChange; // called when the nodes' states may have changed
    this.nodes = [];
    this.errors = [];
    this.lags = []; // ms from an event's HLC to its arrival on the stream
  }

  async start(origin, explicit) {
    let list;
    if (explicit && explicit.length) {
      list = [];
      for (const base of explicit) {
        const j = await getJSON(`${base}/nodes`).catch(() => null);
        if (j) { list = j.nodes.map((n) => ({ ...n, http: n.http })); break; }
      }
    } else {
      list = (await getJSON(`${origin}/nodes`)).nodes;
    }
    this.nodes = list.map((n) => ({
      id: n.id,
      base: `http://${n.http}`,
      datacenter: n.datacenter, rack: n.rack, host: n.host,
      role: 'voter',
      status: null, // its latest stream status event
      detail: null, // its latest /status
      reachable: false,
      streamOpen: false,
      lastSeq: 0,
      spark: [], // [wall ms, last_executed]
      es: null,
    }));
    const members = await getJSON(`${origin}/members`).catch(() => null);
    if (members) {
      for (const m of members.members) {
        const n = this.nodes.find((x) => x.id === m.id);
        if (n) n.role = m.role;
      }
    }
    for (const n of this.nodes) this.connect(n);
    this.pollTimer = setInterval(() => this.poll(), STATUS_MS);
    this.poll();
    return this.nodes;
  }

  async backfill(n) {
    // Ask for the bounds, then page through the most recent events.
    const head = await getJSON(`${n.base}/events?limit=1`);
    let after = Math.max(head.base - 1, head.last - BACKFILL_PER_NODE, n.lastSeq);
    for (let pages = 0; pages < 100; pages++) {
      const page = await getJSON(`${n.base}/events?after=${after}&limit=1000`, 4000);
      for (const ev of page.events) this.addEvent(n, ev);
      after = page.next_after;
      if (!page.more) break;
    }
  }

  addEvent(n, ev, streamed = false) {
    // how long after it happened (its HLC wall time) it reached the page
    if (streamed && this.store.add(ev) >= 0) {
      this.lags.push(Date.now() - ev.t);
      if (this.lags.length > 1000) this.lags.shift();
    } else this.store.add(ev);
    if (ev.seq > n.lastSeq) n.lastSeq = ev.seq;
  }

  async connect(n) {
    try {
      await this.backfill(n);
      n.reachable = true;
    } catch (e) {
      n.reachable = false;
    }
    this.openStream(n);
  }

  openStream(n) {
    if (n.es) n.es.close();
    const es = new EventSource(`${n.base}/stream?after=${n.lastSeq}`);
    n.es = es;
    es.onopen = () => { n.streamOpen = true; n.reachable = true; this.onChange(); };
    es.onerror = () => {
      // EventSource reconnects by itself (retry: 1000), sending the last
      // event id, so the node resumes the stream where it stopped.
      n.streamOpen = false;
      n.reachable = false;
      this.onChange();
    };
    es.addEventListener('ev', (m) => this.addEvent(n, JSON.parse(m.data), true));
    es.addEventListener('status', (m) => {
      n.status = JSON.parse(m.data);
      n.statusAt = Date.now();
      this.onChange();
    });
    es.addEventListener('lag', () => {
      // It fell behind the node's horizon: fetch what is still there.
      this.backfill(n).catch(() => {});
    });
  }

  async poll() {
    await Promise.all(this.nodes.map(async (n) => {
      try {
        const s = await getJSON(`${n.base}/status`, 900);
        n.detail = s;
        n.reachable = true;
        n.spark.push([Date.now(), s.last_executed]);
        if (n.spark.length > 120) n.spark.shift();
      } catch (e) {
        n.reachable = false;
        n.spark.push([Date.now(), null]);
        if (n.spark.length > 120) n.spark.shift();
      }
    }));
    this.onChange();
  }

  // Each node's state as the reachable others see it: dead when most of
  // the views that have it say dead, suspect when any says suspect or dead
  // (or when nobody can vouch for an unreachable node), else alive; its role
  // from the highest view among the views.
  states() {
    const out = new Map();
    const views = this.nodes.filter((n) => n.reachable && n.status);
    let primary = null, view = -1;
    for (const v of views) if (v.status.view > view) { view = v.status.view; primary = v.status.primary; }
    for (const n of this.nodes) {
      const others = views.filter((v) => v.id !== n.id && v.status.members && v.status.members[n.id]);
      const says = others.map((v) => v.status.members[n.id]);
      const dead = says.filter((s) => s === 'dead').length;
      let health = 'alive';
      if (says.length && dead * 2 > says.length) health = 'dead';
      else if (says.some((s) => s !== 'alive')) health = 'suspect';
      else if (!n.reachable && !says.length) health = n.status ? 'suspect' : 'unknown';
      const role = n.role === 'learner' ? 'learner' : n.id === primary ? 'primary' : 'backup';
      out.set(n.id, { health, role, healthy: n.status ? n.status.healthy : null,
        reasons: n.status ? n.status.reasons : [] });
    }
    return out;
  }
}

// A deterministic pseudo-random sequence (mulberry32), so that every bench
// run draws the same scene.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SyntheticSource {
  // `rate` > 0: after the first `events` (spread over the minute before
  // now), `rate` more a second, in bursts every 50 ms as a node's stream
  // feeder sends them, stamped with the present.
  constructor(store, events, edges, nodes, rate = 0) {
    this.store = store;
    this.eventsWanted = events;
    this.edgesWanted = edges;
    this.n = nodes;
    this.rate = rate;
    this.nodes = [];
  }

  start() {
    const dcs = Math.max(1, Math.round(this.n / 5));
    for (let i = 0; i < this.n; i++) {
      this.nodes.push({ id: i, datacenter: `dc${i % dcs}`, rack: `r${Math.floor(i / dcs) % 2}`, host: `h${i}`, role: 'voter' });
    }
    this.rand = prng(42);
    const span = 60000; // ms of history
    const t0 = this.rate > 0 ? Date.now() - span : 1796600000000;
    this.seq = new Array(this.n).fill(0);
    // Shaped like PBFT's traffic: a send, then its receives on other nodes
    // within a few milliseconds (a broadcast to `fanout` of them). Local
    // edges are one fewer than a node's events; the wanted edges beyond
    // those are message edges, one per receive, so the fan-out follows.
    const msgWanted = Math.max(0, this.edgesWanted - (this.eventsWanted - this.n));
    const sendsWanted = Math.max(1, this.eventsWanted - msgWanted);
    this.fanout = Math.max(0, Math.min(this.n - 1, Math.round((this.eventsWanted - sendsWanted) / sendsWanted)));
    let k = 0;
    while (k < this.eventsWanted) k += this.burst(this.eventsWanted - k, (j) => t0 + ((k + j) / this.eventsWanted) * span);
    if (this.rate > 0) {
      let owed = 0;
      this.timer = setInterval(() => {
        owed += this.rate * 0.05;
        const now = Date.now();
        while (owed >= 1) owed -= this.burst(Math.floor(owed), () => now);
      }, 50);
    }
    return this.nodes;
  }

  // Adds a send and its receives, or one local event: at most `max` events,
  // the j-th at time at(j). Returns how many.
  burst(max, at) {
    const kinds = ['pre_prepared', 'prepared', 'committed', 'execute', 'local'];
    const rand = this.rand;
    let j = 0;
    const add = (node, kind, from) => {
      this.seq[node]++;
      const ev = { id: `${node}.${this.seq[node]}`, node, seq: this.seq[node], t: at(j), kind };
      if (from) ev.from = from;
      this.store.add(ev);
      j++;
      return ev.id;
    };
    const a = Math.floor(rand() * this.n);
    if (this.fanout === 0 || rand() < 0.1) { add(a, kinds[Math.floor(rand() * kinds.length)]); return j; }
    const send = add(a, 'send');
    for (let r = 1; r <= this.fanout && j < max; r++) add((a + r) % this.n, 'receive', send);
    return j;
  }

  states() {
    const out = new Map();
    for (const n of this.nodes) {
      out.set(n.id, { health: n.id === this.n - 1 ? 'suspect' : 'alive', role: n.id === 0 ? 'primary' : 'backup', healthy: true, reasons: [] });
    }
    return out;
  }
}
