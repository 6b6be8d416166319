// The web view against a live 4-node cluster (driven by test_view.sh): the
// page shows 4 nodes; a put makes events appear within 1 s; a SIGKILLed node
// turns to the dead colour within the detector's time; the replay slider
// moved to an earlier HLC shows that moment's state; a click on a node opens
// its panel and an event's causal history is highlighted; and the page asks
// nothing of any host but the nodes on loopback (everything bundled, no CDN:
// it works with no network). A screenshot of each step goes to $ARTEFACTS.
//
// Usage: node view.mjs   (environment: URL, ARTEFACTS, VOIDCTL, CLIENT,
//                         CLUSTER_SCRIPT, CLUSTER_DIR, KILL_NODE, MEMBERS_URL)
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} not set`); return v; };
const url = env('URL'), art = env('ARTEFACTS');
const kill = Number(process.env.KILL_NODE || 3);
mkdirSync(art, { recursive: true });
const fail = (msg) => { throw new Error(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const put = (k, v) => execFileSync(env('VOIDCTL'), ['put', k, v, '--cluster', env('CLIENT')], { stdio: ['ignore', 'pipe', 'inherit'] });

async function waitFor(page, what, fn, arg, ms) {
  const t0 = Date.now();
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return Date.now() - t0;
    if (Date.now() - t0 > ms) fail(`timed out after ${ms} ms waiting for: ${what}`);
    await sleep(20);
  }
}

// Which of the page's colours (voidView.colors) a drawn pixel is: the one
// nearest in direction (lighting scales a colour; it does not turn it).
function nearestColor(px, colors) {
  const unit = (v) => { const n = Math.hypot(...v) || 1; return v.map((x) => x / n); };
  const p = unit(px);
  let best = null, bestD = Infinity;
  for (const [name, hex] of Object.entries(colors)) {
    const c = unit([1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
    const d = Math.hypot(p[0] - c[0], p[1] - c[1], p[2] - c[2]);
    if (d < bestD) { bestD = d; best = name; }
  }
  return best;
}
// Every node's sphere is drawn in the colour of its state.
async function checkDrawn(page, when) {
  const { nodes, colors, pixels } = await page.evaluate(() => ({ nodes: voidView.nodes(), colors: voidView.colors, pixels: voidView.nodes().map((n) => voidView.nodePixel(n.id)) }));
  nodes.forEach((n, k) => {
    if (!pixels[k]) return; // behind the camera
    const want = Object.keys(colors).find((c) => colors[c] === n.color);
    const got = nearestColor(pixels[k], colors);
    if (got !== want) fail(`${when}: node ${n.id} (${want}) is drawn rgb(${pixels[k]}), nearest to ${got}`);
  });
}

const { context, close } = await launch();
let step = 0;
const shot = async (page, name) => {
  const path = join(art, `${String(++step).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path });
  console.log(`screenshot: ${path}`);
};
try {
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // every request the page makes goes to a node on loopback
  const external = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.hostname !== '127.0.0.1') external.push(r.url());
  });
  await page.goto(url);
  await page.waitForFunction(() => window.voidView && (window.voidView.ready || window.voidView.error), null, { timeout: 15000 });
  const bootError = await page.evaluate(() => window.voidView.error);
  if (bootError) fail(`the page did not load the cluster: ${bootError}`);

  // 1. four nodes, all alive, one of them the primary
  await waitFor(page, '4 nodes alive with a primary',
    () => { const n = voidView.nodes(); return n.length === 4 && n.every((x) => x.health === 'alive') && n.some((x) => x.role === 'primary'); }, null, 10000);
  const nodes = await page.evaluate(() => voidView.nodes());
  console.log('nodes:', JSON.stringify(nodes));
  const summary = await page.textContent('[data-testid=summary]');
  if (!/^4 nodes/.test(summary)) fail(`summary says '${summary}'`);
  await shot(page, 'four-nodes');
  await checkDrawn(page, 'four nodes');

  // 2. a put's events appear within 1 s: each streamed event reaches the
  // page within 1 s of its HLC, and all of the put's are there within 1 s
  // of voidctl's answer (the put itself may take longer on a loaded machine)
  await sleep(300);
  const before = await page.evaluate(() => voidView.events());
  const tPut = Date.now();
  put('web-k1', 'v1');
  const putMs = Date.now() - tPut;
  const seen = await waitFor(page, 'the put\'s events', (b) => voidView.events() >= b + 12, before, 3000);
  await sleep(200);
  const after = await page.evaluate(() => voidView.events());
  const lags = await page.evaluate((n) => voidView.lags(n), after - before);
  const worst = Math.max(...lags);
  console.log(`put: voidctl took ${putMs} ms; ${after - before} events on the page ${seen} ms after it answered; ` +
    `event HLC to page: max ${worst} ms over ${lags.length}`);
  if (seen > 1000) fail(`the put's events were on the page ${seen} ms after it committed (want within 1000 ms)`);
  if (!(lags.length >= 12 && worst <= 1000)) fail(`events reached the page up to ${worst} ms after they happened (want within 1000 ms)`);
  await shot(page, 'put-events');

  // a click on node 0 opens its panel; an event's history is highlighted
  const p0 = await page.evaluate(() => voidView.nodeScreen(0));
  await page.mouse.click(p0.x, p0.y);
  await waitFor(page, 'node 0\'s panel', () => !document.getElementById('panel').hidden && document.getElementById('panel-title').textContent === 'node 0', null, 2000);
  const last = await page.evaluate(() => voidView.events() - 1);
  await page.evaluate((i) => voidView.selectEvent(i), last);
  const hi = await page.evaluate(() => voidView.highlighted());
  if (hi < 2) fail(`the causal history of the newest event highlights ${hi} events`);
  console.log(`history of the newest event: ${hi} events highlighted`);
  await shot(page, 'causal-history');
  await page.click('#close');

  // 3. SIGKILL node KILL_NODE: dead colour within the detector's time
  const members = JSON.parse(execFileSync('curl', ['-fsS', '--max-time', '2', env('MEMBERS_URL')]).toString());
  const deadMs = members.dead_after_ms;
  const tBeforeKill = Date.now();
  await sleep(200);
  execFileSync(env('CLUSTER_SCRIPT'), ['kill', String(kill), '--dir', env('CLUSTER_DIR')], { stdio: 'ignore' });
  const tKill = Date.now();
  // The detector holds a peer dead after dead_after_ms of silence; its tick,
  // the stream's 50 ms and a loaded machine's scheduling get 1.5 s more.
  const bound = deadMs + 1500;
  const deadAfter = await waitFor(page, `node ${kill} in the dead colour`,
    (k) => voidView.nodes().find((n) => n.id === k).color === voidView.colors.dead, kill, bound + 3000);
  console.log(`node ${kill} dead on the page ${deadAfter} ms after SIGKILL (detector: dead after ${deadMs} ms; bound ${bound} ms)`);
  if (deadAfter > bound) fail(`node ${kill} took ${deadAfter} ms to turn dead (bound ${bound} ms)`);
  put('web-k2', 'v2'); // events after the kill, for the replay to leave out
  await sleep(300);
  await shot(page, 'node-dead');
  await checkDrawn(page, 'a node dead');

  // 4. the slider to before the kill: that moment's state
  const total = await page.evaluate(() => voidView.events());
  const v = await page.evaluate((t) => voidView.sliderValueFor(t), tBeforeKill);
  await page.$eval('#slider', (el, val) => { el.value = String(val); el.dispatchEvent(new Event('input', { bubbles: true })); }, v);
  await sleep(200);
  const replay = await page.evaluate(() => ({ live: voidView.isLive(), wall: voidView.cursorWall(), upTo: voidView.eventsUpTo(), total: voidView.events(), nodes: voidView.nodes(), label: document.querySelector('[data-testid=cursor]').textContent }));
  console.log('replay:', JSON.stringify({ ...replay, nodes: undefined }));
  if (replay.live) fail('the slider left the page live');
  if (!(replay.wall <= tKill)) fail(`cursor at ${replay.wall}, after the kill at ${tKill}`);
  if (Math.abs(replay.wall - tBeforeKill) > 2000) fail(`cursor ${replay.wall} far from the slider's target ${tBeforeKill}`);
  const k = replay.nodes.find((n) => n.id === kill);
  if (k.health !== 'alive' || k.color === (await page.evaluate(() => voidView.colors.dead))) fail(`at the replayed moment node ${kill} shows ${k.health} (${k.color}), want alive`);
  if (!(replay.upTo < total)) fail(`the replay shows ${replay.upTo} of ${total} events: the later put's should be left out`);
  if (!/^replay /.test(replay.label)) fail(`cursor label '${replay.label}'`);
  await shot(page, 'replay-before-kill');
  // and back to the present: dead again
  await page.click('#live');
  await waitFor(page, 'live again, node dead', (kk) => voidView.isLive() && voidView.nodes().find((n) => n.id === kk).health === 'dead', kill, 2000);
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  if (external.length) fail(`the page asked for what is not on a node (it must work offline): ${external.slice(0, 5).join(' ')}`);
  console.log('view: ok');
} finally {
  await close();
}
