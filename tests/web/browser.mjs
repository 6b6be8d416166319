// Shared by the browser tests and the frame bench: launches Debian's
// chromium headless through playwright-core (from web/node_modules), with
// WebGL on SwiftShader (the software renderer; DESIGN.md section 10) and no
// background networking (this machine has no network but loopback).
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.env.VOID_SOURCE_DIR || join(here, '..', '..');
const require = createRequire(join(src, 'web', 'package.json'));
const { chromium } = require('playwright-core');

export const CHROMIUM = process.env.VOID_CHROMIUM || '/usr/bin/chromium';

// The page is composited in software (--disable-gpu-compositing), what
// chromium does on a machine with no GPU, unless gpuCompositing: compositing
// it on SwiftShader as well costs about 13 ms more a frame (docs/web.md,
// "Frame times").
export async function launch({ args = [], gpuCompositing = false } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'void-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--ignore-gpu-blocklist', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-features=Translate,MediaRouter',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      ...(gpuCompositing ? [] : ['--disable-gpu-compositing']), ...args],
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close, profile, cpuMs: () => cpuMs(profile) };
}

// CPU time (user + system, ms) used so far by the browser's processes (those
// started with this profile): what a frame costs on a machine shared with
// others, whatever its load.
export function cpuMs(profile) {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch (e) {
      // gone meanwhile
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

// Serves the files of dist (the web view's bundle) on a free loopback port
// below the kernel's ephemeral range (tests/cluster/lib.sh's rule); resolves
// to { server, port }, or exits naming who asked when no port is free.
export async function serveDir(dist, who) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = join(dist, path === '/' ? 'index.html' : path.replace(/\.\./g, ''));
    if (!existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  let port = 0;
  for (let tries = 0; tries < 50 && !port; tries++) {
    const p = 20000 + Math.floor(Math.random() * 9000);
    port = await new Promise((res) => {
      server.once('error', () => res(0));
      server.listen(p, '127.0.0.1', () => res(p));
    });
  }
  if (!port) { console.error(`${who}: no free port`); process.exit(1); }
  return { server, port };
}
