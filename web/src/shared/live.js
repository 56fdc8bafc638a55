// The Emergency Core's live socket: a one-time ticket (POST /ws-ticket with the bearer),
// then `{"type":"auth","ticket":…}` as the first frame. Reconnects with a growing pause.
import { api, E } from './api.js';

export function connect({ token, onMessage, onState }) {
  let ws = null, stopped = false, wait = 1000, ping = null;
  const open = async () => {
    if (stopped) return;
    let ticket;
    try {
      ticket = (await api('POST', `${E}/ws-ticket`, undefined, token ? { token: await token() } : {})).ticket;
    } catch { onState?.('offline'); return retry(); }
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${E}/ws`;
    ws = new WebSocket(url);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', ticket }));
    ws.onmessage = (ev) => {
      let msg; try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === 'ready') { wait = 1000; onState?.('live'); }
      onMessage(msg);
    };
    ws.onclose = () => { onState?.('offline'); retry(); };
    ws.onerror = () => ws.close();
  };
  const retry = () => {
    if (stopped) return;
    setTimeout(open, wait);
    wait = Math.min(wait * 2, 30_000);
  };
  ping = setInterval(() => { if (ws?.readyState === 1) ws.send('{"type":"ping"}'); }, 25_000);
  open();
  return {
    send(msg) { if (ws?.readyState === 1) { ws.send(JSON.stringify(msg)); return true; } return false; },
    close() { stopped = true; clearInterval(ping); ws?.close(); },
  };
}
