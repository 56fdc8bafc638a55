// HELP 119 dispatcher console (Ops Admin): live map (cases, responders, AEDs), open cases by
// severity and age, timeline, manual offer, escalation to PSC 119, metrics strip.
import { t, addStrings, apply, wireSwitch, onLang } from '../shared/i18n.js';
import { api, useToken, E } from '../shared/api.js';
import { Session } from '../shared/oidc.js';
import { connect } from '../shared/live.js';

const $ = (id) => document.getElementById(id);
const session = new Session('kreki-ops', '/ops/', sessionStorage);
useToken(() => session.accessToken(), () => session.refresh());
const SEV_COLOR = { critical: '#b3001b', urgent: '#8a4b00', normal: '#0b4f9c' };

addStrings({
  id: {
    'app.name': 'Konsol Ops', 'app.title': 'Konsol dispatcher', 'out.title': 'Konsol dispatcher HELP 119',
    'out.text': 'Khusus Admin Ops (dengan verifikasi dua langkah).', 'metrics.label': 'Metrik hari ini',
    'metrics.open': 'kasus terbuka', 'metrics.today': 'kasus hari ini', 'metrics.accept': 'median waktu diterima (hari ini)',
    'map.label': 'Peta kasus, relawan, dan AED', 'list.title': 'Kasus terbuka', 'list.none': 'Tidak ada kasus terbuka.',
    'case.row': '{sev} · {type} · {age} · {status}', 'case.resp': '{n} relawan', 'case.esc': 'PSC 119',
    'age.s': '{n} dtk', 'age.m': '{n} mnt', 'age.h': '{n} jam',
    'team.title': 'Tim', 'team.none': 'Belum ada relawan.', 'team.lead': 'ketua', 'tl.title': 'Linimasa',
    'assign.label': 'Tawarkan ke relawan (ID)', 'assign.button': 'Tawarkan', 'assign.done': 'Tawaran dikirim.',
    'esc.label': 'Catatan untuk PSC 119', 'esc.button': 'Teruskan ke PSC 119', 'esc.done': 'Diteruskan ke PSC 119.',
    'esc.need': 'Tulis catatan singkat.', 'live.on': 'Langsung', 'live.off': 'Terputus',
    'forbidden': 'Akun ini bukan Admin Ops.', 'detail.info': 'Dibuat {at} · {status}{esc}',
    'tl.created': 'Permintaan dibuat', 'tl.offer_sent': 'Tawaran dikirim', 'tl.accepted': 'Diterima', 'tl.offer_declined': 'Ditolak',
    'tl.status_arrived': 'Tiba', 'tl.status_intervention': 'Menangani', 'tl.status_escalating': 'Meminta PSC 119',
    'tl.status_resolved': 'Teratasi', 'tl.completed': 'Selesai', 'tl.cancelled': 'Dibatalkan', 'tl.escalated': 'Diteruskan ke PSC 119',
    'tl.wave_widened': 'Radius diperluas', 'tl.ops_note': 'Catatan Ops', 'tl.ops_offer': 'Ditawarkan oleh Ops',
    'legend.case': 'Kasus (merah: kritis, oranye: mendesak, biru: biasa)', 'legend.vol': 'Relawan bertugas', 'legend.resp': 'Relawan menangani', 'legend.aed': 'AED',
    'marker.case': 'Kasus {type}', 'marker.vol': 'Relawan bertugas', 'marker.responder': 'Relawan menangani kasus', 'marker.aed': 'AED: {name}',
    'outbox.alarm': 'Bus pesan terputus: notifikasi dan eskalasi PSC 119 untuk {n} kasus masih menunggu. Teruskan lewat telepon: {cases}',
    'outbox.case': '{id} ({m} pesan{esc})', 'outbox.esc': ', eskalasi PSC 119',
  },
  en: {
    'app.name': 'Ops console', 'app.title': 'Dispatcher console', 'out.title': 'HELP 119 dispatcher console',
    'out.text': 'For Ops Admins only (with two-step verification).', 'metrics.label': 'Today\'s metrics',
    'metrics.open': 'open cases', 'metrics.today': 'cases today', 'metrics.accept': 'median time to first accept (today)',
    'map.label': 'Map of cases, volunteers and AEDs', 'list.title': 'Open cases', 'list.none': 'No open cases.',
    'case.row': '{sev} · {type} · {age} · {status}', 'case.resp': '{n} volunteers', 'case.esc': 'PSC 119',
    'age.s': '{n} s', 'age.m': '{n} min', 'age.h': '{n} h',
    'team.title': 'Team', 'team.none': 'No volunteer yet.', 'team.lead': 'lead', 'tl.title': 'Timeline',
    'assign.label': 'Offer to a volunteer (id)', 'assign.button': 'Offer', 'assign.done': 'Offer sent.',
    'esc.label': 'Note for PSC 119', 'esc.button': 'Hand to PSC 119', 'esc.done': 'Handed to PSC 119.',
    'esc.need': 'Write a short note.', 'live.on': 'Live', 'live.off': 'Disconnected',
    'forbidden': 'This account is not an Ops Admin.', 'detail.info': 'Created {at} · {status}{esc}',
    'tl.created': 'Request created', 'tl.offer_sent': 'Offer sent', 'tl.accepted': 'Accepted', 'tl.offer_declined': 'Declined',
    'tl.status_arrived': 'Arrived', 'tl.status_intervention': 'Treating', 'tl.status_escalating': 'Asked for PSC 119',
    'tl.status_resolved': 'Resolved', 'tl.completed': 'Completed', 'tl.cancelled': 'Cancelled', 'tl.escalated': 'Handed to PSC 119',
    'tl.wave_widened': 'Radius widened', 'tl.ops_note': 'Ops note', 'tl.ops_offer': 'Offered by Ops',
    'legend.case': 'Case (red: critical, orange: urgent, blue: normal)', 'legend.vol': 'Volunteer on duty', 'legend.resp': 'Volunteer responding', 'legend.aed': 'AED',
    'marker.case': 'Case {type}', 'marker.vol': 'Volunteer on duty', 'marker.responder': 'Volunteer responding', 'marker.aed': 'AED: {name}',
    'outbox.alarm': 'Message bus down: notifications and PSC 119 escalations for {n} cases are waiting. Phone them through: {cases}',
    'outbox.case': '{id} ({m} messages{esc})', 'outbox.esc': ', PSC 119 escalation',
  },
});

const st = { cases: [], selected: null, map: null, layers: null, markers: new Map(), vols: new Map(), aeds: new Map(), timer: null, pending: null };

function banner(text, kind = 'warn') { const m = $('msg'); m.textContent = text || ''; m.className = `banner ${kind}`; m.classList.toggle('hidden', !text); }
function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return t('age.s', { n: s });
  if (s < 5400) return t('age.m', { n: Math.round(s / 60) });
  return t('age.h', { n: Math.round(s / 3600) });
}

function initMap(tileUrl) {
  const L = window.L;
  if (!L) return;
  st.map = L.map('map', { preferCanvas: false }).setView([-6.2088, 106.8456], 11);
  L.tileLayer(tileUrl, { maxZoom: 19, attribution: '© OpenStreetMap' }).addTo(st.map);
  st.layers = { cases: L.layerGroup().addTo(st.map), vols: L.layerGroup().addTo(st.map), aeds: L.layerGroup().addTo(st.map) };
  st.map.on('moveend', () => aedsNear(st.map.getCenter()));
}
function caseMarkers() {
  if (!st.map) return;
  const L = window.L, seen = new Set();
  for (const c of st.cases) {
    seen.add(c.id);
    const opts = { radius: 11, color: '#1a1a1a', weight: 2, fillColor: SEV_COLOR[c.severity], fillOpacity: 0.9, className: `case-marker case-${c.id}` };
    let m = st.markers.get(c.id);
    if (!m) { m = L.circleMarker([c.latitude, c.longitude], opts).addTo(st.layers.cases); m.on('click', () => select(c.id)); st.markers.set(c.id, m); }
    m.setStyle(opts);
    m.bindTooltip(`${t('marker.case', { type: t('type.' + c.type) })} · ${t('status.' + c.status)}`);
  }
  for (const [id, m] of st.markers) if (!seen.has(id)) { m.remove(); st.markers.delete(id); }
}
function volunteerAt(id, lat, lng, responding) {
  if (!st.map) return;
  const L = window.L;
  let m = st.vols.get(id);
  if (m) m.setLatLng([lat, lng]);
  else { m = L.circleMarker([lat, lng], { radius: 6, color: '#fff', weight: 2, fillColor: '#0b6b2e', fillOpacity: 1, className: 'vol-marker' }).addTo(st.layers.vols); st.vols.set(id, m); }
  if (responding !== undefined) {
    m.setStyle({ radius: responding ? 9 : 6, fillColor: responding ? '#0b4f9c' : '#0b6b2e' });
    m.bindTooltip(responding ? t('marker.responder') : t('marker.vol'));
  }
}
/** On-duty volunteers around the open cases (the most severe ten), moved at each refresh. */
async function responders() {
  if (!st.map) return;
  const seen = new Set();
  const team = new Set(st.cases.flatMap((c) => c.responders.map((r) => r.volunteer_id)));
  for (const c of st.cases.slice(0, 10)) {
    try {
      const near = await api('GET', `${E}/nearby?latitude=${c.latitude}&longitude=${c.longitude}&radius=3000`);
      for (const v of near.slice(0, 50)) { seen.add(v.volunteer_id); volunteerAt(v.volunteer_id, v.latitude, v.longitude, team.has(v.volunteer_id)); }
    } catch { /* kept */ }
  }
  for (const [id, m] of st.vols) if (!seen.has(id) && !team.has(id)) { m.remove(); st.vols.delete(id); }
  for (const m of st.markers.values()) m.bringToFront();
}
async function aedsNear(p) {
  if (!st.map) return;
  try {
    const list = await api('POST', `${E}/aeds/nearest`, { latitude: p.lat ?? p.latitude, longitude: p.lng ?? p.longitude, radius_m: 5000, limit: 10 });
    const L = window.L;
    for (const a of list) {
      if (st.aeds.has(a.id)) continue;
      const m = L.circleMarker([a.latitude, a.longitude], { radius: 6, color: '#1a1a1a', weight: 1, fillColor: '#ffbf00', fillOpacity: 1, className: 'aed-marker' }).addTo(st.layers.aeds);
      m.bindTooltip(t('marker.aed', { name: a.name })); st.aeds.set(a.id, m);
    }
  } catch { /* the map keeps what it has */ }
}

async function refresh() {
  try {
    const [cases, stats] = await Promise.all([api('GET', `${E}/active`), api('GET', `${E}/stats`)]);
    st.cases = cases;
    $('m-open').textContent = String(stats.open_cases);
    $('m-today').textContent = String(stats.cases_today);
    const m = stats.median_first_accept_s_today;
    $('m-accept').textContent = m == null ? '–' : (m < 90 ? t('age.s', { n: Math.round(m) }) : t('age.m', { n: Math.round(m / 60) }));
    list(); caseMarkers(); responders();
    if (st.selected) detail(st.selected, false);
    banner(null);
    outboxAlarm();
  } catch (e) { banner(e.status === 403 ? t('forbidden') : (e.message || t('err.network')), e.status === 403 ? 'bad' : 'warn'); }
}
// While the bus is away, the cases whose push messages and PSC 119 escalations wait in the
// outbox (GET /ops/outbox): Ops phones them through.
async function outboxAlarm() {
  const el = $('outbox-alarm');
  try {
    const a = await api('GET', `${E}/ops/outbox`);
    if (!a.alarm) { el.classList.add('hidden'); el.textContent = ''; return; }
    const cases = a.cases.map((c) => t('outbox.case', { id: c.case_id.slice(0, 8), m: c.messages_waiting, esc: c.escalation_waiting ? t('outbox.esc') : '' })).join('; ');
    el.textContent = t('outbox.alarm', { n: a.cases.length, cases });
    el.classList.remove('hidden');
  } catch { /* the other banner says what failed */ }
}
function soon() { clearTimeout(st.pending); st.pending = setTimeout(refresh, 300); }

function list() {
  if (!st.cases.length) { $('cases').replaceChildren(Object.assign(document.createElement('li'), { textContent: t('list.none') })); return; }
  $('cases').replaceChildren(...st.cases.map((c) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button'; b.dataset.case = c.id; b.dataset.status = c.status;
    b.setAttribute('aria-current', String(st.selected === c.id));
    const sev = document.createElement('span'); sev.className = `sev sev-${c.severity}`; sev.textContent = t('sev.' + c.severity);
    const rest = document.createElement('span');
    rest.className = 'case-status';
    rest.textContent = `${t('type.' + c.type)} · ${age(c.created_at)} · ${t('status.' + c.status)} · ${t('case.resp', { n: c.responders.length })}${c.escalated ? ' · ' + t('case.esc') : ''}`;
    b.append(sev, rest);
    b.onclick = () => select(c.id);
    li.append(b);
    return li;
  }));
}
function select(id) {
  st.selected = id; list(); detail(id, true);
  const c = st.cases.find((x) => x.id === id);
  if (c && st.map) { st.map.setView([c.latitude, c.longitude], 15); aedsNear(c); }
}
async function detail(id, focus) {
  const c = st.cases.find((x) => x.id === id);
  if (!c) { $('detail').classList.add('hidden'); st.selected = null; return; }
  $('detail').classList.remove('hidden');
  $('detail-h').textContent = `${t('sev.' + c.severity)} · ${t('type.' + c.type)}`;
  $('detail-info').textContent = t('detail.info', { at: new Date(c.created_at).toLocaleTimeString(document.documentElement.lang), status: t('status.' + c.status), esc: c.escalated ? ' · ' + t('case.esc') : '' })
    + (c.description ? ` — ${c.description}` : '');
  $('detail-team').replaceChildren(...(c.responders.length ? c.responders.map((r) => Object.assign(document.createElement('li'), {
    textContent: `${r.volunteer_id}${r.is_lead ? ` (${t('team.lead')})` : ''} · ${t('rs.' + r.status)}${r.eta_minutes != null ? ` · ETA ${r.eta_minutes}` : ''}`,
  })) : [Object.assign(document.createElement('li'), { textContent: t('team.none') })]));
  if (focus) $('detail-h').focus();
  try {
    const tl = await api('GET', `${E}/${id}/timeline`);
    $('timeline').replaceChildren(...tl.map((e) => Object.assign(document.createElement('li'), {
      textContent: `${new Date(e.at).toLocaleTimeString(document.documentElement.lang)} ${t('tl.' + e.kind) === 'tl.' + e.kind ? e.kind : t('tl.' + e.kind)}${e.actor ? ` · ${e.actor}` : ''}`,
    })));
  } catch { /* kept */ }
  try {
    const near = await api('GET', `${E}/nearby?latitude=${c.latitude}&longitude=${c.longitude}&radius=3000`);
    $('nearby-list').replaceChildren(...near.filter((v) => v.dispatchable).slice(0, 20).map((v) => Object.assign(document.createElement('option'), { value: v.volunteer_id, label: `${Math.round(v.distance_m)} m` })));
  } catch { /* optional */ }
}
async function escalate(ev) {
  ev.preventDefault();
  const note = $('esc-note').value.trim();
  if (!note) { $('action-msg').textContent = t('esc.need'); $('esc-note').focus(); return; }
  try { await api('PUT', `${E}/${st.selected}/escalate`, { note }); $('action-msg').textContent = t('esc.done'); $('esc-note').value = ''; soon(); }
  catch (e) { $('action-msg').textContent = e.message || t('err.generic'); }
}
async function assign(ev) {
  ev.preventDefault();
  const volunteer_id = $('assign-id').value.trim();
  if (!volunteer_id) { $('assign-id').focus(); return; }
  try { await api('PUT', `${E}/${st.selected}/offer`, { volunteer_id }); $('action-msg').textContent = t('assign.done'); soon(); }
  catch (e) { $('action-msg').textContent = e.message || t('err.generic'); }
}

async function init() {
  apply(); wireSwitch();
  onLang(() => { list(); caseMarkers(); if (st.selected) detail(st.selected, false); });
  $('signin').onclick = () => session.signIn();
  $('signout').onclick = async () => { await session.signOut(); location.replace('/ops/'); };
  const err = await session.finish();
  if (err) banner(err, 'bad');
  if (!session.signedIn) { $('out').classList.remove('hidden'); return; }
  $('console').classList.remove('hidden');
  $('signout').classList.remove('hidden');
  $('esc-form').onsubmit = escalate;
  $('assign-form').onsubmit = assign;
  let tiles = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
  try { tiles = (await (await fetch('/app-config.json')).json()).map_tile_url || tiles; } catch { /* default */ }
  initMap(tiles);
  aedsNear({ lat: -6.2088, lng: 106.8456 });
  await refresh();
  st.timer = setInterval(refresh, 10_000);
  connect({
    onMessage: (m) => {
      if (m.type === 'case_update') soon();
      else if (m.type === 'position') volunteerAt(m.volunteer_id, m.latitude, m.longitude);
    },
    onState: (s) => { $('live-state').textContent = s === 'live' ? t('live.on') : t('live.off'); },
  });
}
init();
