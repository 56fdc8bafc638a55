//! Live sockets of this process: volunteers (offers, team updates), callers (their case) and
//! Ops (everything). Messages are pushed into each socket's bounded queue; a socket that
//! cannot keep up loses the oldest updates, never blocks dispatch.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use kreki_emergency_contracts::socket::ServerMsg;
use tokio::sync::mpsc;

/// Who is at the other end of a socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    Volunteer(String),
    Caller(String),
    Ops(String),
}

type Tx = mpsc::Sender<ServerMsg>;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    Volunteer { id: String },
    Case { case_id: String, team: Vec<String> },
    Ops,
}

/// Called for every message sent, so other replicas deliver it to their sockets.
pub type HubSync = Box<dyn Fn(&Target, &ServerMsg) + Send + Sync>;

#[derive(Default)]
pub struct Hub {
    sync: std::sync::OnceLock<HubSync>,
    next: AtomicU64,
    volunteers: Mutex<HashMap<String, Vec<(u64, Tx)>>>,
    callers: Mutex<HashMap<String, Vec<(u64, Tx)>>>,
    ops: Mutex<Vec<(u64, Tx)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn send_all(list: &mut Vec<(u64, Tx)>, msg: &ServerMsg) -> usize {
    list.retain(|(_, tx)| !tx.is_closed());
    let mut n = 0;
    for (_, tx) in list.iter() {
        if tx.try_send(msg.clone()).is_ok() {
            n += 1;
        }
    }
    n
}

impl Hub {
    /// Register a socket; returns its id (for [`Hub::leave`]).
    pub fn join(&self, peer: &Peer, tx: Tx) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        match peer {
            Peer::Volunteer(v) => lock(&self.volunteers)
                .entry(v.clone())
                .or_default()
                .push((id, tx)),
            Peer::Caller(c) => lock(&self.callers)
                .entry(c.clone())
                .or_default()
                .push((id, tx)),
            Peer::Ops(_) => lock(&self.ops).push((id, tx)),
        }
        id
    }

    pub fn leave(&self, peer: &Peer, id: u64) {
        match peer {
            Peer::Volunteer(v) => {
                let mut m = lock(&self.volunteers);
                if let Some(l) = m.get_mut(v) {
                    l.retain(|(i, _)| *i != id);
                    if l.is_empty() {
                        m.remove(v);
                    }
                }
            }
            Peer::Caller(c) => {
                let mut m = lock(&self.callers);
                if let Some(l) = m.get_mut(c) {
                    l.retain(|(i, _)| *i != id);
                    if l.is_empty() {
                        m.remove(c);
                    }
                }
            }
            Peer::Ops(_) => lock(&self.ops).retain(|(i, _)| *i != id),
        }
    }

    /// Does the volunteer have an open socket here?
    pub fn volunteer_connected(&self, volunteer: &str) -> bool {
        lock(&self.volunteers)
            .get(volunteer)
            .is_some_and(|l| l.iter().any(|(_, tx)| !tx.is_closed()))
    }

    /// To a volunteer's sockets; returns how many took it.
    pub fn to_volunteer(&self, volunteer: &str, msg: &ServerMsg) -> usize {
        self.share(
            Target::Volunteer {
                id: volunteer.to_string(),
            },
            msg,
        );
        self.local_volunteer(volunteer, msg)
    }

    fn local_volunteer(&self, volunteer: &str, msg: &ServerMsg) -> usize {
        lock(&self.volunteers)
            .get_mut(volunteer)
            .map(|l| send_all(l, msg))
            .unwrap_or(0)
    }

    pub fn set_sync(&self, f: HubSync) {
        let _ = self.sync.set(f);
    }

    fn share(&self, t: Target, msg: &ServerMsg) {
        if let Some(f) = self.sync.get() {
            f(&t, msg);
        }
    }

    /// Deliver to the sockets of this process only (a message from another replica).
    pub fn deliver_local(&self, t: &Target, msg: &ServerMsg) {
        match t {
            Target::Volunteer { id } => {
                self.local_volunteer(id, msg);
            }
            Target::Case { case_id, team } => {
                if let Some(l) = lock(&self.callers).get_mut(case_id) {
                    send_all(l, msg);
                }
                for v in team {
                    self.local_volunteer(v, msg);
                }
                send_all(&mut lock(&self.ops), msg);
            }
            Target::Ops => {
                send_all(&mut lock(&self.ops), msg);
            }
        }
    }

    /// To the case's callers, the given volunteers and Ops.
    pub fn to_case(&self, case_id: &str, team: &[String], msg: &ServerMsg) {
        let t = Target::Case {
            case_id: case_id.to_string(),
            team: team.to_vec(),
        };
        self.share(t.clone(), msg);
        self.deliver_local(&t, msg);
    }

    /// To Ops only.
    pub fn to_ops(&self, msg: &ServerMsg) {
        self.share(Target::Ops, msg);
        self.deliver_local(&Target::Ops, msg);
    }
}
