// Bahasa Indonesia by default, English on request; the choice is remembered on the device.
const KEY = 'kreki.lang';
let dict = { id: {}, en: {} };
let lang = (() => {
  try { return localStorage.getItem(KEY) === 'en' ? 'en' : 'id'; } catch { return 'id'; }
})();
const listeners = [];

export function addStrings(strings) {
  for (const l of ['id', 'en']) Object.assign(dict[l], strings[l] || {});
}
export const getLang = () => lang;

/** The text of `key` in the current language, `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const s = dict[lang][key] ?? dict.id[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));
}

/** Fill every `[data-i18n]` (text), `[data-i18n-label]` (aria-label) and
 *  `[data-i18n-ph]` (placeholder) under `root`. */
export function apply(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-ph]')) el.setAttribute('placeholder', t(el.dataset.i18nPh));
  for (const el of root.querySelectorAll('[data-lang-switch]')) {
    el.textContent = lang === 'id' ? 'English' : 'Bahasa Indonesia';
    el.setAttribute('lang', lang === 'id' ? 'en' : 'id');
  }
}

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'id';
  try { localStorage.setItem(KEY, lang); } catch { /* private mode */ }
  apply();
  for (const f of listeners) f(lang);
}
export const onLang = (f) => listeners.push(f);

/** Wire the language buttons (`[data-lang-switch]`). */
export function wireSwitch() {
  for (const el of document.querySelectorAll('[data-lang-switch]')) {
    el.addEventListener('click', () => setLang(lang === 'id' ? 'en' : 'id'));
  }
}

addStrings({
  id: {
    'err.network': 'Tidak ada koneksi. Coba lagi.',
    'err.generic': 'Terjadi kesalahan. Coba lagi.',
    'type.cardiac_arrest': 'Henti jantung', 'type.unconscious': 'Tidak sadar', 'type.breathing': 'Sesak napas',
    'type.choking': 'Tersedak', 'type.bleeding': 'Pendarahan', 'type.trauma': 'Kecelakaan', 'type.stroke': 'Stroke',
    'type.seizure': 'Kejang', 'type.burn': 'Luka bakar', 'type.drowning': 'Tenggelam', 'type.childbirth': 'Melahirkan', 'type.other': 'Lainnya',
    'sev.critical': 'Kritis', 'sev.urgent': 'Mendesak', 'sev.normal': 'Biasa',
    'status.pending': 'Mencari relawan', 'status.assigned': 'Relawan menuju lokasi', 'status.responding': 'Relawan di lokasi',
    'status.completed': 'Selesai', 'status.cancelled': 'Dibatalkan',
    'rs.accepted': 'Menuju lokasi', 'rs.arrived': 'Tiba', 'rs.intervention': 'Menangani', 'rs.escalating': 'Meminta PSC 119', 'rs.resolved': 'Teratasi',
    'signin': 'Masuk dengan KREKI ID', 'signout': 'Keluar',
  },
  en: {
    'err.network': 'No connection. Try again.',
    'err.generic': 'Something went wrong. Try again.',
    'type.cardiac_arrest': 'Cardiac arrest', 'type.unconscious': 'Unconscious', 'type.breathing': 'Breathing problem',
    'type.choking': 'Choking', 'type.bleeding': 'Bleeding', 'type.trauma': 'Accident / injury', 'type.stroke': 'Stroke',
    'type.seizure': 'Seizure', 'type.burn': 'Burn', 'type.drowning': 'Drowning', 'type.childbirth': 'Childbirth', 'type.other': 'Other',
    'sev.critical': 'Critical', 'sev.urgent': 'Urgent', 'sev.normal': 'Normal',
    'status.pending': 'Looking for volunteers', 'status.assigned': 'Volunteer on the way', 'status.responding': 'Volunteer on scene',
    'status.completed': 'Completed', 'status.cancelled': 'Cancelled',
    'rs.accepted': 'On the way', 'rs.arrived': 'Arrived', 'rs.intervention': 'Treating', 'rs.escalating': 'Calling PSC 119', 'rs.resolved': 'Resolved',
    'signin': 'Sign in with KREKI ID', 'signout': 'Sign out',
  },
});
