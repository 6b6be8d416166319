// Shared by the browser tests and the frame bench: launches Debian's
// chromium headless through playwright-core (from web/node_modules), with
// WebGL on SwiftShader (the software renderer; DESIGN.md section 10) and no
// background networking (this machine has no network but loopback).
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.env.VOID_SOURCE_DIR || join(here, '..', '..');
const require = createRequire(join(src, 'web', 'package.json'));
const { chromium } = require('playwright-core');

export const CHROMIUM = process.env.VOID_CHROMIUM || '/usr/bin/chromium';

export async function launch({ args = [] } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'void-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--ignore-gpu-blocklist', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-features=Translate,MediaRouter',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding', ...args],
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
