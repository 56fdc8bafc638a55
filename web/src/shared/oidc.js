// Sign-in through KREKI ID: OpenID Connect authorization code + PKCE (S256), public client.
// Tokens are kept in Web Storage of this origin (never in a URL); the code arrives in the
// query of the app's own path and is removed from the address bar at once.

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const rand = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

export class Session {
  /** `store`: localStorage (stays signed in, e.g. volunteers opened from a notification)
   *  or sessionStorage (this tab only, e.g. Ops). */
  constructor(clientId, path, store = sessionStorage) {
    this.clientId = clientId; this.path = path; this.store = store;
    this.key = `kreki.oidc.${clientId}`;
    this.redirect = location.origin + path;
  }
  get tokens() { try { return JSON.parse(this.store.getItem(this.key)) || null; } catch { return null; } }
  set tokens(v) { if (v) this.store.setItem(this.key, JSON.stringify(v)); else this.store.removeItem(this.key); }
  get signedIn() { return !!this.tokens?.access_token; }
  /** Claims of the id token (name, roles…), read only for display. */
  get claims() {
    const t = this.tokens?.id_token || this.tokens?.access_token;
    if (!t) return {};
    try { return JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))); } catch { return {}; }
  }

  async signIn() {
    const verifier = rand(32);
    const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const state = rand(16);
    const nonce = rand(16);
    sessionStorage.setItem(`${this.key}.pkce`, JSON.stringify({ verifier, state, nonce }));
    const q = new URLSearchParams({
      response_type: 'code', client_id: this.clientId, redirect_uri: this.redirect,
      scope: 'openid profile offline_access', state, nonce,
      code_challenge: challenge, code_challenge_method: 'S256',
    });
    location.assign(`/oauth2/authorize?${q}`);
  }

  /** After the redirect back: trade the code for tokens. Returns an error text or null. */
  async finish() {
    const q = new URLSearchParams(location.search);
    if (!q.has('code') && !q.has('error')) return null;
    history.replaceState(null, '', this.path);
    const saved = JSON.parse(sessionStorage.getItem(`${this.key}.pkce`) || 'null');
    sessionStorage.removeItem(`${this.key}.pkce`);
    if (q.has('error')) return q.get('error');
    if (!saved || saved.state !== q.get('state')) return 'state_mismatch';
    const res = await fetch('/oauth2/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: q.get('code'), redirect_uri: this.redirect,
        client_id: this.clientId, code_verifier: saved.verifier,
      }),
    });
    if (!res.ok) return 'token_failed';
    this.tokens = this.stamp(await res.json());
    return null;
  }

  stamp(t) { return { ...t, expires_at: Date.now() + (t.expires_in || 900) * 1000 }; }

  /** A valid access token, refreshed when it is about to expire. */
  async accessToken() {
    const t = this.tokens;
    if (!t) return null;
    if (t.expires_at - Date.now() > 30_000) return t.access_token;
    return this.refresh();
  }

  async refresh() {
    const t = this.tokens;
    if (!t?.refresh_token) { this.tokens = null; return null; }
    if (!this.refreshing) {
      this.refreshing = (async () => {
        try {
          const res = await fetch('/oauth2/token', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: this.clientId }),
          });
          if (!res.ok) { if (res.status === 400 || res.status === 401) this.tokens = null; return null; }
          const n = this.stamp(await res.json());
          this.tokens = { ...t, ...n };
          return n.access_token;
        } catch { return null; } finally { this.refreshing = null; }
      })();
    }
    return this.refreshing;
  }

  async signOut() {
    const t = this.tokens;
    this.tokens = null;
    if (t?.refresh_token) {
      try {
        await fetch('/oauth2/revoke', {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: t.refresh_token, client_id: this.clientId }),
        });
      } catch { /* offline: the token expires */ }
    }
  }
}
