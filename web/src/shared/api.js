// Calls of the platform's APIs: the JSON envelope, the bearer token, the language.
import { getLang } from './i18n.js';

export class ApiError extends Error {
  constructor(status, code, message) { super(message || code); this.status = status; this.code = code; }
}

let tokenSource = null;
/** `fn()` → the current bearer token (or null); `refresh()` → a fresh one after a 401. */
export function useToken(fn, refresh) { tokenSource = { fn, refresh }; }

export async function api(method, path, body, { token, raw } = {}) {
  const go = async (bearer) => {
    const headers = { 'accept': 'application/json', 'accept-language': getLang() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearer) headers['authorization'] = `Bearer ${bearer}`;
    return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  };
  let bearer = token ?? (tokenSource ? await tokenSource.fn() : null);
  let res;
  try { res = await go(bearer); } catch { throw new ApiError(0, 'NETWORK', null); }
  if (res.status === 401 && !token && tokenSource?.refresh) {
    bearer = await tokenSource.refresh();
    if (bearer) res = await go(bearer);
  }
  if (raw) return res;
  let json = null;
  try { json = res.status === 204 ? null : await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, json?.error?.code || `HTTP_${res.status}`, json?.message);
  return json?.data ?? json;
}

export const E = '/api/emergency/v1';
