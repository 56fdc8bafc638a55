//! The passkey on the sign-in page's MFA step (security finding 2): when the account has a
//! passkey, the page starts a WebAuthn ceremony and offers a button. The pages have no script
//! otherwise; this one small script (calling `navigator.credentials.get` and posting the
//! answer with the form) is allowed by its SHA-256 hash in the page's Content-Security-Policy,
//! nothing else (no `'unsafe-inline'`). Without script the button stays hidden and the SMS
//! code remains.

use std::{net::IpAddr, sync::Arc};

use axum::{
    http::{HeaderValue, header},
    response::Response,
};
use base64::Engine;
use kreki_platform::error::Lang;
use sha2::Digest;

use super::session::start_session;
use crate::{
    idp::Idp,
    ui::{hidden, message_page},
    web::{esc, get as field, t},
};

/// Reads the options from the form's `data-options`, asks the authenticator, and posts its
/// answer (base64url fields, as the API takes it) with the form.
pub const SCRIPT: &str = "(function(){var b=document.getElementById('passkey');if(!b||!window.PublicKeyCredential||!navigator.credentials)return;\
function d(s){s=s.replace(/-/g,'+').replace(/_/g,'/');while(s.length%4)s+='=';var r=atob(s),a=new Uint8Array(r.length);for(var i=0;i<r.length;i++)a[i]=r.charCodeAt(i);return a.buffer}\
function e(x){var a=new Uint8Array(x),s='';for(var i=0;i<a.length;i++)s+=String.fromCharCode(a[i]);return btoa(s).replace(/\\+/g,'-').replace(/\\//g,'_').replace(/=+$/,'')}\
b.hidden=false;b.addEventListener('click',function(){var f=b.form,o=JSON.parse(f.getAttribute('data-options')).publicKey;o.challenge=d(o.challenge);\
(o.allowCredentials||[]).forEach(function(c){c.id=d(c.id)});b.disabled=true;\
navigator.credentials.get({publicKey:o}).then(function(c){var r=c.response;f.elements.credential.value=JSON.stringify({id:c.id,rawId:e(c.rawId),type:c.type,extensions:{},\
response:{authenticatorData:e(r.authenticatorData),clientDataJSON:e(r.clientDataJSON),signature:e(r.signature),userHandle:r.userHandle?e(r.userHandle):null}});f.submit()})\
.catch(function(){b.disabled=false})})})();";

/// `'sha256-…'` of [`SCRIPT`], as the Content-Security-Policy names it.
pub fn script_hash() -> String {
    let digest = sha2::Sha256::digest(SCRIPT.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Allow [`SCRIPT`] (and only it) on a page.
pub fn allow_script(mut res: Response) -> Response {
    let csp = format!(
        "default-src 'none'; script-src {}; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        script_hash()
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// The passkey form of the MFA step, when the account has a passkey (a ceremony is started
/// for it; it lives 5 minutes, like the ticket).
pub async fn offer(
    idp: &Idp,
    account_id: &str,
    lang: Lang,
    csrf: &str,
    ticket: &str,
    return_to: &str,
) -> Option<String> {
    if idp.passkey_count(account_id).await == 0 {
        return None;
    }
    let (ceremony, options) = idp
        .passkeys()
        .ok()?
        .start_authentication(account_id)
        .await
        .ok()?;
    let options = serde_json::to_string(&options).ok()?;
    Some(format!(
        "<form method=\"post\" action=\"/akun/mfa\" data-options=\"{o}\">{c}{tk}{r}{s}{ce}{cr}\
<button class=\"secondary\" type=\"button\" id=\"passkey\" hidden>{b}</button></form><script>{SCRIPT}</script>",
        o = esc(&options),
        c = hidden("csrf", csrf),
        tk = hidden("ticket", ticket),
        r = hidden("return_to", return_to),
        s = hidden("step", "passkey"),
        ce = hidden("ceremony", &ceremony),
        cr = hidden("credential", ""),
        b = t(lang, "Pakai passkey", "Use a passkey"),
    ))
}

/// The answer of the passkey form: the ticket's account must be the passkey's; then the
/// browser session starts (password + passkey: multi-factor).
pub async fn submit(
    idp: &Arc<Idp>,
    form: &[(String, String)],
    lang: Lang,
    return_to: &str,
    ip: IpAddr,
) -> Response {
    let refused = || {
        message_page(
            lang,
            t(lang, "Passkey ditolak", "The passkey was refused"),
            t(
                lang,
                "Passkey tidak dapat diperiksa atau sesi masuk kedaluwarsa. Silakan masuk lagi.",
                "The passkey could not be checked or the sign-in expired. Please sign in again.",
            ),
        )
    };
    let ticket = field(form, "ticket").unwrap_or("");
    let Ok(Some(tk)) = idp.store.peek_token("mfa", ticket).await else {
        return refused();
    };
    let Some(cred) = field(form, "credential")
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|v| serde_json::from_value(v).ok())
    else {
        return refused();
    };
    let Ok(passkeys) = idp.passkeys() else {
        return refused();
    };
    let Ok((account, _)) = passkeys
        .finish_authentication(field(form, "ceremony").unwrap_or(""), &cred)
        .await
    else {
        return refused();
    };
    if Some(account.as_str()) != tk.account_id.as_deref()
        || !idp.store.consume_code(&tk.id).await.unwrap_or(false)
    {
        return refused();
    }
    let Ok(Some(a)) = idp.store.account(&account).await else {
        return refused();
    };
    let amr = format!("{} hwk mfa", tk.target);
    start_session(idp, &a, &amr, return_to, ip, "passkey").await
}
