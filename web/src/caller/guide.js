// Offline first-aid guide (cached by the service worker): responsive? breathing? CPR with a
// 110/min metronome, recovery position, choking. Based on the BHD (basic life support) steps.
import { t, addStrings, onLang } from '../shared/i18n.js';

addStrings({
  id: {
    'g.title': 'Panduan pertolongan pertama', 'g.back': '← Kembali', 'g.start': 'Mulai dari awal',
    'g.safe': 'Pastikan tempat aman untuk Anda dan korban. Minta orang lain menekan TOLONG! atau menelepon 119.',
    'g.responsive.q': 'Apakah korban merespons?', 'g.responsive.how': 'Tepuk bahunya dan panggil dengan keras.',
    'g.breathing.q': 'Apakah korban bernapas normal?', 'g.breathing.how': 'Buka jalan napas (dongakkan kepala, angkat dagu), lihat dada naik-turun selama 10 detik.',
    'g.yes': 'Ya', 'g.no': 'Tidak', 'g.choking.btn': 'Korban tersedak',
    'g.cpr.title': 'Lakukan RJP (kompresi dada)', 'g.cpr.how': 'Letakkan tumit tangan di tengah dada. Tekan 5–6 cm, 100–120 kali per menit, biarkan dada kembali penuh. Jika terlatih: 30 kompresi, 2 napas buatan. Gunakan AED segera bila ada.',
    'g.metro.start': 'Mulai metronom (110/menit)', 'g.metro.stop': 'Hentikan metronom', 'g.metro.count': 'Kompresi: {n}',
    'g.metro.label': 'Ketukan metronom',
    'g.recovery.title': 'Posisi pemulihan', 'g.recovery.how': 'Baringkan miring, tangan atas menopang pipi, lutut atas ditekuk. Periksa napasnya terus sampai bantuan datang.',
    'g.responsive.yes': 'Biarkan dalam posisi nyaman, tanyakan apa yang terjadi, awasi terus. Tekan TOLONG! jika memburuk.',
    'g.choking.title': 'Tersedak', 'g.choking.how': 'Jika bisa batuk: dorong untuk terus batuk. Jika tidak bisa bicara/bernapas: 5 tepukan keras di punggung di antara tulang belikat, lalu 5 hentakan perut (Heimlich). Ulangi. Jika tidak sadar: mulai RJP.',
  },
  en: {
    'g.title': 'First-aid guide', 'g.back': '← Back', 'g.start': 'Start again',
    'g.safe': 'Make sure the place is safe for you and the patient. Ask someone to press HELP! or call 119.',
    'g.responsive.q': 'Does the patient respond?', 'g.responsive.how': 'Tap their shoulders and shout.',
    'g.breathing.q': 'Is the patient breathing normally?', 'g.breathing.how': 'Open the airway (tilt the head, lift the chin), watch the chest for 10 seconds.',
    'g.yes': 'Yes', 'g.no': 'No', 'g.choking.btn': 'The patient is choking',
    'g.cpr.title': 'Do CPR (chest compressions)', 'g.cpr.how': 'Heel of the hand on the centre of the chest. Push 5–6 cm deep, 100–120 times a minute, let the chest come back fully. If trained: 30 compressions, 2 rescue breaths. Use an AED as soon as one arrives.',
    'g.metro.start': 'Start the metronome (110/min)', 'g.metro.stop': 'Stop the metronome', 'g.metro.count': 'Compressions: {n}',
    'g.metro.label': 'Metronome beat',
    'g.recovery.title': 'Recovery position', 'g.recovery.how': 'Roll them on their side, upper hand under the cheek, upper knee bent. Keep checking their breathing until help arrives.',
    'g.responsive.yes': 'Leave them in a comfortable position, ask what happened, keep watching. Press HELP! if they get worse.',
    'g.choking.title': 'Choking', 'g.choking.how': 'If they can cough: encourage coughing. If they cannot speak or breathe: 5 firm back blows between the shoulder blades, then 5 abdominal thrusts (Heimlich). Repeat. If they become unresponsive: start CPR.',
  },
});

export const BPM = 110;
let step = 'responsive', timer = null, audio = null, count = 0, host = null;

export function stopGuide() {
  clearInterval(timer); timer = null;
  const b = host?.querySelector('#metro');
  if (b) b.textContent = t('g.metro.start');
}

function beep() {
  try {
    audio ||= new AudioContext();
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = 880; g.gain.value = 0.25;
    o.connect(g).connect(audio.destination);
    o.start(); o.stop(audio.currentTime + 0.06);
  } catch { /* no audio: the visual beat remains */ }
}

function toggleMetronome() {
  if (timer) { stopGuide(); return; }
  count = 0;
  const dot = host.querySelector('#beat'), n = host.querySelector('#count');
  timer = setInterval(() => {
    count += 1; beep();
    dot.classList.add('on'); setTimeout(() => dot.classList.remove('on'), 120);
    dot.textContent = String(((count - 1) % 30) + 1);
    n.textContent = t('g.metro.count', { n: count });
  }, 60_000 / BPM);
  host.querySelector('#metro').textContent = t('g.metro.stop');
}

const views = {
  responsive: () => `<p class="muted">${t('g.safe')}</p><p class="q">${t('g.responsive.q')}</p><p>${t('g.responsive.how')}</p>
    <div class="row"><button class="go big" data-go="responsive_yes">${t('g.yes')}</button><button class="primary big" data-go="breathing">${t('g.no')}</button></div>
    <button class="big" data-go="choking">${t('g.choking.btn')}</button>`,
  responsive_yes: () => `<p>${t('g.responsive.yes')}</p>`,
  breathing: () => `<p class="q">${t('g.breathing.q')}</p><p>${t('g.breathing.how')}</p>
    <div class="row"><button class="go big" data-go="recovery">${t('g.yes')}</button><button class="primary big" data-go="cpr">${t('g.no')}</button></div>`,
  cpr: () => `<h2>${t('g.cpr.title')}</h2><p>${t('g.cpr.how')}</p>
    <div id="beat" class="beat" role="img" aria-label="${t('g.metro.label')}">♥</div>
    <p id="count" class="center" aria-live="off"></p>
    <button id="metro" class="primary big" type="button">${t('g.metro.start')}</button>
    <p><a class="btn" href="tel:119">${t('call119')}</a></p>`,
  recovery: () => `<h2>${t('g.recovery.title')}</h2><p>${t('g.recovery.how')}</p>`,
  choking: () => `<h2>${t('g.choking.title')}</h2><p>${t('g.choking.how')}</p><button class="primary big" data-go="cpr">${t('g.cpr.title')}</button>`,
};

export function renderGuide(el) {
  host = el; stopGuide();
  el.innerHTML = `<h1 tabindex="-1">${t('g.title')}</h1><div class="guide-step" data-step="${step}">${views[step]()}</div>
    <div class="row"><a class="btn" href="#">${t('g.back')}</a><button type="button" data-go="responsive">${t('g.start')}</button></div>`;
  for (const b of el.querySelectorAll('[data-go]')) b.addEventListener('click', () => { step = b.dataset.go; renderGuide(el); el.querySelector('.guide-step')?.focus?.(); });
  el.querySelector('#metro')?.addEventListener('click', toggleMetronome);
}
onLang(() => { if (host && !host.classList.contains('hidden')) renderGuide(host); });
