// Bundles the web view into dist/ (index.html, app.js, style.css): three.js
// and everything else in one file, so that the page works offline. Run by
// scripts/web (and `npm run build`); voidd serves dist/ at / (docs/web.md).
//
// Usage: node build.mjs [--watch] [--out DIR]
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  console.log('usage: node build.mjs [--watch] [--out DIR]   (default DIR: web/dist)');
  process.exit(0);
}
const outIdx = args.indexOf('--out');
const out = outIdx >= 0 ? args[outIdx + 1] : join(here, 'dist');
mkdirSync(out, { recursive: true });
for (const f of ['index.html', 'style.css']) {
  copyFileSync(join(here, 'src', f), join(out, f));
}
const options = {
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['es2020'],
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
};
if (args.includes('--watch')) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`web: watching, writing ${out}`);
} else {
  await esbuild.build(options);
  console.log(`web: built ${out}`);
}
