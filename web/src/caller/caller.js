// HELP 119 caller app: the panic button, location, type and severity, live status with the
// door handshake code, nearest AEDs, SMS fallback, offline first-aid guide.
import { t, addStrings, apply, wireSwitch, onLang, getLang } from '../shared/i18n.js';
import { api, E, ApiError } from '../shared/api.js';
import { connect } from '../shared/live.js';
import { renderGuide, stopGuide } from './guide.js';

const BASE = new URL('..', import.meta.url).pathname; // /app/<build>/
const $ = (id) => document.getElementById(id);
// Simple icons (inline SVG: no emoji font needed on the phone).
const ICON = {
  cardiac_arrest: 'M12 21l-1.5-1.3C5.4 15.1 2 12 2 8.3 2 5.3 4.3 3 7.3 3c1.7 0 3.4.8 4.7 2.1C13.3 3.8 15 3 16.7 3 19.7 3 22 5.3 22 8.3c0 3.7-3.4 6.8-8.5 11.4z',
  unconscious: 'M5 9.5a2.5 2.5 0 1 1 0 5 2.5 2.5 0 0 1 0-5zM9 10h13v4H9zM2 17h20v2H2z',
  breathing: 'M3 7h10a2 2 0 1 0-2-2H9a4 4 0 1 1 4 4H3zM3 11h15a3 3 0 1 1-3 3h2a1 1 0 1 0 1-1H3zM3 15h6v2H3z',
  choking: 'M12 2a4 4 0 1 1 0 8 4 4 0 0 1 0-8zM8 11h8v3H8zM6 15h12v7H6z',
  bleeding: 'M12 2C9 7 6 10.5 6 14a6 6 0 0 0 12 0c0-3.5-3-7-6-12z',
  trauma: 'M9 3h6v6h6v6h-6v6H9v-6H3V9h6z',
  stroke: 'M12 3a9 9 0 1 1 0 18 9 9 0 0 1 0-18zm-1 4v10h2V7z',
  seizure: 'M13 2L4 14h7l-1 8 9-12h-7z',
  burn: 'M12 2c1 4 5 6 5 11a5 5 0 0 1-10 0c0-2 1-3.5 2-4.5 0 2 1 3 2 3-1-3 0-6 1-9.5z',
  drowning: 'M2 15c2 0 2-2 4-2s2 2 4 2 2-2 4-2 2 2 4 2 2-2 4-2v3c-2 0-2 2-4 2s-2-2-4-2-2 2-4 2-2-2-4-2-2 2-4 2zM12 3a3 3 0 1 1 0 6 3 3 0 0 1 0-6z',
  childbirth: 'M12 3a3.5 3.5 0 1 1 0 7 3.5 3.5 0 0 1 0-7zM7 12h10l-1 9H8z',
  other: 'M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm-1 14v2h2v-2zm1-10a4 4 0 0 0-4 4h2a2 2 0 1 1 2 2h-1v3h2v-1.2A4 4 0 0 0 12 6z',
};
const TYPES = Object.keys(ICON);
const SMS_WORD = { cardiac_arrest: 'JANTUNG', unconscious: 'PINGSAN', breathing: 'SESAK', choking: 'TERSEDAK',
  bleeding: 'PENDARAHAN', trauma: 'KECELAKAAN', stroke: 'STROKE', seizure: 'KEJANG', burn: 'BAKAR',
  drowning: 'TENGGELAM', childbirth: 'MELAHIRKAN', other: 'LAIN' };

addStrings({
  id: {
    'nav.guide': 'Panduan P3K', 'home.title': 'Minta pertolongan darurat', 'panic.button': 'TOLONG!',
    'panic.help': 'Tekan untuk memanggil relawan terlatih terdekat.', 'call119': 'Telepon 119',
    'details.title': 'Apa yang terjadi?', 'details.type': 'Jenis keadaan darurat', 'details.severity': 'Seberapa parah?',
    'details.phone': 'Nomor HP Anda (agar relawan bisa menelepon)', 'details.desc': 'Keterangan (tidak wajib)',
    'details.send': 'KIRIM PERMINTAAN', 'details.back': 'Batal',
    'sev.critical.hint': 'tidak sadar / tidak bernapas', 'sev.urgent.hint': 'butuh bantuan segera', 'sev.normal.hint': 'sadar dan stabil',
    'loc.finding': 'Mencari lokasi Anda…', 'loc.found': 'Lokasi ditemukan (akurasi ±{m} m)',
    'loc.manual': 'Lokasi tidak tersedia. Tandai lokasi di peta atau tulis alamat.', 'loc.pick': 'Tandai di peta',
    'loc.map': 'Peta: ketuk untuk menandai lokasi', 'loc.address': 'Alamat / patokan', 'loc.pinned': 'Lokasi ditandai di peta',
    'loc.needed': 'Lokasi diperlukan: tandai di peta.', 'phone.needed': 'Isi nomor HP Anda.',
    'sms.send': 'Kirim SMS DARURAT', 'offline': 'Tidak ada koneksi data. Anda bisa mengirim SMS DARURAT atau menelepon 119.',
    'status.title': 'Bantuan sedang diatur', 'live.sent': 'Permintaan diterima. Mencari relawan…',
    'live.alerted': '{n} relawan dihubungi', 'live.accepted': 'Relawan menerima, {eta} menit lagi',
    'live.accepted_noeta': 'Relawan menerima dan sedang menuju Anda', 'live.more': '{n} relawan menuju lokasi',
    'live.arrived': 'Relawan sudah tiba', 'live.completed': 'Penanganan selesai. Semoga lekas pulih.',
    'live.cancelled': 'Permintaan dibatalkan.', 'esc.text': 'Kasus diteruskan ke PSC 119. Telepon 119 sekarang.',
    'code.title': 'Kode pintu', 'code.help': 'Tanyakan kode ini kepada relawan yang datang. Relawan asli tahu kodenya.',
    'aed.title': 'AED terdekat', 'aed.none': 'Tidak ada AED terdaftar dalam 1 km.', 'aed.m': '{m} m',
    'guide.open': 'Buka panduan pertolongan pertama', 'cancel.button': 'Batalkan permintaan',
    'cancel.confirm': 'Batalkan permintaan bantuan?', 'cancel.reason': 'dibatalkan oleh penelepon',
    'new.button': 'Permintaan baru',
  },
  en: {
    'nav.guide': 'First aid', 'home.title': 'Get emergency help', 'panic.button': 'HELP!',
    'panic.help': 'Press to call the nearest trained volunteers.', 'call119': 'Call 119',
    'details.title': 'What happened?', 'details.type': 'Type of emergency', 'details.severity': 'How serious?',
    'details.phone': 'Your phone number (so volunteers can call you)', 'details.desc': 'Details (optional)',
    'details.send': 'SEND REQUEST', 'details.back': 'Cancel',
    'sev.critical.hint': 'unconscious / not breathing', 'sev.urgent.hint': 'needs help fast', 'sev.normal.hint': 'awake and stable',
    'loc.finding': 'Finding your location…', 'loc.found': 'Location found (accuracy ±{m} m)',
    'loc.manual': 'Location unavailable. Mark it on the map or type the address.', 'loc.pick': 'Mark on the map',
    'loc.map': 'Map: tap to mark the location', 'loc.address': 'Address / landmark', 'loc.pinned': 'Location marked on the map',
    'loc.needed': 'A location is needed: mark it on the map.', 'phone.needed': 'Enter your phone number.',
    'sms.send': 'Send EMERGENCY SMS', 'offline': 'No data connection. You can send the DARURAT SMS or call 119.',
    'status.title': 'Help is being arranged', 'live.sent': 'Request received. Looking for volunteers…',
    'live.alerted': '{n} volunteers contacted', 'live.accepted': 'A volunteer accepted, {eta} minutes away',
    'live.accepted_noeta': 'A volunteer accepted and is on the way', 'live.more': '{n} volunteers on the way',
    'live.arrived': 'A volunteer has arrived', 'live.completed': 'Care completed. Get well soon.',
    'live.cancelled': 'Request cancelled.', 'esc.text': 'The case was handed to PSC 119. Call 119 now.',
    'code.title': 'Door code', 'code.help': 'Ask the volunteer who arrives for this code. A real volunteer knows it.',
    'aed.title': 'Nearest AEDs', 'aed.none': 'No AED registered within 1 km.', 'aed.m': '{m} m',
    'guide.open': 'Open the first-aid guide', 'cancel.button': 'Cancel the request',
    'cancel.confirm': 'Cancel the request for help?', 'cancel.reason': 'cancelled by the caller',
    'new.button': 'New request',
  },
});

const state = { type: null, severity: 'critical', pos: null, manual: null, live: null, caseId: null, token: null,
  view: null, last: null, config: { sms_number: null } };

function show(id) {
  for (const s of ['home', 'details', 'status', 'guide']) $(s).classList.toggle('hidden', s !== id);
  if (id !== 'guide') stopGuide();
}

function route() {
  if (location.hash === '#panduan') { show('guide'); renderGuide($('guide')); $('guide').querySelector('h1')?.focus(); return; }
  if (state.caseId) { show('status'); return; }
  show(state.view === 'details' ? 'details' : 'home');
}

function buttons() {
  $('types').replaceChildren(...TYPES.map((k) => {
    const b = document.createElement('button');
    b.type = 'button'; b.dataset.type = k; b.setAttribute('aria-pressed', String(state.type === k));
    b.innerHTML = `<svg class="ico" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" fill-rule="evenodd" d="${ICON[k]}"/></svg><span>${t('type.' + k)}</span>`;
    b.onclick = () => { state.type = k; buttons(); smsLink(); };
    return b;
  }));
  $('sevs').replaceChildren(...['critical', 'urgent', 'normal'].map((k) => {
    const b = document.createElement('button');
    b.type = 'button'; b.dataset.sev = k; b.setAttribute('aria-pressed', String(state.severity === k));
    b.innerHTML = `<span>${t('sev.' + k)}</span><small>${t('sev.' + k + '.hint')}</small>`;
    b.onclick = () => { state.severity = k; buttons(); };
    return b;
  }));
}

function locate() {
  const box = $('loc');
  if (state.pos) { box.textContent = t('loc.found', { m: Math.round(state.pos.accuracy) }); return; }
  box.textContent = t('loc.finding');
  if (!('geolocation' in navigator)) { manual(); return; }
  navigator.geolocation.getCurrentPosition((p) => {
    state.pos = { latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy: p.coords.accuracy };
    box.textContent = t('loc.found', { m: Math.round(p.coords.accuracy) });
    $('manual').classList.add('hidden');
    smsLink();
  }, () => manual(), { enableHighAccuracy: true, timeout: 10_000, maximumAge: 30_000 });
}

function manual() {
  $('loc').textContent = state.manual ? t('loc.pinned') : t('loc.manual');
  $('manual').classList.remove('hidden');
}

async function pickOnMap() {
  const el = $('pickmap');
  el.classList.remove('hidden');
  if (!window.L) {
    const css = document.createElement('link');
    css.rel = 'stylesheet'; css.href = `${BASE}leaflet/leaflet.css`; document.head.append(css);
    await new Promise((ok, bad) => {
      const s = document.createElement('script'); s.src = `${BASE}leaflet/leaflet.js`; s.onload = ok; s.onerror = bad;
      document.head.append(s);
    });
  }
  if (el._map) return;
  const L = window.L;
  const map = L.map(el).setView([-6.1754, 106.8272], 12);
  el._map = map;
  L.tileLayer(state.config.map_tile_url || 'https://tile.openstreetmap.org/{z}/{x}/{y}.png', { maxZoom: 19, attribution: '© OpenStreetMap' }).addTo(map);
  let marker = null;
  map.on('click', (e) => {
    state.manual = { latitude: e.latlng.lat, longitude: e.latlng.lng };
    if (marker) marker.setLatLng(e.latlng); else marker = L.circleMarker(e.latlng, { radius: 12, color: '#b3001b' }).addTo(map);
    $('loc').textContent = t('loc.pinned');
    smsLink();
  });
}

function where() { return state.pos || state.manual; }

function smsLink() {
  const p = where();
  const loc = p ? `${p.latitude.toFixed(5)},${p.longitude.toFixed(5)}` : '0,0';
  const desc = [$('desc').value.trim(), $('address').value.trim()].filter(Boolean).join(' / ');
  const body = `DARURAT 0 ${loc} ${SMS_WORD[state.type || 'other']} ${desc}`.trim();
  $('sms').href = `sms:${state.config.sms_number || ''}?body=${encodeURIComponent(body)}`;
}

function offline(on) {
  $('offline').textContent = t('offline');
  $('offline').classList.toggle('hidden', !on);
  $('sms').classList.toggle('hidden', !on);
  if (on) smsLink();
}

async function send(ev) {
  ev.preventDefault();
  $('send-err').textContent = ''; $('phone-err').textContent = '';
  const p = where();
  const phone = $('phone').value.trim();
  if (!p) { $('send-err').textContent = t('loc.needed'); manual(); return; }
  if (!phone) { $('phone-err').textContent = t('phone.needed'); $('phone').focus(); return; }
  try { localStorage.setItem('kreki.caller.phone', phone); } catch { /* private mode */ }
  const desc = [$('desc').value.trim(), $('address').value.trim()].filter(Boolean).join(' — ');
  const body = { latitude: p.latitude, longitude: p.longitude, severity: state.severity, type: state.type || 'other', caller_phone: phone };
  if (state.pos?.accuracy) body.accuracy_m = Math.min(100000, Math.round(state.pos.accuracy));
  if (desc) body.description = desc.slice(0, 1000);
  state.key ||= crypto.randomUUID();
  $('send').disabled = true;
  try {
    const res = await fetch(`${E}/panic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': state.key, 'accept-language': getLang() },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new ApiError(res.status, json?.error?.code, json?.message);
    const d = json.data;
    state.caseId = d.id; state.token = d.caller_token; state.code = d.handshake_code;
    sessionStorage.setItem('kreki.caller.case', JSON.stringify({ id: d.id, token: d.caller_token, code: d.handshake_code }));
    follow();
  } catch (e) {
    if (e.code === 'NETWORK' || !(e instanceof ApiError) || !navigator.onLine) offline(true);
    $('send-err').textContent = e instanceof ApiError && e.message && e.code !== 'NETWORK' ? e.message : t('err.network');
  } finally { $('send').disabled = false; }
}

function follow() {
  show('status');
  $('code').textContent = state.code || '';
  $('live').textContent = t('live.sent');
  $('status-h').focus?.();
  state.live?.close();
  state.live = connect({
    token: async () => state.token,
    onMessage: (m) => { if (m.type === 'case_update' && m.case_id === state.caseId) render(m); },
  });
  refresh();
  clearInterval(state.poll);
  state.poll = setInterval(refresh, 15_000);
}

async function refresh() {
  try {
    const c = await api('GET', `${E}/${state.caseId}`, undefined, { token: state.token });
    if (c.handshake_code) { state.code = c.handshake_code; $('code').textContent = c.handshake_code; }
    aeds(c.aeds || []);
    if (!state.last) render({ status: c.status, escalated: c.escalated, alerted: null, team: c.responders || [] });
    offline(false);
  } catch (e) {
    if (e.status === 404 || e.status === 401) { forget(); return; }
    if (e.code === 'NETWORK') offline(true);
  }
}

function aeds(list) {
  $('aeds').replaceChildren(...(list.length ? list.map((a) => {
    const li = document.createElement('li');
    const m = Math.round(a.distance_m ?? 0);
    li.innerHTML = `<strong></strong><br><span class="muted"></span> `;
    li.querySelector('strong').textContent = `${a.name} · ${t('aed.m', { m })}`;
    li.querySelector('span').textContent = a.address || '';
    const nav = document.createElement('a');
    nav.className = 'btn'; nav.textContent = '↗ Maps';
    nav.href = `https://www.google.com/maps/dir/?api=1&destination=${a.latitude},${a.longitude}`;
    nav.setAttribute('aria-label', `${a.name}: ${t('aed.title')} (Maps)`);
    li.append(nav);
    return li;
  }) : [Object.assign(document.createElement('li'), { textContent: t('aed.none') })]));
}

function render(m) {
  state.last = m;
  const team = m.team || [];
  const lead = team.find((r) => r.is_lead) || team[0];
  let text;
  if (m.status === 'completed') text = t('live.completed');
  else if (m.status === 'cancelled') text = t('live.cancelled');
  else if (team.some((r) => r.status !== 'accepted')) text = t('live.arrived');
  else if (lead) {
    text = lead.eta_minutes != null ? t('live.accepted', { eta: lead.eta_minutes }) : t('live.accepted_noeta');
    if (team.length > 1) text += ` · ${t('live.more', { n: team.length })}`;
  } else if (m.alerted) text = t('live.alerted', { n: m.alerted });
  else text = t('live.sent');
  $('live').textContent = text;
  $('escalated').classList.toggle('hidden', !m.escalated);
  const closed = m.status === 'completed' || m.status === 'cancelled';
  $('cancel').textContent = closed ? t('new.button') : t('cancel.button');
  $('cancel').dataset.closed = String(closed);
  if (closed) { clearInterval(state.poll); state.live?.close(); }
}

function forget() {
  sessionStorage.removeItem('kreki.caller.case');
  Object.assign(state, { caseId: null, token: null, code: null, last: null, key: null, view: null });
  clearInterval(state.poll); state.live?.close();
  show('home');
}

async function cancel() {
  if ($('cancel').dataset.closed === 'true') { forget(); return; }
  if (!confirm(t('cancel.confirm'))) return;
  try {
    await api('PUT', `${E}/${state.caseId}/cancel`, { reason: t('cancel.reason') }, { token: state.token });
    render({ ...(state.last || {}), status: 'cancelled' });
  } catch (e) { $('live').textContent = e.message || t('err.generic'); }
}

function init() {
  apply(); wireSwitch(); buttons();
  onLang(() => { buttons(); if (state.last) render(state.last); if (!$('details').classList.contains('hidden')) locate(); });
  try { $('phone').value = localStorage.getItem('kreki.caller.phone') || ''; } catch { /* */ }
  $('panic').onclick = () => { state.view = 'details'; show('details'); locate(); $('details-h').setAttribute('tabindex', '-1'); $('details-h').focus(); };
  $('back').onclick = () => { state.view = null; show('home'); };
  $('pick').onclick = () => pickOnMap().catch(() => {});
  $('panic-form').onsubmit = send;
  $('cancel').onclick = cancel;
  $('desc').oninput = smsLink; $('address').oninput = smsLink;
  $('status-h').setAttribute('tabindex', '-1');
  window.addEventListener('hashchange', route);
  window.addEventListener('offline', () => offline(true));
  window.addEventListener('online', () => offline(false));
  const saved = JSON.parse(sessionStorage.getItem('kreki.caller.case') || 'null');
  if (saved) { state.caseId = saved.id; state.token = saved.token; state.code = saved.code; follow(); }
  route();
  if (!navigator.onLine) offline(true);
  fetch('/app-config.json').then((r) => r.json()).then((c) => { state.config = c; smsLink(); }).catch(() => {});
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
}
init();
