//! Replicas of the Emergency Core in serve mode share live state through the bus's live
//! (fan-out, not stored) subject `emergency.sync`: every location change, so that each
//! replica's index is complete, and every socket message, so that a volunteer connected to
//! another replica gets their offer.

use std::sync::Arc;

use futures::StreamExt;
use kreki_emergency_contracts::socket::ServerMsg;
use kreki_platform::bus::Bus;
use serde::{Deserialize, Serialize};

use crate::{
    hub::{Hub, Target},
    presence::{Eligibility, Live},
};

pub const SUBJECT: &str = "emergency.sync";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SyncMsg {
    Location {
        replica: String,
        volunteer: String,
        at: Option<(i32, i32, i64)>,
    },
    Socket {
        replica: String,
        target: Target,
        msg: ServerMsg,
    },
    Eligibility {
        replica: String,
        volunteer: String,
        eligibility: Eligibility,
    },
}

/// Publish local changes and apply the other replicas' ones, until the subscription ends.
pub async fn run(bus: Arc<dyn Bus>, replica: String, live: Arc<Live>, hub: Arc<Hub>) {
    {
        let (bus, replica) = (bus.clone(), replica.clone());
        live.set_sync(Box::new(move |volunteer, at| {
            let m = SyncMsg::Location {
                replica: replica.clone(),
                volunteer: volunteer.to_string(),
                at,
            };
            if let Ok(b) = serde_json::to_vec(&m) {
                bus.live_publish(SUBJECT, b);
            }
        }));
    }
    {
        let (bus, replica) = (bus.clone(), replica.clone());
        live.set_eligibility_sync(Box::new(move |volunteer, e| {
            let m = SyncMsg::Eligibility {
                replica: replica.clone(),
                volunteer: volunteer.to_string(),
                eligibility: e.clone(),
            };
            if let Ok(b) = serde_json::to_vec(&m) {
                bus.live_publish(SUBJECT, b);
            }
        }));
    }
    {
        let (bus, replica) = (bus.clone(), replica.clone());
        hub.set_sync(Box::new(move |target, msg| {
            let m = SyncMsg::Socket {
                replica: replica.clone(),
                target: target.clone(),
                msg: msg.clone(),
            };
            if let Ok(b) = serde_json::to_vec(&m) {
                bus.live_publish(SUBJECT, b);
            }
        }));
    }
    loop {
        match bus.live_subscribe(SUBJECT).await {
            Ok(mut stream) => {
                while let Some(raw) = stream.next().await {
                    match serde_json::from_slice::<SyncMsg>(&raw) {
                        Ok(SyncMsg::Location {
                            replica: r,
                            volunteer,
                            at,
                        }) if r != replica => live.apply_remote(&volunteer, at),
                        Ok(SyncMsg::Socket {
                            replica: r,
                            target,
                            msg,
                        }) if r != replica => hub.deliver_local(&target, &msg),
                        Ok(SyncMsg::Eligibility {
                            replica: r,
                            volunteer,
                            eligibility,
                        }) if r != replica => {
                            live.apply_remote_eligibility(&volunteer, eligibility);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "malformed replica sync message"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to replica sync; retrying"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
