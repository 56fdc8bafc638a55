//! `emergency.responder.status`: every accept and every later responder status goes through
//! the outbox, in the transaction that records it (the volunteers service awards points).

use kreki_emergency_contracts::{RESPONDER_STATUS, ResponderStatus, ResponderStatusChanged};
use kreki_platform::{
    bus::{Event, outbox},
    storage::Tx,
    time_util::{now_micros, rfc3339},
};

/// Write the event into the outbox inside the caller's transaction.
pub async fn publish(
    tx: &mut Tx,
    case_id: &str,
    volunteer_id: &str,
    status: ResponderStatus,
) -> Result<(), sqlx::Error> {
    let ev = ResponderStatusChanged {
        case_id: case_id.to_string(),
        volunteer_id: volunteer_id.to_string(),
        status,
        at: rfc3339(now_micros()),
    };
    let event = Event::new("emergency", RESPONDER_STATUS, &ev)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?
        .correlated(case_id.to_string());
    outbox::enqueue(tx, &event).await
}
