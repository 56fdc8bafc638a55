// HELP 119 volunteer app: sign in, available/unavailable (location only then), offers that
// cannot be missed, accept/decline, navigation, statuses, completion record, team, points,
// Web Push through the notify service, well-being check-in after a hard case.
import { t, addStrings, apply, wireSwitch, onLang } from '../shared/i18n.js';
import { api, useToken, E } from '../shared/api.js';
import { Session } from '../shared/oidc.js';
import { connect } from '../shared/live.js';

const $ = (id) => document.getElementById(id);
const session = new Session('kreki-relawan', '/relawan/', localStorage);
useToken(() => session.accessToken(), () => session.refresh());
const N = '/api/notify/v1';
const BADGES = {
  first_response: ['Tanggap pertama', 'First response'], first_cpr: ['RJP pertama', 'First CPR'],
  ten_responses: ['10 tanggapan', '10 responses'], lifesaver: ['Penyelamat', 'Lifesaver'],
  night_owl: ['Siaga malam', 'Night watch'], team_lead: ['Ketua tim', 'Team lead'],
};
const OUTCOMES = ['recovered_on_scene', 'transported', 'referred', 'deceased', 'no_patient', 'other'];
const STATUSES = ['arrived', 'intervention', 'escalating', 'resolved'];

addStrings({
  id: {
    'app.name': 'Relawan', 'out.title': 'Aplikasi relawan HELP 119', 'out.text': 'Masuk untuk menerima panggilan darurat di sekitar Anda.',
    'home.hello': 'Halo, {name}', 'duty.on': 'Saya siap bertugas', 'duty.off': 'Saya tidak bertugas',
    'duty.on.note': 'Anda siap menerima panggilan. Lokasi Anda dikirim selama Anda bertugas atau menangani kasus.',
    'duty.off.note': 'Anda tidak bertugas. Lokasi Anda tidak dikirim.', 'duty.noloc': 'Lokasi diperlukan untuk bertugas. Izinkan akses lokasi.',
    'duty.busy': 'Selesaikan kasus aktif sebelum berhenti bertugas.',
    'duty.notdispatchable': 'Akun Anda belum terverifikasi untuk menerima panggilan.',
    'push.on': 'Notifikasi aktif: panggilan tetap sampai saat aplikasi di latar belakang.',
    'push.off': 'Notifikasi tidak tersedia di peramban ini; biarkan aplikasi terbuka.',
    'push.denied': 'Notifikasi diblokir. Izinkan notifikasi agar panggilan tidak terlewat.',
    'stats.title': 'Poin dan lencana', 'stats.points': '{n} poin', 'stats.none': 'Belum ada lencana.',
    'stats.na': 'Poin dan lencana belum tersedia.', 'stats.cases': '{a} diterima · {r} teratasi · {c} selesai',
    'hist.title': 'Riwayat kasus saya', 'hist.none': 'Belum ada kasus.',
    'offer.title': 'PANGGILAN DARURAT', 'offer.accept': 'TERIMA', 'offer.decline': 'Tolak',
    'offer.info': '{type} · {sev} · {km} km', 'offer.left': 'Sisa {s} detik',
    'case.title': 'Kasus: {type}', 'case.info': '{sev} · {lead}', 'case.lead': 'Anda ketua tim', 'case.member': 'Anda anggota tim',
    'case.code': 'Kode pintu (tanyakan penelepon):', 'case.nav': 'Navigasi ke pasien',
    'team.title': 'Tim', 'team.me': 'Anda', 'team.other': 'Relawan {n}', 'team.lead': 'ketua', 'team.eta': '{m} menit',
    'st.title': 'Status saya', 'st.arrived': 'Tiba', 'st.intervention': 'Menangani', 'st.escalating': 'Butuh PSC 119', 'st.resolved': 'Teratasi',
    'cf.title': 'Laporan penanganan', 'cf.outcome': 'Hasil', 'cf.vitals': 'Tanda vital', 'cf.hr': 'Nadi (/menit)', 'cf.rr': 'Napas (/menit)',
    'cf.sys': 'Tensi sistolik', 'cf.dia': 'Tensi diastolik', 'cf.spo2': 'SpO₂ (%)', 'cf.temp': 'Suhu (°C)',
    'cf.interventions': 'Tindakan', 'cf.cpr': 'RJP dilakukan', 'cf.shocks': 'Kejutan AED', 'cf.other': 'Tindakan lain (pisahkan dengan koma)',
    'cf.patient': 'Pasien (jika diketahui)', 'cf.pname': 'Nama', 'cf.psex': 'Jenis kelamin', 'cf.male': 'Laki-laki', 'cf.female': 'Perempuan',
    'cf.page': 'Perkiraan umur', 'cf.dx': 'Diagnosis kerja', 'cf.ref': 'Rujukan rumah sakit', 'cf.notes': 'Catatan',
    'cf.send': 'Kirim laporan dan selesaikan', 'cf.pick': 'Pilih hasil penanganan.', 'cf.done': 'Kasus selesai. Terima kasih!',
    'out.recovered_on_scene': 'Pulih di tempat', 'out.transported': 'Dibawa ke RS', 'out.referred': 'Dirujuk', 'out.deceased': 'Meninggal',
    'out.no_patient': 'Tidak ada pasien', 'out.other': 'Lainnya', 'case.closed': 'Kasus ditutup.',
    'wb.title': 'Bagaimana kabar Anda?', 'wb.text': 'Beberapa waktu lalu Anda menangani kasus berat ({type}). Bagaimana perasaan Anda sekarang?',
    'wb.good': 'Baik', 'wb.okay': 'Lumayan', 'wb.struggling': 'Berat', 'wb.thanks': 'Terima kasih sudah menjawab. Jaga diri Anda.',
    'wb.support': 'Terima kasih. Koordinator tim Anda akan menghubungi Anda; Anda tidak sendiri.', 'hist.na': 'Riwayat belum dapat dimuat.',
  },
  en: {
    'app.name': 'Volunteer', 'out.title': 'HELP 119 volunteer app', 'out.text': 'Sign in to receive emergency calls near you.',
    'home.hello': 'Hello, {name}', 'duty.on': 'I am available', 'duty.off': 'I am not available',
    'duty.on.note': 'You can receive calls. Your location is sent only while you are available or responding.',
    'duty.off.note': 'You are not available. Your location is not sent.', 'duty.noloc': 'A location is needed to go on duty. Allow location access.',
    'duty.busy': 'Finish the active case before going off duty.',
    'duty.notdispatchable': 'Your account is not verified for calls yet.',
    'push.on': 'Notifications on: calls reach you while the app is in the background.',
    'push.off': 'Notifications are not available in this browser; keep the app open.',
    'push.denied': 'Notifications are blocked. Allow them so that no call is missed.',
    'stats.title': 'Points and badges', 'stats.points': '{n} points', 'stats.none': 'No badges yet.',
    'stats.na': 'Points and badges are not available yet.', 'stats.cases': '{a} accepted · {r} resolved · {c} completed',
    'hist.title': 'My cases', 'hist.none': 'No cases yet.',
    'offer.title': 'EMERGENCY CALL', 'offer.accept': 'ACCEPT', 'offer.decline': 'Decline',
    'offer.info': '{type} · {sev} · {km} km', 'offer.left': '{s} seconds left',
    'case.title': 'Case: {type}', 'case.info': '{sev} · {lead}', 'case.lead': 'You are the team lead', 'case.member': 'You are a team member',
    'case.code': 'Door code (ask the caller):', 'case.nav': 'Navigate to the patient',
    'team.title': 'Team', 'team.me': 'You', 'team.other': 'Volunteer {n}', 'team.lead': 'lead', 'team.eta': '{m} min',
    'st.title': 'My status', 'st.arrived': 'Arrived', 'st.intervention': 'Treating', 'st.escalating': 'Need PSC 119', 'st.resolved': 'Resolved',
    'cf.title': 'Care report', 'cf.outcome': 'Outcome', 'cf.vitals': 'Vital signs', 'cf.hr': 'Pulse (/min)', 'cf.rr': 'Breaths (/min)',
    'cf.sys': 'Systolic BP', 'cf.dia': 'Diastolic BP', 'cf.spo2': 'SpO₂ (%)', 'cf.temp': 'Temperature (°C)',
    'cf.interventions': 'Interventions', 'cf.cpr': 'CPR given', 'cf.shocks': 'AED shocks', 'cf.other': 'Other interventions (comma-separated)',
    'cf.patient': 'Patient (if known)', 'cf.pname': 'Name', 'cf.psex': 'Sex', 'cf.male': 'Male', 'cf.female': 'Female',
    'cf.page': 'Estimated age', 'cf.dx': 'Working diagnosis', 'cf.ref': 'Hospital referral', 'cf.notes': 'Notes',
    'cf.send': 'Send the report and complete', 'cf.pick': 'Choose the outcome.', 'cf.done': 'Case completed. Thank you!',
    'out.recovered_on_scene': 'Recovered on scene', 'out.transported': 'Taken to hospital', 'out.referred': 'Referred', 'out.deceased': 'Deceased',
    'out.no_patient': 'No patient', 'out.other': 'Other', 'case.closed': 'The case was closed.',
    'wb.title': 'How are you?', 'wb.text': 'A while ago you responded to a hard case ({type}). How do you feel now?',
    'wb.good': 'Good', 'wb.okay': 'Okay', 'wb.struggling': 'Hard', 'wb.thanks': 'Thank you for answering. Take care of yourself.',
    'wb.support': 'Thank you. Your team coordinator will contact you; you are not alone.', 'hist.na': 'History cannot be loaded yet.',
  },
});

const local = {
  get: (k, d = null) => { try { return JSON.parse(localStorage.getItem(`kreki.relawan.${k}`)) ?? d; } catch { return d; } },
  set: (k, v) => { try { if (v == null) localStorage.removeItem(`kreki.relawan.${k}`); else localStorage.setItem(`kreki.relawan.${k}`, JSON.stringify(v)); } catch { /* */ } },
};
const st = { onDuty: local.get('duty', false), watch: null, live: null, offer: null, offerTimer: null, active: local.get('case'),
  team: [], myStatus: 'accepted', lastSent: 0, pos: null, outcome: null, sub: local.get('case') ? 'case' : 'home' };

const me = () => session.claims.sub;
function banner(text, kind = 'warn') {
  const m = $('msg'); m.textContent = text || ''; m.className = `banner ${kind}`; m.classList.toggle('hidden', !text);
}
function show(id) { for (const s of ['out', 'home', 'case']) $(s).classList.toggle('hidden', s !== id); }

// --- availability and location -------------------------------------------------------
function here() {
  return new Promise((ok, bad) => navigator.geolocation
    ? navigator.geolocation.getCurrentPosition((p) => ok(p.coords), bad, { enableHighAccuracy: true, timeout: 15_000, maximumAge: 30_000 })
    : bad(new Error('no geolocation')));
}
function renderDuty(note) {
  $('duty').setAttribute('aria-pressed', String(st.onDuty));
  $('duty').textContent = st.onDuty ? t('duty.on') : t('duty.off');
  $('duty-note').textContent = note || (st.onDuty ? t('duty.on.note') : t('duty.off.note'));
}
async function setDuty(on) {
  if (!on && st.active) { renderDuty(t('duty.busy')); return; }
  try {
    let body = { on_duty: false };
    if (on) {
      const c = await here();
      st.pos = c;
      body = { on_duty: true, latitude: c.latitude, longitude: c.longitude };
    }
    const r = await api('PUT', `${E}/presence`, body);
    st.onDuty = on; local.set('duty', on);
    renderDuty(on && !r.dispatchable ? t('duty.notdispatchable') : null);
    if (on) { stream(); enablePush(); } else stopStream();
  } catch (e) {
    renderDuty(e?.code ? (e.message || t('err.generic')) : t('duty.noloc'));
  }
}
function stream() {
  if (st.watch != null || !navigator.geolocation) return;
  st.watch = navigator.geolocation.watchPosition((p) => {
    st.pos = p.coords;
    if (Date.now() - st.lastSent < 10_000) return;
    st.lastSent = Date.now();
    const msg = { type: 'location', latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy || 0) };
    if (!st.live?.send(msg)) api('PUT', `${E}/presence/location`, { latitude: msg.latitude, longitude: msg.longitude }).catch(() => {});
  }, () => {}, { enableHighAccuracy: true, maximumAge: 10_000 });
}
function stopStream() { if (st.watch != null) navigator.geolocation.clearWatch(st.watch); st.watch = null; }

// --- push -----------------------------------------------------------------------------
const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
async function enablePush() {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) { $('push-note').textContent = t('push.off'); return; }
  try {
    const reg = await navigator.serviceWorker.register('/relawan/sw.js', { scope: '/relawan/' });
    await navigator.serviceWorker.ready;
    if ('Notification' in window && Notification.permission === 'default') await Notification.requestPermission();
    if ('Notification' in window && Notification.permission === 'denied') { $('push-note').textContent = t('push.denied'); return; }
    const { public_key: key } = await api('GET', `${N}/push/key`);
    let sub = await reg.pushManager.getSubscription();
    if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64(key) });
    await api('POST', `${N}/push/subscriptions`, sub.toJSON());
    local.set('push', sub.endpoint);
    $('push-note').textContent = t('push.on');
  } catch { $('push-note').textContent = t('push.off'); }
}
async function disablePush() {
  const endpoint = local.get('push');
  if (!endpoint) return;
  local.set('push', null);
  try {
    await api('DELETE', `${N}/push/subscriptions`, { endpoint });
    const reg = await navigator.serviceWorker?.getRegistration('/relawan/');
    await (await reg?.pushManager.getSubscription())?.unsubscribe();
  } catch { /* the subscription expires at the push service */ }
}

// --- offers ---------------------------------------------------------------------------
let audio = null;
function alarm() {
  try { navigator.vibrate?.([400, 200, 400, 200, 400]); } catch { /* */ }
  try {
    audio ||= new AudioContext();
    for (let i = 0; i < 3; i += 1) {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 988; g.gain.value = 0.3; o.connect(g).connect(audio.destination);
      o.start(audio.currentTime + i * 0.4); o.stop(audio.currentTime + i * 0.4 + 0.25);
    }
  } catch { /* autoplay blocked: the screen still shows the call */ }
}
function showOffer(o) {
  if (st.active || st.offer?.case_id === o.case_id) return;
  st.offer = o;
  const kind = o.case_type || o.type_;
  $('offer-info').textContent = t('offer.info', { type: t('type.' + kind), sev: t('sev.' + o.severity), km: (o.distance_m / 1000).toFixed(1) })
    + (o.description ? ` — ${o.description}` : '');
  $('offer-err').textContent = '';
  $('offer').classList.remove('hidden');
  behind(true);
  $('offer-h').focus();
  alarm();
  clearInterval(st.offerTimer);
  const tick = () => {
    const s = Math.max(0, Math.round((Date.parse(o.expires_at) - Date.now()) / 1000));
    $('offer-left').textContent = t('offer.left', { s });
    if (s <= 0) hideOffer();
  };
  tick(); st.offerTimer = setInterval(tick, 1000);
}
function hideOffer() { clearInterval(st.offerTimer); st.offer = null; $('offer').classList.add('hidden'); behind(false); }
/** While the call is on screen, nothing behind it can be reached (a real modal). */
function behind(on) { for (const el of [document.querySelector('header'), $('msg'), $('out'), $('home'), $('case')]) el.inert = on; }
async function answer(accept) {
  const o = st.offer; if (!o) return;
  const eta = Math.max(1, Math.ceil(o.distance_m / 333));
  try {
    const r = await api('PUT', `${E}/${o.case_id}/respond`, accept ? { action: 'accept', eta_minutes: eta } : { action: 'reject' });
    hideOffer();
    if (accept) {
      st.active = { id: o.case_id, code: r.handshake_code, lead: r.role === 'lead', type: r.case?.type || o.case_type,
        severity: r.case?.severity || o.severity, latitude: r.case?.latitude ?? o.latitude, longitude: r.case?.longitude ?? o.longitude };
      st.team = r.case?.responders || []; st.myStatus = 'accepted';
      local.set('case', st.active);
      openCase();
    }
  } catch (e) { $('offer-err').textContent = e.message || t('err.generic'); if (e.status === 409 || e.status === 404) setTimeout(hideOffer, 2500); }
}

// --- the active case -------------------------------------------------------------------
function openCase() {
  const a = st.active;
  show('case');
  $('case-h').textContent = t('case.title', { type: t('type.' + a.type) });
  $('case-info').textContent = t('case.info', { sev: t('sev.' + a.severity), lead: a.lead ? t('case.lead') : t('case.member') });
  $('case-code').textContent = a.code || '';
  $('nav').href = `https://www.google.com/maps/dir/?api=1&destination=${a.latitude},${a.longitude}&travelmode=driving`;
  renderTeam(); renderStatuses();
  $('case-h').focus();
}
function renderTeam() {
  let n = 0;
  $('team').replaceChildren(...st.team.map((r) => {
    const li = document.createElement('li');
    const who = r.volunteer_id === me() ? t('team.me') : t('team.other', { n: (n += 1) });
    li.textContent = [who, r.is_lead ? `(${t('team.lead')})` : '', '·', t('rs.' + r.status),
      r.eta_minutes != null && r.status === 'accepted' ? `· ${t('team.eta', { m: r.eta_minutes })}` : ''].filter(Boolean).join(' ');
    return li;
  }));
  const mine = st.team.find((r) => r.volunteer_id === me());
  if (mine) { st.myStatus = mine.status; st.active.lead = mine.is_lead; }
}
function renderStatuses() {
  const order = ['accepted', ...STATUSES];
  const at = order.indexOf(st.myStatus);
  $('statuses').replaceChildren(...STATUSES.map((s) => {
    const b = document.createElement('button');
    b.type = 'button'; b.dataset.status = s; b.textContent = t('st.' + s);
    b.className = s === 'escalating' ? 'primary' : 'blue';
    const done = order.indexOf(s) <= at;
    b.setAttribute('aria-pressed', String(done && s === st.myStatus));
    b.disabled = done;
    b.onclick = () => setStatus(s);
    return b;
  }));
  $('complete').classList.toggle('hidden', !(st.myStatus === 'resolved' && st.active?.lead));
  if (!$('outcomes').children.length || $('outcomes').dataset.lang !== document.documentElement.lang) renderOutcomes();
}
function renderOutcomes() {
  $('outcomes').dataset.lang = document.documentElement.lang;
  $('outcomes').replaceChildren(...OUTCOMES.map((o) => {
    const b = document.createElement('button');
    b.type = 'button'; b.dataset.outcome = o; b.textContent = t('out.' + o);
    b.setAttribute('aria-pressed', String(st.outcome === o));
    b.onclick = () => { st.outcome = o; renderOutcomes(); };
    return b;
  }));
}
async function setStatus(s) {
  $('st-err').textContent = '';
  try {
    const c = await api('PUT', `${E}/${st.active.id}/status`, { status: s });
    st.team = c.responders || st.team; st.myStatus = s;
    renderTeam(); renderStatuses();
    if (s === 'resolved' && st.active.lead) $('cf-h').scrollIntoView();
  } catch (e) { $('st-err').textContent = e.message || t('err.generic'); }
}
const num = (id) => { const v = $(id).value.trim(); return v === '' ? null : Number(v); };
const text = (id) => $(id).value.trim() || null;
async function complete(ev) {
  ev.preventDefault();
  $('cf-err').textContent = '';
  if (!st.outcome) { $('cf-err').textContent = t('cf.pick'); return; }
  const record = {
    outcome: st.outcome, hospital_referral: text('ref'),
    clinical: {
      vitals: { heart_rate: num('hr'), respiratory_rate: num('rr'), bp_systolic: num('sys'), bp_diastolic: num('dia'), spo2: num('spo2'), temperature_c: num('temp'), avpu: text('avpu') },
      interventions: { cpr: $('cpr').checked, aed_shocks: num('shocks') ?? 0, other: ($('other').value || '').split(',').map((s) => s.trim()).filter(Boolean) },
      patient: { nik: text('nik'), name: text('pname'), sex: text('psex'), estimated_age: num('page') },
      working_diagnosis: text('dx'), notes: text('notes'),
    },
  };
  try {
    await api('PUT', `${E}/${st.active.id}/complete`, record);
    finishCase();
    banner(t('cf.done'), 'ok');
  } catch (e) { $('cf-err').textContent = e.message || t('err.generic'); }
}
function finishCase() {
  if (!st.active) return;
  st.active = null; st.team = []; st.outcome = null; local.set('case', null);
  $('complete').reset();
  home();
}

// --- home: stats, history, well-being ---------------------------------------------------
async function stats() {
  const box = $('stats');
  try {
    const s = await api('GET', '/api/volunteers/v1/me/stats');
    const lang = document.documentElement.lang === 'en' ? 1 : 0;
    const ul = document.createElement('ul'); ul.className = 'badges';
    for (const b of s.badges || []) {
      const li = document.createElement('li'); li.textContent = BADGES[b.code]?.[lang] || b.code; ul.append(li);
    }
    box.replaceChildren(
      Object.assign(document.createElement('p'), { className: 'points', textContent: t('stats.points', { n: s.points ?? 0 }) }),
      s.badges?.length ? ul : Object.assign(document.createElement('p'), { textContent: t('stats.none') }),
      Object.assign(document.createElement('p'), { className: 'muted', textContent: t('stats.cases', { a: s.cases?.accepted ?? 0, r: s.cases?.resolved ?? 0, c: s.cases?.completed ?? 0 }) }),
    );
  } catch { box.replaceChildren(Object.assign(document.createElement('p'), { className: 'muted', textContent: t('stats.na') })); }
}
async function history() {
  const li = (text) => Object.assign(document.createElement('li'), { textContent: text });
  try {
    const h = await api('GET', `${E}/history/mine`);
    $('history').replaceChildren(...(h.length ? h.map((c) => li([
      new Date(c.accepted_at).toLocaleString(document.documentElement.lang), t('type.' + c.type), t('sev.' + c.severity),
      c.outcome && OUTCOMES.includes(c.outcome) ? t('out.' + c.outcome) : t('status.' + c.case_status),
      c.is_lead ? t('team.lead') : '',
    ].filter(Boolean).join(' · '))) : [li(t('hist.none'))]));
  } catch { $('history').replaceChildren(li(t('hist.na'))); }
}
async function checkin() {
  let due = [];
  try { due = await api('GET', `${E}/wellbeing/mine`); } catch { /* asked next time */ }
  const c = due[0];
  $('checkin').classList.toggle('hidden', !c);
  if (!c) return;
  $('wb-done').textContent = '';
  $('wb-text').textContent = t('wb.text', { type: t('type.' + c.type) });
  $('wb-answers').replaceChildren(...['good', 'okay', 'struggling'].map((k) => {
    const b = document.createElement('button'); b.type = 'button'; b.textContent = t('wb.' + k); b.dataset.answer = k;
    b.onclick = async () => {
      try {
        await api('PUT', `${E}/${c.case_id}/wellbeing`, { answer: k });
        $('wb-answers').replaceChildren(); $('wb-done').textContent = t(k === 'struggling' ? 'wb.support' : 'wb.thanks');
      } catch (e) { $('wb-done').textContent = e.message || t('err.generic'); }
    };
    return b;
  }));
}
function home() {
  show('home');
  $('home-h').textContent = t('home.hello', { name: session.claims.name || '' });
  renderDuty(); stats(); history(); checkin();
}

// --- socket ---------------------------------------------------------------------------
function onMessage(m) {
  if (m.type === 'offer') showOffer(m);
  else if (m.type === 'offer_withdrawn' && st.offer?.case_id === m.case_id) hideOffer();
  else if (m.type === 'case_update' && st.active?.id === m.case_id) {
    st.team = m.team || [];
    renderTeam(); renderStatuses();
    if (m.status === 'completed' || m.status === 'cancelled') { banner(t('case.closed')); finishCase(); }
  }
}
async function checkOffers() {
  try {
    const list = await api('GET', `${E}/offers/mine`);
    const o = list.find((x) => x.state === 'open');
    if (o) showOffer({ case_id: o.case_id, case_type: o.type, severity: o.severity, distance_m: o.distance_m, expires_at: o.expires_at, latitude: o.latitude, longitude: o.longitude, description: o.description });
  } catch { /* offline: the socket delivers */ }
}

async function init() {
  apply(); wireSwitch();
  onLang(() => { if (!$('home').classList.contains('hidden')) home(); if (st.active) openCase(); });
  $('signin').onclick = () => session.signIn();
  $('signout').onclick = async () => { if (st.onDuty) await setDuty(false); await disablePush(); st.live?.close(); await session.signOut(); location.replace('/relawan/'); };
  $('duty').onclick = () => setDuty(!st.onDuty);
  $('accept').onclick = () => answer(true);
  $('decline').onclick = () => answer(false);
  $('complete').onsubmit = complete;
  const err = await session.finish();
  if (err) banner(err, 'bad');
  if (!session.signedIn) { show('out'); return; }
  $('signout').classList.remove('hidden');
  st.live = connect({ onMessage, onState: (s) => { if (s === 'live') checkOffers(); } });
  if (st.active) {
    try {
      const c = await api('GET', `${E}/${st.active.id}`);
      if (c.status === 'completed' || c.status === 'cancelled') finishCase();
      else { st.team = c.responders || []; openCase(); }
    } catch { st.active = null; local.set('case', null); home(); }
  } else home();
  if (st.onDuty) setDuty(true);
  navigator.serviceWorker?.addEventListener('message', (e) => {
    if (e.data?.type === 'offer') { checkOffers(); acknowledge(e.data.message_id); }
  });
  // Opened from a push notification: the message id rides in the fragment (never sent to the server).
  const ack = new URLSearchParams(location.hash.slice(1)).get('ack');
  if (ack) { window.history.replaceState(null, '', location.pathname); acknowledge(ack); }
}

/** Tell notify the push reached the volunteer: a critical offer then does not fall back to SMS. */
function acknowledge(messageId) {
  if (!messageId || !session.signedIn) return;
  api('POST', `${N}/messages/${encodeURIComponent(messageId)}/ack`).catch(() => {});
}
init();
