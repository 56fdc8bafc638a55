//! Cases: from the panic (app or SMS) to completion. Use-cases here own their transactions and
//! know nothing of axum; `http.rs` holds the thin handlers of the case routes.
//!
//! - `intake`: a new case from `POST /panic` or the SMS webhook (validation, limits, the
//!   record, the dispatch start);
//! - `respond`: a volunteer's answer to an offer and their open offers;
//! - `status`: a responder's status, and a cancellation;
//! - `complete`: completion with the outcome and the clinical record;
//! - `view`: a case as its caller, responders and Ops see it.

pub mod complete;
pub mod http;
pub mod intake;
pub mod respond;
pub mod status;
pub mod view;
