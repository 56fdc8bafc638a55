//! The authorization endpoint: the browser session, consent, and the code.

use std::sync::Arc;

use axum::{
    extract::{RawQuery, State},
    http::HeaderMap,
    response::Response,
};

use super::{
    consent::consent_page,
    request::{AuthzError, authz_error_response, issue_code, validate_authz},
};
use crate::{
    idp::Idp,
    ui::{self, SESSION_COOKIE},
    web,
};

pub async fn authorize(
    State(idp): State<Arc<Idp>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = ui::lang_of(&headers);
    let query = query.unwrap_or_default();
    let req = match validate_authz(&idp, &query).await {
        Ok(r) => r,
        Err(e) => return authz_error_response(&idp, e, lang),
    };
    let session = match web::cookie(&headers, SESSION_COOKIE) {
        Some(c) => idp.store.session(c).await.ok().flatten(),
        None => None,
    };
    let return_to = format!("/oauth2/authorize?{query}");
    let Some((sid, account_id, amr, auth_time)) =
        session.filter(|_| req.prompt.as_deref() != Some("login"))
    else {
        if req.prompt.as_deref() == Some("none") {
            return authz_error_response(
                &idp,
                AuthzError::Redirect {
                    redirect_uri: req.redirect_uri,
                    state: req.state,
                    error: "login_required",
                    description: "the user is not signed in",
                },
                lang,
            );
        }
        return ui::to_login(&return_to);
    };
    let Ok(Some(account)) = idp.store.account(&account_id).await else {
        return ui::to_login(&return_to);
    };
    if !req.client.first_party
        && !has_grant(&idp, &account.id, &req.client.client_id, &req.scope).await
    {
        if req.prompt.as_deref() == Some("none") {
            return authz_error_response(
                &idp,
                AuthzError::Redirect {
                    redirect_uri: req.redirect_uri,
                    state: req.state,
                    error: "consent_required",
                    description: "consent is required",
                },
                lang,
            );
        }
        return consent_page(&idp, &headers, lang, &req, &query, &account);
    }
    issue_code(&idp, &req, &account.id, &sid, &amr, auth_time).await
}

pub async fn has_grant(idp: &Idp, account: &str, client: &str, scope: &str) -> bool {
    let row = idp
        .store
        .granted_scope(account, client)
        .await
        .ok()
        .flatten();
    row.is_some_and(|granted| {
        scope
            .split_whitespace()
            .all(|s| granted.split_whitespace().any(|g| g == s))
    })
}
