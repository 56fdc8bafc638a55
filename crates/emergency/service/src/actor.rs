//! Who acts on a case: the extractors of the case routes (a signed-in account, or an
//! anonymous caller with the case's token) and how an actor relates to a case.

use axum::{extract::FromRequestParts, http::request::Parts};
use kreki_platform::{
    ApiError,
    auth::{Principal, bearer, perm, verify_with_router_authenticator},
};

use crate::store::CaseRecord;

/// Who acts on a case: a signed-in account, or an anonymous caller with the case's token.
pub enum CaseActor {
    User(Principal),
    Caller { token_hash: String },
}

pub fn token_hash(token: &str) -> String {
    kreki_platform::types::sha256_hex(token.as_bytes())
}

impl<S: Send + Sync> FromRequestParts<S> for CaseActor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let token = bearer(parts)?
            .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_MISSING"))?
            .to_string();
        if token.starts_with("ct_") {
            return Ok(CaseActor::Caller {
                token_hash: token_hash(&token),
            });
        }
        Ok(CaseActor::User(
            verify_with_router_authenticator(parts, &token).await?,
        ))
    }
}

/// A signed-in caller, if a JWT was sent (panics may be anonymous).
pub struct OptionalPrincipal(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalPrincipal {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match bearer(parts)? {
            None => Ok(OptionalPrincipal(None)),
            Some(t) => Ok(OptionalPrincipal(Some(
                verify_with_router_authenticator(parts, t).await?,
            ))),
        }
    }
}

/// How an actor relates to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Caller,
    Responder,
    Ops,
}

pub fn relation(case: &CaseRecord, actor: &CaseActor) -> Option<Relation> {
    match actor {
        CaseActor::Caller { token_hash } => {
            (*token_hash == case.caller_token_hash).then_some(Relation::Caller)
        }
        CaseActor::User(p) => {
            if p.can(perm::CASE_READ_ALL) {
                Some(Relation::Ops)
            } else if case.caller_account.as_deref() == Some(p.subject.as_str()) {
                Some(Relation::Caller)
            } else if case.responders.iter().any(|r| r.volunteer_id == p.subject) {
                Some(Relation::Responder)
            } else {
                None
            }
        }
    }
}
