// Build of the three browser apps into web/dist (served by the emergency service, see
// docs/web.md): plain ES modules copied under /app/<build id>/ (an id from the content, so
// those files are cached "immutable"), entry points and service workers with the id filled in.
// Leaflet is taken from node_modules (never copied into the repository).
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, 'src');
const out = join(root, 'dist');
const leaflet = join(root, 'node_modules', 'leaflet', 'dist');
if (!existsSync(join(leaflet, 'leaflet.js'))) {
  console.error('error: node_modules/leaflet missing: run `npm ci` in web/ first');
  process.exit(1);
}

const files = (dir) => readdirSync(dir).flatMap((f) => {
  const p = join(dir, f);
  return statSync(p).isDirectory() ? files(p) : [p];
});
const hash = createHash('sha256');
for (const f of [...files(src), join(leaflet, 'leaflet.js'), join(root, 'package-lock.json')].sort()) {
  if (existsSync(f)) hash.update(relative(root, f)).update(readFileSync(f));
}
const BUILD = hash.digest('hex').slice(0, 12);
const app = join(out, 'app', BUILD);

rmSync(out, { recursive: true, force: true });
mkdirSync(app, { recursive: true });
const ENTRY = new Set(['index.html', 'sw.js', 'manifest.webmanifest']);
for (const dir of ['shared', 'caller', 'relawan', 'ops']) {
  mkdirSync(join(app, dir), { recursive: true });
  for (const f of readdirSync(join(src, dir))) if (!ENTRY.has(f)) cpSync(join(src, dir, f), join(app, dir, f));
}
cpSync(join(src, 'icon.svg'), join(app, 'icon.svg'));
mkdirSync(join(app, 'leaflet'));
for (const f of ['leaflet.js', 'leaflet.css']) cpSync(join(leaflet, f), join(app, 'leaflet', f));
cpSync(join(leaflet, 'images'), join(app, 'leaflet', 'images'), { recursive: true });

const urls = (dirs) => dirs.flatMap((d) => files(join(app, d)).map((f) => `/app/${BUILD}/${relative(app, f)}`));
const fill = (text, assets) => text.replaceAll('%BUILD%', BUILD).replace('%ASSETS%', JSON.stringify(assets ?? []));
const entry = (from, to, assets) => {
  mkdirSync(dirname(to), { recursive: true });
  writeFileSync(to, fill(readFileSync(from, 'utf8'), assets));
};
const callerAssets = [...urls(['shared', 'caller']), `/app/${BUILD}/icon.svg`];
entry(join(src, 'caller/index.html'), join(out, 'index.html'));
entry(join(src, 'caller/sw.js'), join(out, 'sw.js'), callerAssets);
entry(join(src, 'caller/manifest.webmanifest'), join(out, 'manifest.webmanifest'));
const relawanAssets = [...urls(['shared', 'relawan']), `/app/${BUILD}/icon.svg`];
for (const f of ['index.html', 'sw.js', 'manifest.webmanifest']) {
  entry(join(src, 'relawan', f), join(out, 'relawan', f), relawanAssets);
}
entry(join(src, 'ops/index.html'), join(out, 'ops/index.html'));

// The caller app's first load: its page, styles, scripts (no map until a pin is needed).
const first = ['index.html', ...callerAssets.map((u) => u.slice(1))]
  .reduce((n, f) => n + statSync(join(out, f)).size, 0);
console.log(`web/dist built (build ${BUILD}); caller app first load ${(first / 1024).toFixed(1)} KiB uncompressed`);
