// HELP 119 volunteer service worker: shows a pushed call (the notify service's Web Push) and
// opens /relawan/ on a tap; the app then reads GET /api/emergency/v1/offers/mine.
const BUILD = '%BUILD%';
const CACHE = `relawan-${BUILD}`;
const SHELL = ['/relawan/', ...%ASSETS%];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith('relawan-') && k !== CACHE).map((k) => caches.delete(k)))));
});
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  if (e.request.mode === 'navigate' && url.pathname === '/relawan/') {
    e.respondWith(fetch(e.request).catch(() => caches.match('/relawan/')));
  } else if (url.pathname.startsWith('/app/')) {
    e.respondWith(caches.match(e.request).then((hit) => hit || fetch(e.request)));
  }
});
self.addEventListener('push', (e) => {
  let data = {};
  try { data = e.data ? e.data.json() : {}; } catch { data = { body: e.data?.text() }; }
  const title = data.title || 'HELP 119: panggilan darurat';
  e.waitUntil((async () => {
    await self.registration.showNotification(title, {
      body: data.body || 'Buka aplikasi relawan untuk menjawab / Open the volunteer app to answer',
      // One notification per case: a second copy of a message (notify re-sends after a crash)
      // replaces the first instead of stacking.
      tag: data.correlation_id ? `case-${data.correlation_id}` : 'help119-offer', renotify: true, requireInteraction: true,
      vibrate: [400, 200, 400, 200, 400], icon: `/app/${BUILD}/icon.svg`, data: { url: '/relawan/', message_id: data.id },
    });
    // An open app shows the offer and acknowledges the message (no SMS fallback then).
    for (const c of await self.clients.matchAll({ type: 'window' })) c.postMessage({ type: 'offer', message_id: data.id });
  })());
});
self.addEventListener('notificationclick', (e) => {
  e.notification.close();
  e.waitUntil((async () => {
    const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = all.find((c) => new URL(c.url).pathname.startsWith('/relawan/'));
    const message_id = e.notification.data?.message_id;
    if (open) { await open.focus(); open.postMessage({ type: 'offer', message_id }); } else await self.clients.openWindow(message_id ? `/relawan/#ack=${encodeURIComponent(message_id)}` : '/relawan/');
  })());
});
