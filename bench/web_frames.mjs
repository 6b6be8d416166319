// Frame times of the web view in headless Debian chromium with WebGL on
// SwiftShader (software), on the page's synthetic data (?synthetic=N), no
// cluster: run by bench/web_frames.sh, which says what is printed.
import { launch, serveDir } from '../tests/web/browser.mjs';

const dist = process.argv[2];
const measureMs = Number(process.env.MEASURE_MS || 8000);
const { server, port } = await serveDir(dist, 'web_frames');

const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const { context, close, cpuMs } = await launch();
const results = [];
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => { console.error('page error:', e.message); process.exitCode = 1; });
  const run = async (name, query, slider) => {
    await page.goto(`http://127.0.0.1:${port}/?${query}`);
    await page.waitForFunction(() => window.voidView && window.voidView.ready, null, { timeout: 60000 });
    await page.waitForTimeout(2000); // shaders compiled, buffers uploaded
    await page.evaluate(() => voidView.resetFrames());
    const cpu0 = cpuMs();
    await page.waitForTimeout(measureMs);
    const st = await page.evaluate(() => voidView.frameStats());
    const cpuPerFrame = st.frames > 1 ? (cpuMs() - cpu0) / st.frames : null;
    const info = await page.evaluate(() => ({ events: voidView.events(), edges: voidView.edges(), renderer: voidView.renderer() }));
    let sl = null;
    if (slider) {
      // the slider moved as a person would (an input event), 20 times; each
      // time from the input to the end of the next frame drawn (pixels read)
      for (let k = 0; k < 20; k++) {
        await page.$eval('#slider', (el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', { bubbles: true })); }, 50 + ((k * 379) % 900));
        await page.waitForTimeout(150);
      }
      const s = (await page.evaluate(() => voidView.frameStats())).slider;
      sl = { n: s.length, p50: pct(s, 50), p95: pct(s, 95), max: Math.max(...s) };
    }
    const r = { name, query, ...info, frames: st.frames, cpu_ms_per_frame: cpuPerFrame, interval_p50: st.interval_p50, interval_p95: st.interval_p95, render_p50: st.render_p50, render_p95: st.render_p95, slider: sl };
    results.push(r);
    console.log(JSON.stringify(r));
  };
  const scenes = (process.env.SCENES || 'small,large,instanced').split(',');
  if (scenes.includes('small')) {
    await run('10k', 'synthetic=10000&n=10&orbit=1', false);
    await run('10k_sync', 'synthetic=10000&n=10&orbit=1&bench=1', true);
  }
  if (scenes.includes('large')) {
    await run('50k', 'synthetic=50000&edges=100000&n=10&orbit=1', false);
    await run('50k_sync', 'synthetic=50000&edges=100000&n=10&orbit=1&bench=1', true);
  }
  if (scenes.includes('instanced')) await run('10k_instanced', 'synthetic=10000&n=10&orbit=1&instanced=1', false);
} finally {
  await close();
  server.close();
}
const f = (x) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(1)}ms`);
const by = Object.fromEntries(results.map((r) => [r.name, r]));
const line = (name, v, goal, what) => console.log(`BENCH ${name}: ours=${f(v)} peer(${what})=${goal}ms ratio=${v ? (v / goal).toFixed(2) : 'n/a'}`);
if (by['10k']) line('web_frame_p95_10k', by['10k'].interval_p95, 16.7, 'goal: 60 fps frame');
if (by['10k']) line('web_frame_cpu_10k', by['10k'].cpu_ms_per_frame, 16.7, 'goal: 60 fps frame');
if (by['50k']) line('web_frame_p95_50k_100k_edges', by['50k'].interval_p95, 33.3, 'goal: 30 fps frame');
if (by['50k']) line('web_frame_cpu_50k_100k_edges', by['50k'].cpu_ms_per_frame, 33.3, 'goal: 30 fps frame');
if (by['10k_instanced']) line('web_frame_p95_10k_instanced', by['10k_instanced'].interval_p95, 16.7, 'goal: 60 fps frame');
if (by['10k_sync']) line('web_slider_to_frame_p95_10k', by['10k_sync'].slider.p95, 100, 'goal');
if (by['50k_sync']) line('web_slider_to_frame_p95_50k', by['50k_sync'].slider.p95, 100, 'goal');
