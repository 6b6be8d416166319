// Frame times of the web view, measured through the page as a person uses
// it (docs/web.md, "Frame times"): headless Debian chromium with WebGL on
// SwiftShader (the software renderer, tests/web/browser.mjs), the bundle
// served by a small static server, the page's synthetic source
// (?synthetic=N: N events on 10 nodes over the last minute, shaped like
// PBFT's traffic, then ?stream=R more a second in 50 ms bursts, as a node's
// /stream feeds them; it goes through the same store and scene as a
// cluster's events) while the camera circles, so that every frame is drawn.
// Then the camera stops and the slider is clicked with the mouse 20 times;
// each time is taken from the input event to the end of the frame that drew
// it, its pixels read back.
//
// Usage: node tests/web/frames.mjs [options]
//
// Options:
//   --dist DIR        the bundle (default web/dist; scripts/web builds it)
//   --scenes LIST     10k (10 nodes, 10,000 events, about 20,000 edges),
//                     50k (50,000 events, about 100,000 edges); default both
//   --ms N            milliseconds of frames measured a scene (default 8000)
//   --stream R        events a second streamed in (default 200)
//   --repeat K        measure each scene K times (default 1)
//   --gpu-compositing chromium composites the page on SwiftShader too
//                     (its default when WebGL runs there) instead of in
//                     software (--disable-gpu-compositing, what it does on a
//                     machine with no GPU, and what the browser tests use:
//                     tests/web/browser.mjs); WebGL is on SwiftShader either way
//   --args "A B"      more chromium flags (space-separated), e.g.
//                     "--in-process-gpu"
//   --screenshot DIR  save DIR/frames-SCENE.png (the scene as measured)
//   --query Q         appended to the page's query, e.g. hide=edges (what a
//                     frame spends on them: docs/web.md) or bins=100000,100000
//   --check MS        exit 1 when a scene's p95 CPU a frame or its slider
//                     p95 exceeds MS, or the scene is wrong (the test's
//                     loose bound)
//   -h, --help        this help
//
// Prints the machine's load, then one JSON line a scene: events and edges
// held, points and lines drawn (the level of detail), frames, the
// frame-to-frame interval p50/p95/p99 (requestAnimationFrame's, so a
// multiple of the 16.7 ms vsync unless --args "--disable-gpu-vsync
// --disable-frame-rate-limit"), work_p50/p95: the page's own time a frame,
// from the frame's callback to render() returned (JavaScript and WebGL
// calls; SwiftShader draws after, in the GPU process), draw_p10/p50: the
// draw of the scene alone, 40 times back to back each waiting for its
// pixels (SwiftShader's work a frame, without compositing), the CPU time a
// frame of chromium's processes by type (gpu-process: SwiftShader
// rasterising and the compositor; renderer: the page's JavaScript, three.js
// and Blink's frame), and the slider's input-to-pixels time p50/p95/max.
import { readFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, serveDir } from './browser.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
if (argv.includes('-h') || argv.includes('--help')) {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const head = lines.slice(0, lines.findIndex((l) => !l.startsWith('//')));
  console.log(head.slice(head.findIndex((l) => l.includes('Usage:'))).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
const known = new Set(['--dist', '--scenes', '--ms', '--stream', '--repeat', '--check', '--query', '--args', '--screenshot', '--gpu-compositing']);
for (let i = 0; i < argv.length; i++) {
  if (!known.has(argv[i])) { console.error(`frames: unknown argument '${argv[i]}' (see --help)`); process.exit(2); }
  if (argv[i] !== '--gpu-compositing') i++;
}
const dist = opt('--dist', join(here, '..', '..', 'web', 'dist'));
const measureMs = Number(opt('--ms', 8000));
const rate = Number(opt('--stream', 200));
const repeat = Number(opt('--repeat', 1));
const check = opt('--check', null) === null ? null : Number(opt('--check'));
const extra = opt('--query', '');
const SCENES = {
  '10k': { events: 10000, edges: 20000 },
  '50k': { events: 50000, edges: 100000 },
};
const scenes = opt('--scenes', '10k,50k').split(',');
for (const s of scenes) if (!SCENES[s]) { console.error(`frames: unknown scene '${s}' (10k, 50k)`); process.exit(2); }
if (!existsSync(join(dist, 'index.html'))) { console.error(`frames: no bundle in ${dist}; run scripts/web`); process.exit(1); }

const { server, port } = await serveDir(dist, 'frames');

// CPU time (ms) of the browser's processes by type, from /proc.
function cpuByType(profile) {
  const out = {};
  for (const pid of readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(profile)) continue;
      const m = cmd.match(/--type=([a-z-]+)/);
      const type = m ? m[1] : 'browser';
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[type] = (out[type] || 0) + (Number(f[11]) + Number(f[12])) * 10; // utime + stime, USER_HZ 100
    } catch (e) {
      // gone meanwhile
    }
  }
  return out;
}

const pct = (a, p) => { if (!a.length) return null; const s = [...a].sort((x, y) => x - y); return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(1); };
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const failures = [];
const moreArgs = opt('--args', '').split(' ').filter(Boolean);
const gpuCompositing = argv.includes('--gpu-compositing');
const { context, close, profile } = await launch({ gpuCompositing, args: moreArgs });
console.log(`load average: ${load()}; compositing: ${gpuCompositing ? 'SwiftShader (GPU path)' : 'software'}${moreArgs.length ? `; flags: ${moreArgs.join(' ')}` : ''}`);
try {
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  for (let r = 0; r < repeat; r++) {
    for (const name of scenes) {
      const sc = SCENES[name];
      await page.goto(`http://127.0.0.1:${port}/?synthetic=${sc.events}&edges=${sc.edges}&n=10&stream=${rate}&orbit=1${extra ? `&${extra}` : ''}`);
      await page.waitForFunction(() => window.voidView && window.voidView.ready, null, { timeout: 60000 });
      await page.waitForTimeout(2000); // shaders compiled, the first buffers uploaded
      await page.evaluate(() => voidView.resetFrames());
      const ev0 = await page.evaluate(() => voidView.events());
      const c0 = cpuByType(profile);
      const loadBefore = load();
      await page.waitForTimeout(measureMs);
      const st = await page.evaluate(() => voidView.frameStats());
      const c1 = cpuByType(profile);
      const cpu = {};
      let total = 0;
      for (const k of Object.keys(c1)) {
        const v = (c1[k] - (c0[k] || 0)) / Math.max(1, st.frames);
        total += v;
        if (v >= 0.5) cpu[k] = +v.toFixed(1);
      }
      if (opt('--screenshot', null)) {
        mkdirSync(opt('--screenshot'), { recursive: true });
        await page.screenshot({ path: join(opt('--screenshot'), `frames-${name}.png`) });
      }
      // The draw alone, 40 times back to back, each waiting for its pixels:
      // what SwiftShader spends on the scene, without compositing or the
      // frame loop (its p10 moves least with the machine's load).
      const draws = await page.evaluate(() => voidView.drawTimes(40));
      const info = await page.evaluate(() => ({ events: voidView.events(), edges: voidView.edges(), drawn: voidView.drawn(), renderer: voidView.renderer(), resolution: voidView.resolution ? voidView.resolution() : null }));

      // The slider, clicked with the mouse as a person would, the camera
      // still: from the input to the pixels of the frame that drew it.
      await page.evaluate(() => { voidView.setOrbit(false); voidView.setBench(true); });
      await page.waitForTimeout(300);
      await page.evaluate(() => voidView.resetFrames());
      const box = await page.locator('#slider').boundingBox();
      const walls = [];
      for (let k = 0; k < 20; k++) {
        const f = 0.05 + ((k * 0.379) % 0.9);
        await page.mouse.click(box.x + box.width * f, box.y + box.height / 2);
        await page.waitForTimeout(150);
        walls.push(await page.evaluate(() => voidView.cursorWall()));
      }
      const sl = (await page.evaluate(() => voidView.frameStats())).slider;
      const live = await page.evaluate(() => voidView.isLive());
      const res = {
        scene: name, query: extra || undefined, events: info.events, edges: info.edges, streamed: info.events - ev0, drawn: info.drawn,
        frames: st.frames, interval_p50: pct(st.intervals, 50), interval_p95: pct(st.intervals, 95), interval_p99: pct(st.intervals, 99),
        work_p50: pct(st.render, 50), work_p95: pct(st.render, 95), draw_p10: pct(draws, 10), draw_p50: pct(draws, 50),
        cpu_ms_per_frame: +total.toFixed(1), cpu_by_process: cpu,
        slider: { n: sl.length, p50: pct(sl, 50), p95: pct(sl, 95), max: sl.length ? +Math.max(...sl).toFixed(1) : null },
        load: `${loadBefore} -> ${load()}`, renderer: info.renderer, resolution: info.resolution,
      };
      console.log(JSON.stringify(res));
      // What must hold whatever the machine's load.
      const bad = (m) => failures.push(`${name}: ${m}`);
      if (info.events < sc.events) bad(`${info.events} events held, want at least ${sc.events}`);
      if (rate > 0 && res.streamed < 1) bad('no event streamed in while measuring');
      if (st.frames < 2) bad(`only ${st.frames} frames drawn in ${measureMs} ms with the camera circling`);
      if (!(info.drawn.points > 0 && info.drawn.points <= 10 * 600 && info.drawn.lines > 0 && info.drawn.lines <= 90 * 150)) bad(`drawn ${JSON.stringify(info.drawn)}: outside the level of detail's bounds`);
      if (live) bad('the slider left the page live');
      if (new Set(walls).size < 10) bad(`the slider moved the cursor to ${new Set(walls).size} distinct times in 20 clicks`);
      if (sl.length < 15) bad(`${sl.length} of 20 slider moves were timed to a drawn frame`);
      if (check !== null) {
        if (res.cpu_ms_per_frame > check) bad(`CPU ${res.cpu_ms_per_frame} ms a frame, bound ${check} ms`);
        if (res.slider.p95 > check) bad(`slider p95 ${res.slider.p95} ms, bound ${check} ms`);
      }
    }
  }
  if (errors.length) failures.push(`page errors: ${errors.join('; ')}`);
} finally {
  await close();
  server.close();
}
if (failures.length) {
  for (const f of failures) console.error(`frames: FAIL ${f}`);
  process.exit(1);
}
