// Operator view of the notification log: signs in through KREKI ID (authorization code +
// PKCE, public client kreki-admin; the token stays in memory), then searches messages.
const T = {
  id: { title: 'Log notifikasi', signin_text: 'Halaman ini untuk Ops Admin dan System Admin.', signin: 'Masuk dengan KREKI ID',
    search: 'Cari pesan', recipient_id: 'ID akun penerima', address: 'Nomor telepon atau e-mail penerima',
    correlation_id: 'ID kasus / sertifikat', status: 'Status', any: 'semua', find: 'Cari', created: 'Dibuat',
    template: 'Templat', priority: 'Prioritas', channel: 'Kanal', recipient: 'Penerima', history: 'Riwayat',
    time: 'Waktu', detail: 'Keterangan', open: 'Lihat', found: (n) => `${n} pesan ditemukan`,
    forbidden: 'Akun ini tidak boleh melihat log notifikasi.', failed: 'Permintaan gagal. Coba lagi.', other: 'EN', other_label: 'Switch to English' },
  en: { title: 'Notification log', signin_text: 'This page is for Ops Admins and System Admins.', signin: 'Sign in with KREKI ID',
    search: 'Search messages', recipient_id: 'Recipient account id', address: 'Recipient phone or e-mail',
    correlation_id: 'Case / certificate id', status: 'Status', any: 'any', find: 'Search', created: 'Created',
    template: 'Template', priority: 'Priority', channel: 'Channel', recipient: 'Recipient', history: 'History',
    time: 'Time', detail: 'Detail', open: 'Open', found: (n) => `${n} messages found`,
    forbidden: 'This account may not see the notification log.', failed: 'The request failed. Try again.', other: 'ID', other_label: 'Ganti ke Bahasa Indonesia' },
};
let lang = localStorage.getItem('kreki-lang') === 'en' ? 'en' : 'id';
let token = null;
const $ = (id) => document.getElementById(id);
const redirectUri = `${location.origin}/admin/notify/`;

function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) {
    const v = T[lang][el.dataset.i18n];
    if (typeof v === 'string') el.textContent = v;
  }
  $('lang').textContent = T[lang].other;
  $('lang').setAttribute('aria-label', T[lang].other_label);
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function signIn() {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem('kreki-admin-pkce', JSON.stringify({ verifier, state }));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const q = new URLSearchParams({ response_type: 'code', client_id: 'kreki-admin', redirect_uri: redirectUri,
    scope: 'openid profile', state, code_challenge: challenge, code_challenge_method: 'S256' });
  location.assign(`/oauth2/authorize?${q}`);
}

async function finishSignIn() {
  const q = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem('kreki-admin-pkce') || 'null');
  history.replaceState(null, '', redirectUri); // the code never stays in the address bar
  sessionStorage.removeItem('kreki-admin-pkce');
  if (!q.get('code') || !saved || q.get('state') !== saved.state) return false;
  const res = await fetch('/oauth2/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: q.get('code'), redirect_uri: redirectUri,
      client_id: 'kreki-admin', code_verifier: saved.verifier }) });
  if (!res.ok) return false;
  token = (await res.json()).access_token;
  return true;
}

function showError(text) {
  $('error').textContent = text;
  $('error').hidden = !text;
}

async function api(path, body) {
  const res = await fetch(`/api/notify/v1${path}`, { method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'accept-language': lang },
    body: body ? JSON.stringify(body) : undefined });
  if (res.status === 403) throw new Error(T[lang].forbidden);
  if (!res.ok) throw new Error(T[lang].failed);
  return res.json();
}

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  tr.append(td);
}

async function search(ev) {
  ev.preventDefault();
  showError('');
  const body = { limit: 50 };
  for (const k of ['recipient_id', 'address', 'correlation_id', 'status']) {
    const v = $(k).value.trim();
    if (v) body[k] = v;
  }
  try {
    const r = await api('/messages/search', body);
    const tbody = $('results').querySelector('tbody');
    tbody.replaceChildren();
    for (const m of r.data) {
      const tr = document.createElement('tr');
      [m.created_at, m.template, m.priority, m.channel, m.status, m.recipient].forEach((t) => cell(tr, t));
      const td = document.createElement('td');
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = T[lang].open;
      b.addEventListener('click', () => detail(m.id));
      td.append(b);
      tr.append(td);
      tbody.append(tr);
    }
    $('results').hidden = false;
    $('count').textContent = T[lang].found(r.meta ? r.meta.total : r.data.length);
  } catch (e) {
    showError(e.message);
  }
}

async function detail(id) {
  try {
    const r = await api(`/messages/${encodeURIComponent(id)}`);
    const tbody = $('detail').querySelector('tbody');
    tbody.replaceChildren();
    for (const h of r.data.history) {
      const tr = document.createElement('tr');
      [h.at, h.status, h.channel, h.detail].forEach((t) => cell(tr, t));
      tbody.append(tr);
    }
    $('detail').hidden = false;
    $('detail-title').focus?.();
  } catch (e) {
    showError(e.message);
  }
}

$('lang').addEventListener('click', () => {
  lang = lang === 'id' ? 'en' : 'id';
  localStorage.setItem('kreki-lang', lang);
  applyLang();
});
$('signin-btn').addEventListener('click', signIn);
$('search').addEventListener('submit', search);
applyLang();
if (await finishSignIn()) {
  $('search').hidden = false;
} else {
  $('signin').hidden = false;
}
