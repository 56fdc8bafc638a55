//! The case and its responders as a pure state machine (no I/O): what may happen next, and
//! what it changes. The store loads a case, applies a transition here, and writes the result
//! with the timeline entry and events in one transaction.

use kreki_emergency_contracts::{CaseStatus, ResponderStatus};

/// Why a transition is refused (each maps to a 409/403/404 with a stable code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("the case is closed")]
    CaseClosed,
    #[error("this volunteer was not offered the case")]
    NotOffered,
    #[error("this volunteer already answered the offer")]
    AlreadyAnswered,
    #[error("enough responders accepted; not needed")]
    CaseFull,
    #[error("this volunteer is not a responder of the case")]
    NotResponder,
    #[error("a status may skip forward but never go back")]
    StatusBackwards,
    #[error("only the team lead or Ops may complete the case")]
    NotLead,
}

/// A responder of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    pub volunteer_id: String,
    pub status: ResponderStatus,
    pub is_lead: bool,
    pub eta_minutes: Option<u32>,
}

/// The state that transitions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseState {
    pub status: CaseStatus,
    pub responders: Vec<Responder>,
    /// Accepts wanted before the case stops offering (N-to-1).
    pub accepts_wanted: usize,
}

/// The answer to an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferState {
    /// Sent, not answered, not expired.
    Open,
    Accepted,
    Declined,
    Expired,
    Withdrawn,
}

/// What an accept did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The first accept is the team lead.
    pub is_lead: bool,
    /// The case now has as many responders as wanted.
    pub now_full: bool,
}

impl CaseState {
    fn open(&self) -> Result<(), DomainError> {
        if self.status.is_open() {
            Ok(())
        } else {
            Err(DomainError::CaseClosed)
        }
    }

    pub fn responder(&self, volunteer: &str) -> Option<&Responder> {
        self.responders.iter().find(|r| r.volunteer_id == volunteer)
    }

    /// A volunteer accepts their offer.
    pub fn accept(
        &mut self,
        volunteer: &str,
        offer: Option<OfferState>,
        eta_minutes: Option<u32>,
    ) -> Result<Accepted, DomainError> {
        self.open()?;
        match offer {
            None => return Err(DomainError::NotOffered),
            Some(OfferState::Accepted | OfferState::Declined) => {
                return Err(DomainError::AlreadyAnswered);
            }
            // An expired or withdrawn offer may still be taken while the case needs people:
            // a volunteer who saw it late is still welcome.
            Some(OfferState::Open | OfferState::Expired | OfferState::Withdrawn) => {}
        }
        if self.responder(volunteer).is_some() {
            return Err(DomainError::AlreadyAnswered);
        }
        if self.responders.len() >= self.accepts_wanted {
            return Err(DomainError::CaseFull);
        }
        let is_lead = self.responders.is_empty();
        self.responders.push(Responder {
            volunteer_id: volunteer.to_string(),
            status: ResponderStatus::Accepted,
            is_lead,
            eta_minutes,
        });
        if self.status == CaseStatus::Pending {
            self.status = CaseStatus::Assigned;
        }
        Ok(Accepted {
            is_lead,
            now_full: self.responders.len() >= self.accepts_wanted,
        })
    }

    /// A volunteer declines their offer.
    pub fn decline(&self, offer: Option<OfferState>) -> Result<(), DomainError> {
        self.open()?;
        match offer {
            None => Err(DomainError::NotOffered),
            Some(OfferState::Accepted | OfferState::Declined) => Err(DomainError::AlreadyAnswered),
            Some(_) => Ok(()),
        }
    }

    /// A responder reports a new status.
    pub fn set_status(
        &mut self,
        volunteer: &str,
        status: ResponderStatus,
    ) -> Result<(), DomainError> {
        self.open()?;
        let r = self
            .responders
            .iter_mut()
            .find(|r| r.volunteer_id == volunteer)
            .ok_or(DomainError::NotResponder)?;
        if status <= r.status {
            return Err(DomainError::StatusBackwards);
        }
        r.status = status;
        if status >= ResponderStatus::Arrived && self.status == CaseStatus::Assigned {
            self.status = CaseStatus::Responding;
        }
        Ok(())
    }

    /// Complete the case: the team lead, or Ops (`by_ops`).
    pub fn complete(&mut self, by: &str, by_ops: bool) -> Result<(), DomainError> {
        self.open()?;
        if !by_ops && !self.responder(by).is_some_and(|r| r.is_lead) {
            return Err(DomainError::NotLead);
        }
        self.status = CaseStatus::Completed;
        Ok(())
    }

    /// The caller (or Ops) cancels.
    pub fn cancel(&mut self) -> Result<(), DomainError> {
        self.open()?;
        self.status = CaseStatus::Cancelled;
        Ok(())
    }
}

/// A 4-digit code the caller shows at the door; a responder sees it only after accepting.
pub fn handshake_code() -> String {
    use rand::Rng;
    format!("{:04}", rand::thread_rng().gen_range(0..10_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> CaseState {
        CaseState {
            status: CaseStatus::Pending,
            responders: vec![],
            accepts_wanted: 2,
        }
    }

    #[test]
    fn n_to_1_with_lead_and_full() {
        let mut c = case();
        assert_eq!(c.accept("x", None, None), Err(DomainError::NotOffered));
        let a = c.accept("a", Some(OfferState::Open), Some(4)).unwrap();
        assert!(a.is_lead && !a.now_full);
        assert_eq!(c.status, CaseStatus::Assigned);
        assert_eq!(
            c.accept("a", Some(OfferState::Open), None),
            Err(DomainError::AlreadyAnswered)
        );
        let b = c.accept("b", Some(OfferState::Expired), None).unwrap();
        assert!(!b.is_lead && b.now_full);
        assert_eq!(
            c.accept("c", Some(OfferState::Open), None),
            Err(DomainError::CaseFull)
        );
        assert_eq!(
            c.decline(Some(OfferState::Accepted)),
            Err(DomainError::AlreadyAnswered)
        );
    }

    #[test]
    fn statuses_skip_forward_never_back() {
        let mut c = case();
        c.accept("a", Some(OfferState::Open), None).unwrap();
        assert_eq!(
            c.set_status("z", ResponderStatus::Arrived),
            Err(DomainError::NotResponder)
        );
        c.set_status("a", ResponderStatus::Intervention).unwrap();
        assert_eq!(c.status, CaseStatus::Responding);
        assert_eq!(
            c.set_status("a", ResponderStatus::Arrived),
            Err(DomainError::StatusBackwards)
        );
        assert_eq!(
            c.set_status("a", ResponderStatus::Intervention),
            Err(DomainError::StatusBackwards)
        );
        c.set_status("a", ResponderStatus::Resolved).unwrap();
    }

    #[test]
    fn completion_and_cancellation() {
        let mut c = case();
        c.accept("lead", Some(OfferState::Open), None).unwrap();
        c.accept("member", Some(OfferState::Open), None).unwrap();
        assert_eq!(c.complete("member", false), Err(DomainError::NotLead));
        c.complete("lead", false).unwrap();
        assert_eq!(c.status, CaseStatus::Completed);
        assert_eq!(c.cancel(), Err(DomainError::CaseClosed));
        let mut c = case();
        c.complete("ops-1", true).unwrap();
        let mut c = case();
        c.cancel().unwrap();
        assert_eq!(
            c.accept("a", Some(OfferState::Open), None),
            Err(DomainError::CaseClosed)
        );
    }

    #[test]
    fn handshake_codes_are_four_digits() {
        for _ in 0..100 {
            let c = handshake_code();
            assert_eq!(c.len(), 4);
            assert!(c.chars().all(|ch| ch.is_ascii_digit()));
        }
    }
}
