// Browser end-to-end tests of the three apps in Debian's Chromium (playwright-core, never a
// downloaded browser), against a `kreki up --demo --demo-sim off` of the given binary.
//   node web/tests/run.mjs target/debug/kreki
// Prints one line per test and, last, `N passed, N failed`; exits non-zero on any failure.
// Screenshots (360×640) of each main screen go to $CARGO_TARGET_DIR/web-screenshots (or
// target/web-screenshots).
import { spawn, execFileSync } from 'node:child_process';
import { createECDH, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(web, '..');
const binary = resolve(process.argv[2] || join(repo, 'target/debug/kreki'));
const shots = join(resolve(repo, process.env.CARGO_TARGET_DIR || 'target'), 'web-screenshots');
const PASSWORD = 'Demo-Kreki-119!';
const OPS_SEED = 'KREKIOPSADMINDEMOSEED234567ABCDE';
const MONAS = { latitude: -6.1754, longitude: 106.8272, accuracy: 12 };
const VIEW = { width: 360, height: 640 };
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

// ---- helpers ------------------------------------------------------------------------------
function totp(seed, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of seed.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
const freePort = () => new Promise((ok, bad) => {
  const s = createServer(); s.unref(); s.on('error', bad);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function assert(cond, msg) { if (!cond) throw new Error(msg); }
async function until(what, fn, ms = 20_000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

const results = [];
async function test(name, fn) {
  const t0 = Date.now();
  try { await fn(); results.push([name, null]); console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`); }
  catch (e) { results.push([name, e]); console.log(`FAIL ${name}: ${e.stack || e}`); }
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const axeFindings = [];
/** axe-core on the current screen: serious or critical violations fail the test. */
async function axe(page, screen) {
  const csp = await page.evaluate(() => window.__csp || []);
  assert(!csp.length, `CSP violations on ${screen}: ${csp.join(', ')}`);
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }));
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  axeFindings.push([screen, bad.length]);
  assert(!bad.length, `axe on ${screen}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
}
async function shot(page, name) { await page.screenshot({ path: join(shots, `${name}.png`) }); }

// ---- the server ---------------------------------------------------------------------------
if (!existsSync(binary)) { console.error(`error: ${binary} not found (cargo build --bin kreki)`); process.exit(2); }
if (!existsSync(join(web, 'dist/index.html'))) execFileSync(process.execPath, [join(web, 'build.mjs')], { stdio: 'inherit' });
mkdirSync(shots, { recursive: true });
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), 'kreki-web-test-'));
const server = spawn(binary, ['up', '--demo', '--demo-sim', 'off', '--port', String(port), '--data-dir', dataDir], {
  cwd: repo,
  env: { ...process.env, KREKI_EMERGENCY__WEB_DIR: join(web, 'dist'), KREKI_LOG__LEVEL: 'warn', KREKI_LOG__FORMAT: 'json',
    KREKI_NOTIFY__CONSOLE_FILE: join(dataDir, 'console.jsonl'),
    // The well-being check-in after a hard case is asked at once (default: two hours later).
    KREKI_EMERGENCY__WELLBEING_CHECKIN_AFTER_S: '0' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let serverErr = '';
server.stderr.on('data', (d) => { serverErr = (serverErr + d).slice(-4000); });
let browser;
const stop = async () => {
  await browser?.close().catch(() => {});
  if (server.exitCode === null) { server.kill('SIGTERM'); await Promise.race([new Promise((r) => server.once('exit', r)), sleep(10_000)]); }
  if (server.exitCode === null) server.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => stop().then(() => process.exit(130)));
const crash = (e) => {
  console.log(`FAIL runner: ${e?.stack || e}`);
  stop().finally(() => { console.log(`${results.filter(([, x]) => !x).length} passed, ${results.filter(([, x]) => x).length + 1} failed`); process.exit(1); });
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

try {
  await until('kreki up to be ready', async () => (await fetch(`${base}/readyz`)).ok, 90_000);
} catch (e) {
  console.log(`FAIL start: ${e.message}\n${serverErr}`);
  await stop();
  console.log('0 passed, 1 failed');
  process.exit(1);
}
browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });

async function context(extra = {}) {
  const ctx = await browser.newContext({ viewport: VIEW, baseURL: base, locale: 'id-ID', ...extra });
  // No map tiles or anything else from outside: the apps must work without them.
  await ctx.route((url) => url.origin !== base, (r) => r.abort());
  // Any Content-Security-Policy violation (an inline script or style slipped in) fails the screen's check.
  await ctx.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return ctx;
}
async function signIn(page, email, seed) {
  await page.waitForURL(/\/akun\/masuk/);
  await page.fill('#identifier', email);
  await page.fill('#password', PASSWORD);
  await page.press('#password', 'Enter');
  if (seed) {
    await page.waitForSelector('#code');
    await page.fill('#code', totp(seed));
    await page.press('#code', 'Enter');
  }
}

// The notify service's push endpoints (not on this branch) and the volunteers service's stats
// are intercepted; the browser's push service is stubbed in the page.
const vapid = createECDH('prime256v1'); vapid.generateKeys();
const VAPID_PUBLIC = vapid.getPublicKey().toString('base64url');
const PUSH_STUB = () => {
  const sub = {
    endpoint: 'https://push.invalid/kreki-e2e/1', expirationTime: null,
    toJSON() { return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: 'BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U', auth: 'tBHItJI5svbpez7KI4CCXg' } }; },
    unsubscribe: async () => true,
  };
  window.__pushKey = null;
  if (window.PushManager) {
    PushManager.prototype.getSubscription = async function getSubscription() { return null; };
    PushManager.prototype.subscribe = async function subscribe(opts) {
      window.__pushKey = Array.from(new Uint8Array(opts.applicationServerKey));
      window.__pushUserVisible = opts.userVisibleOnly;
      return sub;
    };
  }
};

// ---- the tests ----------------------------------------------------------------------------
const vol = await context({ geolocation: MONAS, permissions: ['geolocation', 'notifications'] });
await vol.addInitScript(PUSH_STUB);
const pushBodies = [];
await vol.route('**/api/notify/v1/push/key', (r) => r.fulfill({ status: 200, contentType: 'application/json',
  body: JSON.stringify({ success: true, message: 'OK', data: { public_key: VAPID_PUBLIC } }) }));
await vol.route('**/api/notify/v1/push/subscriptions', (r) => {
  pushBodies.push({ method: r.request().method(), auth: r.request().headers().authorization, body: r.request().postDataJSON() });
  return r.fulfill({ status: 201, contentType: 'application/json', body: JSON.stringify({ success: true, message: 'OK', data: {} }) });
});
let statsMode = 'ok';
await vol.route('**/api/volunteers/v1/me/stats', (r) => (statsMode === 'ok'
  ? r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ success: true, message: 'OK',
    data: { points: 15, badges: [{ code: 'first_response', awarded_at: '2026-11-30T10:00:00Z' }], cases: { accepted: 1, arrived: 1, resolved: 1, completed: 1 } } }) })
  : r.fulfill({ status: 404, contentType: 'application/json', body: '{"success":false,"message":"x","error":{"code":"NOT_FOUND"}}' })));
const vp = await vol.newPage();

await test('(c) a volunteer signs in through the KREKI ID login page', async () => {
  await vp.goto('/relawan/');
  await vp.waitForSelector('#signin');
  await shot(vp, 'relawan-signed-out');
  await axe(vp, 'relawan: signed out');
  await vp.click('#signin');
  await signIn(vp, 'relawan@demo.kreki.id');
  await vp.waitForURL(`${base}/relawan/`);
  assert(!vp.url().includes('code='), 'the code is removed from the address bar');
  await vp.waitForSelector('#home:not(.hidden)');
  const hello = await vp.textContent('#home-h');
  assert(hello.includes('Budi Relawan'), `greeting: ${hello}`);
  const stored = await vp.evaluate(() => JSON.stringify(localStorage));
  assert(stored.includes('access_token') && !vp.url().includes('token'), 'tokens in storage, never in the URL');
  // Points and badges from the volunteers service.
  await vp.waitForSelector('#stats .badges li');
  const stats = await vp.textContent('#stats');
  assert(stats.includes('15 poin') && stats.includes('Tanggap pertama'), `stats: ${stats}`);
});

let caseId = null, code = null;
const ops = await context();
const op = await ops.newPage();
const caller = await context({ geolocation: MONAS, permissions: ['geolocation'] });
const cp = await caller.newPage();

await test('opened from a push notification, the app acknowledges the message to notify', async () => {
  const acks = [];
  await vol.route('**/api/notify/v1/messages/*/ack', (r) => {
    acks.push({ url: new URL(r.request().url()).pathname, auth: r.request().headers().authorization });
    return r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ success: true, message: 'OK', data: { acknowledged: true } }) });
  });
  // The service worker opens /relawan/#ack=<message id> from the notification (the id never goes to the server in a URL).
  const np = await vol.newPage();
  const errors = [];
  np.on('pageerror', (e) => errors.push(e.message));
  await np.goto('/relawan/#ack=0193-push-msg-1');
  await until('the acknowledgement', async () => acks.length > 0, 10_000);
  assert(acks[0].url === '/api/notify/v1/messages/0193-push-msg-1/ack', acks[0].url);
  assert(acks[0].auth?.startsWith('Bearer '), 'signed in');
  assert(!(await np.evaluate(() => location.hash)), 'the fragment is cleared');
  assert(!errors.length, `page errors: ${errors.join('; ')}`);
  await np.close();
  await vol.unroute('**/api/notify/v1/messages/*/ack');
});

await test('(a) panic → offer → accept → handshake → arrived → resolved → completed, seen by caller and Ops', async () => {
  // The volunteer goes available: presence with the location, push subscription sent.
  await vp.click('#duty');
  await until('on duty', async () => (await vp.getAttribute('#duty', 'aria-pressed')) === 'true');
  const note = await vp.textContent('#duty-note');
  assert(/Lokasi Anda dikirim selama/.test(note), `duty note: ${note}`);
  await until('the push subscription', async () => pushBodies.length > 0);
  const sent = pushBodies[0];
  assert(sent.method === 'POST' && /^Bearer /.test(sent.auth), 'subscription POST with the bearer');
  assert(sent.body.endpoint === 'https://push.invalid/kreki-e2e/1' && sent.body.keys.p256dh && sent.body.keys.auth, `body: ${JSON.stringify(sent.body)}`);
  const key = await vp.evaluate(() => window.__pushKey);
  assert(Buffer.from(key).toString('base64url') === VAPID_PUBLIC, 'subscribed with the notify service\'s VAPID key');
  assert(await vp.evaluate(() => window.__pushUserVisible) === true, 'userVisibleOnly');
  await until('push note', async () => (await vp.textContent('#push-note')).includes('Notifikasi aktif'));
  await shot(vp, 'relawan-available');
  await axe(vp, 'relawan: available');

  // The dispatcher signs in with TOTP.
  await op.goto('/ops/');
  await op.waitForSelector('#signin');
  await shot(op, 'ops-signed-out');
  await axe(op, 'ops: signed out');
  await op.click('#signin');
  await signIn(op, 'ops@demo.kreki.id', OPS_SEED);
  await op.waitForURL(`${base}/ops/`);
  await op.waitForSelector('#console:not(.hidden)');
  await until('metrics', async () => (await op.textContent('#m-open')) !== '–');
  await sleep(1500); // the volunteer's position reaches the dispatch snapshot

  // The caller presses the panic button.
  const t0 = Date.now();
  await cp.goto('/');
  await cp.waitForSelector('#panic');
  await shot(cp, 'caller-home');
  await axe(cp, 'caller: home');
  await cp.click('#panic');
  await until('location', async () => (await cp.textContent('#loc')).includes('akurasi ±12 m'));
  assert(Date.now() - t0 < 10_000, 'panic screen quickly');
  await cp.click('[data-type="cardiac_arrest"]');
  await cp.fill('#phone', '081234567890');
  await shot(cp, 'caller-details');
  await axe(cp, 'caller: details');
  await cp.click('#send');
  await cp.waitForSelector('#status:not(.hidden)');
  code = (await cp.textContent('#code')).trim();
  assert(/^\d{4}$/.test(code), `handshake code: ${code}`);
  caseId = await cp.evaluate(() => JSON.parse(sessionStorage.getItem('kreki.caller.case')).id);
  await until('alerted count', async () => /relawan dihubungi/.test(await cp.textContent('#live')));
  await until('AEDs listed', async () => (await cp.locator('#aeds li').count()) > 0);
  await shot(cp, 'caller-status-alerted');
  await axe(cp, 'caller: status');

  // Ops sees it.
  await until('the case in the Ops list', async () => (await op.locator(`[data-case="${caseId}"]`).count()) === 1, 15_000);
  await until('the case marker on the map', async () => (await op.locator(`.case-${caseId}`).count()) === 1);
  assert((await op.locator('.aed-marker').count()) > 0, 'AED markers without tiles');
  await until('volunteers on duty near the case on the map', async () => (await op.locator('.vol-marker').count()) > 0);
  await op.click(`[data-case="${caseId}"]`);
  await until('timeline', async () => (await op.locator('#timeline li').count()) >= 2);
  await shot(op, 'ops-console');
  await op.setViewportSize({ width: 1280, height: 800 });
  await op.evaluate(() => window.scrollTo(0, 0));
  await sleep(300);
  await shot(op, 'ops-console-desktop');
  await op.setViewportSize(VIEW);
  await axe(op, 'ops: console');

  // The volunteer gets the offer, full screen, and accepts.
  await vp.waitForSelector('#offer:not(.hidden)', { timeout: 20_000 });
  const info = await vp.textContent('#offer-info');
  assert(info.includes('Henti jantung') && info.includes('Kritis'), `offer: ${info}`);
  assert(!(await vp.textContent('#offer')).includes(code), 'no handshake code before accepting');
  await shot(vp, 'relawan-offer');
  await axe(vp, 'relawan: offer');
  await vp.click('#accept');
  await vp.waitForSelector('#case:not(.hidden)');
  assert((await vp.textContent('#case-code')).trim() === code, 'the responder sees the same code after accepting');
  assert((await vp.getAttribute('#nav', 'href')).includes('-6.1754,106.8272'), 'navigation link to the patient');
  assert((await vp.textContent('#team')).includes('Anda (ketua)'), `team: ${await vp.textContent('#team')}`);

  // The caller sees the acceptance; Ops the move.
  await until('acceptance on the caller screen', async () => /Relawan menerima, \d+ menit lagi/.test(await cp.textContent('#live')));
  await shot(cp, 'caller-accepted');
  await until('Ops: assigned', async () => (await op.getAttribute(`[data-case="${caseId}"]`, 'data-status')) === 'assigned');
  await shot(vp, 'relawan-case');
  await axe(vp, 'relawan: case');

  await vp.click('[data-status="arrived"]');
  await until('caller: arrived', async () => /sudah tiba/.test(await cp.textContent('#live')));
  await until('Ops: responding', async () => (await op.getAttribute(`[data-case="${caseId}"]`, 'data-status')) === 'responding');
  await vp.click('[data-status="resolved"]');
  await vp.waitForSelector('#complete:not(.hidden)');
  await vp.click('[data-outcome="recovered_on_scene"]');
  await vp.fill('#hr', '88'); await vp.fill('#spo2', '97'); await vp.selectOption('#avpu', 'A');
  await vp.check('#cpr'); await vp.fill('#shocks', '1'); await vp.fill('#dx', 'Henti jantung, ROSC');
  await vp.fill('#page', '50'); await vp.selectOption('#psex', 'male');
  await shot(vp, 'relawan-complete-form');
  await axe(vp, 'relawan: completion form');
  await vp.click('#complete button[type="submit"]');
  await vp.waitForSelector('#home:not(.hidden)');
  assert((await vp.textContent('#msg')).includes('Kasus selesai'), 'completed');
  await until('history entry (server)', async () => /Henti jantung · Kritis · Pulih di tempat · ketua/.test(await vp.textContent('#history')));
  // The hard case (critical, CPR) asks how the volunteer is; the answer is stored once.
  await vp.waitForSelector('#checkin:not(.hidden)');
  assert((await vp.textContent('#wb-text')).includes('Henti jantung'), 'check-in names the case');
  await shot(vp, 'relawan-wellbeing');
  await axe(vp, 'relawan: well-being check-in');
  await vp.click('[data-answer="struggling"]');
  await until('check-in answered', async () => (await vp.textContent('#wb-done')).includes('Koordinator tim'));
  await vp.reload();
  await vp.waitForSelector('#home:not(.hidden)');
  await until('history after reload', async () => (await vp.textContent('#history')).includes('Henti jantung'));
  assert(await vp.locator('#checkin.hidden').count() === 1, 'not asked again');
  await until('caller: completed', async () => /Penanganan selesai/.test(await cp.textContent('#live')));
  await shot(cp, 'caller-completed');
  await until('Ops: case left the open list', async () => (await op.locator(`[data-case="${caseId}"]`).count()) === 0);
  await until('Ops metrics: today and median', async () => (await op.textContent('#m-today')) !== '0' && (await op.textContent('#m-accept')) !== '–');

  // The record reached the case as sent (read back over the API as Ops would).
  const opsToken = await op.evaluate(() => JSON.parse(sessionStorage.getItem('kreki.oidc.kreki-ops')).access_token);
  const tl = await (await fetch(`${base}/api/emergency/v1/${caseId}/timeline`, { headers: { authorization: `Bearer ${opsToken}` } })).json();
  const kinds = tl.data.map((e) => e.kind);
  for (const k of ['created', 'offer_sent', 'accepted', 'status_arrived', 'status_resolved', 'completed']) assert(kinds.includes(k), `timeline has ${k}: ${kinds}`);
  assert(tl.data.find((e) => e.kind === 'completed').data.outcome === 'recovered_on_scene', 'outcome recorded');
});

await test('volunteer stats endpoint missing → a quiet "not available"', async () => {
  statsMode = 'missing';
  await vp.reload();
  await until('not available', async () => (await vp.textContent('#stats')).includes('belum tersedia'));
  statsMode = 'ok';
});

await test('Ops offers a case to a named volunteer and escalates it to PSC 119; the caller is told to call 119', async () => {
  const c2 = await context({ geolocation: { latitude: -6.2615, longitude: 106.8106, accuracy: 30 }, permissions: ['geolocation'] });
  const p = await c2.newPage();
  await p.goto('/');
  await p.click('#panic');
  await until('location', async () => (await p.textContent('#loc')).includes('±30 m'));
  await p.click('[data-type="breathing"]'); await p.click('[data-sev="urgent"]');
  await p.fill('#phone', '081234567891');
  await p.click('#send');
  await p.waitForSelector('#status:not(.hidden)');
  const id = await p.evaluate(() => JSON.parse(sessionStorage.getItem('kreki.caller.case')).id);
  await until('Ops list', async () => (await op.locator(`[data-case="${id}"]`).count()) === 1, 15_000);
  await op.click(`[data-case="${id}"]`);
  // Manual offer to the demo volunteer (on duty at Monas, far from this case): they decline.
  const sub = await vp.evaluate(() => JSON.parse(atob(JSON.parse(localStorage.getItem('kreki.oidc.kreki-relawan')).id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub);
  await op.fill('#assign-id', sub);
  await op.click('#assign-form button[type="submit"]');
  await until('offer sent (Ops)', async () => (await op.textContent('#action-msg')).includes('Tawaran dikirim'));
  await vp.waitForSelector('#offer:not(.hidden)', { timeout: 10_000 });
  assert((await vp.textContent('#offer-info')).includes('Sesak napas'), 'the manually offered case');
  await vp.click('#decline');
  await vp.waitForSelector('#offer.hidden', { state: 'attached' });
  await until('declined in the timeline', async () => (await op.textContent('#timeline')).includes('Ditolak'));
  await op.fill('#esc-note', 'Sesak berat, minta ambulans');
  await op.click('#esc-form button[type="submit"]');
  await until('escalated (Ops)', async () => (await op.textContent('#action-msg')).includes('Diteruskan'));
  await until('escalated (caller)', async () => !(await p.locator('#escalated').getAttribute('class')).includes('hidden'));
  assert((await p.getAttribute('#escalated a', 'href')) === 'tel:119', 'the 119 number to call');
  await shot(p, 'caller-escalated');
  p.on('dialog', (d) => d.accept());
  await p.click('#cancel');
  await until('cancelled', async () => /dibatalkan/.test(await p.textContent('#live')));
  await c2.close();
});

await test('volunteer sign-out goes off duty, removes the push subscription and the tokens', async () => {
  await vp.goto('/relawan/');
  await vp.waitForSelector('#home:not(.hidden)');
  const before = pushBodies.length;
  await vp.click('#signout');
  await vp.waitForSelector('#out:not(.hidden)');
  const del = pushBodies.slice(before).find((b) => b.method === 'DELETE');
  assert(del && del.body.endpoint === 'https://push.invalid/kreki-e2e/1' && /^Bearer /.test(del.auth), `DELETE: ${JSON.stringify(pushBodies.slice(before))}`);
  assert(!(await vp.evaluate(() => JSON.stringify(localStorage))).includes('access_token'), 'tokens removed');
});

await test('(b) the first-aid guide opens with the network cut off after the first visit', async () => {
  const c3 = await context({ geolocation: MONAS, permissions: ['geolocation'] });
  const p = await c3.newPage();
  await p.goto('/');
  await p.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await until('controlled by the service worker', async () => p.evaluate(() => !!navigator.serviceWorker.controller));
  await c3.setOffline(true);
  await p.goto('/#panduan');
  await p.waitForSelector('#guide:not(.hidden) h1');
  assert((await p.textContent('#guide h1')).includes('Panduan pertolongan pertama'), 'guide title');
  await shot(p, 'caller-guide');
  await axe(p, 'caller: guide');
  await p.click('[data-go="breathing"]');
  await p.click('[data-go="cpr"]');
  await p.click('#metro');
  await until('metronome beats', async () => /Kompresi: ([3-9]|\d\d)/.test(await p.textContent('#count')), 5_000);
  const n1 = Number((await p.textContent('#count')).match(/\d+/)[0]);
  await sleep(2000);
  const n2 = Number((await p.textContent('#count')).match(/\d+/)[0]);
  const rate = ((n2 - n1) / 2) * 60;
  assert(rate >= 90 && rate <= 135, `metronome ${rate}/min (100–120 expected)`);
  await shot(p, 'caller-guide-cpr');
  await axe(p, 'caller: CPR');
  await p.click('#metro');
  // Offline, the panic screen offers the DARURAT SMS pre-filled.
  await p.goto('/');
  await p.click('#panic');
  await p.click('[data-type="choking"]');
  await p.fill('#phone', '081234567892');
  await p.click('#send');
  await p.waitForSelector('#sms:not(.hidden)');
  const href = decodeURIComponent(await p.getAttribute('#sms', 'href'));
  assert(/^sms:[^?]*\?body=DARURAT 0 -6\.17540,106\.82720 TERSEDAK$/.test(href), `sms link: ${href}`);
  await shot(p, 'caller-offline-sms');
  await c3.close();
});

await test('(d) the language switch: English on each app, remembered', async () => {
  const c4 = await context();
  const p = await c4.newPage();
  await p.goto('/');
  assert((await p.textContent('#panic')).includes('TOLONG!'), 'Bahasa Indonesia by default');
  await p.click('[data-lang-switch]');
  assert((await p.textContent('#panic')).includes('HELP!'), 'English');
  assert(await p.getAttribute('html', 'lang') === 'en', 'html lang');
  await p.reload();
  assert((await p.textContent('#panic')).includes('HELP!'), 'remembered');
  await shot(p, 'caller-home-en');
  await axe(p, 'caller: home (en)');
  await p.goto('/relawan/');
  assert((await p.textContent('#signin')).includes('Sign in with KREKI ID'), 'volunteer app in English');
  await p.goto('/ops/');
  assert((await p.textContent('#out-h')).includes('dispatcher console'), 'Ops console in English');
  await p.click('[data-lang-switch]');
  assert((await p.textContent('#out-h')).includes('Konsol dispatcher'), 'back to Bahasa Indonesia');
  await c4.close();
});

await test('caller app first load is under 200 KB transferred', async () => {
  const c5 = await context();
  const p = await c5.newPage();
  let bytes = 0;
  const cdp = await c5.newCDPSession(p);
  await cdp.send('Network.enable');
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  await p.goto('/', { waitUntil: 'networkidle' });
  await sleep(500);
  console.log(`     caller app first load: ${(bytes / 1024).toFixed(1)} KiB transferred (service worker precache included)`);
  assert(bytes > 0 && bytes < 200 * 1024, `${bytes} bytes`);
  await c5.close();
});

// ---- LMS pages (/belajar/, served by the lms service) ------------------------------------
// The answer key of the seeded question bank, read from the seed in the repository (what a
// learner who studied the lessons knows): Indonesian question text → correct option id.
function answerKey() {
  // One file per seeded course (crates/lms/service/src/domain/).
  const dir = join(repo, 'crates/lms/service/src/domain');
  const src = readdirSync(dir)
    .filter((f) => f.endsWith('.rs'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  const key = new Map();
  const re = /\bq\(\s*\(\s*"((?:[^"\\]|\\.)*)",\s*"(?:[^"\\]|\\.)*",?\s*\),\s*&\[[\s\S]*?\],\s*"([a-z0-9_]+)",?\s*\)/g;
  for (const m of src.matchAll(re)) key.set(m[1], m[2]);
  assert(key.size >= 10, `answer key: only ${key.size} questions found`);
  return key;
}

await test('(lms) enrol, lessons, post-test, instructor sign-off, certificate PDF and its public verification page', async () => {
  const key = answerKey();
  const cl = await context();
  const p = await cl.newPage();
  await p.goto('/belajar/');
  assert(await p.locator('[data-course]').count() === 3, 'three BHD courses, public');
  await shot(p, 'belajar-courses');
  await axe(p, 'belajar: courses');
  await p.click('#login');
  await signIn(p, 'warga@demo.kreki.id');
  await p.waitForURL((u) => u.pathname === '/belajar/');
  assert(await p.locator('#logout').count() === 1, 'signed in');
  const basic = p.locator('[data-course] a').first();
  await basic.click();
  await p.fill('#enroll-name', 'Siti Warga Demo');
  await p.click('#enroll-submit');
  await p.waitForSelector('[id^="complete-"]');
  await shot(p, 'belajar-course');
  await axe(p, 'belajar: course and lessons');
  for (let i = 0; i < 60; i += 1) {
    const next = p.locator('[id^="complete-"]').first();
    if (await next.count() === 0) break;
    await next.click();
    await p.waitForLoadState();
  }
  assert(await p.locator('[id^="complete-"]').count() === 0, 'every lesson marked done');
  const post = p.locator('a[id^="quiz-"]', { hasText: 'Post-test' });
  await post.click();
  await p.click('#quiz-start');
  await p.waitForSelector('#quiz-form');
  await axe(p, 'belajar: quiz');
  await shot(p, 'belajar-quiz');
  const sets = p.locator('#quiz-form fieldset[id^="q-"]');
  const n = await sets.count();
  assert(n > 0, 'questions shown');
  for (let i = 0; i < n; i += 1) {
    const fs = sets.nth(i);
    const qid = (await fs.getAttribute('id')).slice(2);
    const legend = (await fs.locator('legend').textContent()).replace(/^\s*\d+\.\s*/, '').trim();
    const correct = key.get(legend);
    assert(correct, `no answer for "${legend}"`);
    await p.check(`#q-${qid}-${correct}`);
  }
  await p.click('#quiz-submit');
  await p.waitForSelector('#quiz-result');
  assert(await p.getAttribute('#quiz-result', 'data-passed') === 'true', `post-test passed (${await p.getAttribute('#quiz-result', 'data-percent')} %)`);
  await axe(p, 'belajar: quiz result');

  // The training admin signs the practical off, in person, on the instructor page.
  const ci = await context();
  const ip = await ci.newPage();
  await ip.goto('/belajar/');
  await ip.click('#login');
  await signIn(ip, 'pelatihan@demo.kreki.id', 'KREKITRAININGADMINDEMOSEED234567');
  await ip.waitForURL((u) => u.pathname === '/belajar/');
  await ip.goto('/belajar/instruktur');
  const form = ip.locator('details[data-pending="true"] form.signoff').first();
  await form.waitFor();
  await shot(ip, 'belajar-instructor');
  await axe(ip, 'belajar: instructor dashboard');
  for (const box of await form.locator('input[type="checkbox"]').all()) await box.check();
  await form.locator('input[name="instructor_name"]').fill('Instruktur Demo');
  await form.locator('input[name="location"]').fill('Puskesmas Gambir, Jakarta Pusat');
  await form.locator('button[type="submit"]').click();
  await ip.waitForSelector('#signoff-done');
  await ci.close();

  // The learner's certificate: listed, PDF, public verification page says valid.
  await p.goto('/belajar/sertifikat');
  const row = p.locator('[data-certificate]').first();
  await row.waitFor();
  const id = await row.getAttribute('data-certificate');
  assert(/^BHD-BASIC-\d{4}-\d{4}-[0-9A-HJKMNP-TV-Z]{16}$/.test(id), `certificate id ${id} (register number and unguessable part)`);
  await shot(p, 'belajar-certificates');
  await axe(p, 'belajar: my certificates');
  // The download link, fetched with the learner's session (the page's CSP allows no script fetches).
  const res = await cl.request.get(`/belajar/sertifikat/${id}/pdf`);
  const bytes = await res.body();
  const pdf = { type: res.headers()['content-type'] || '', head: bytes.subarray(0, 5).toString('latin1'), size: bytes.length };
  assert(pdf.type.startsWith('application/pdf') && pdf.head === '%PDF-' && pdf.size > 1000, `PDF download: ${JSON.stringify(pdf)}`);
  const pub = await context();
  const vp2 = await pub.newPage();
  await vp2.goto(`/verify/${id}`);
  assert(await vp2.getAttribute('#cert-status', 'data-status') === 'valid', 'verification page: valid');
  await shot(vp2, 'verify-valid');
  await axe(vp2, 'verify: valid');
  const unknown = await vp2.goto('/verify/BHD-BASIC-2026-9999');
  assert(unknown.status() === 404, 'unknown id: 404 page');
  await vp2.click('#lang-switch');
  assert((await vp2.textContent('body')).match(/not found|unknown/i), 'English 404 page');
  await pub.close();
  // Language switch on the learner pages, remembered.
  await p.goto('/belajar/');
  await p.click('#lang-switch');
  await p.goto('/belajar/');
  assert(await p.getAttribute('html', 'lang') === 'en', 'English, remembered');
  await cl.close();
});

await stop();
const failed = results.filter(([, e]) => e).length;
console.log(`axe: ${axeFindings.map(([s, n]) => `${s}=${n}`).join(', ')}`);
console.log(`screenshots: ${shots}`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
