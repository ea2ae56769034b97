//! Exactly-once SMS delivery on top of at-least-once messaging.
//!
//! Each (alert, phone number) pair has one delivery record: one text per number per
//! alert, so a family sharing a phone gets one text, not one each. A sender first
//! *claims* the record (a lease: see `adapters::lease`), then sends, then records the
//! outcome: `SENT`, or `FAILED` with the SMS service's reason when the number can never
//! receive it. This module holds the rules; the adapter turns them into DynamoDB writes.

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::contact::PhoneNumber;
use crate::flight_alerts::alert::AlertId;

/// How long a claim outlives the deadline of the invocation that made it: long enough
/// for a request sent just before the deadline to have been answered. Once it lapses,
/// the claimant is certainly gone (Lambda ends an invocation at its deadline) and the
/// next sender takes the record over at once.
pub const CLAIM_GRACE: Duration = Duration::seconds(10);

/// How long a finished record is kept: longer than a message can live in the queue and
/// its dead-letter queue (14 days), so a replay from either is still recognised. Also the
/// shortest retention a deployment may set ([`check_record_retention`]).
pub const RECORD_RETENTION: Duration = Duration::days(15);

/// Accepts a configured record retention only if it is at least [`RECORD_RETENTION`]: a
/// record deleted while a message for it may still be replayed would let that replay
/// text the passenger again.
pub fn check_record_retention(retention: Duration) -> Result<Duration, String> {
    if retention >= RECORD_RETENTION {
        Ok(retention)
    } else {
        Err(format!(
            "must be at least {} days, longer than a message can live in the SMS queue and its \
             dead-letter queue (14 days), or a replayed message could text a passenger twice; it is {} days",
            RECORD_RETENTION.whole_days(),
            retention.whole_days()
        ))
    }
}

/// When a claim made by an invocation ending at `deadline` lapses.
pub fn claim_until(deadline: OffsetDateTime) -> OffsetDateTime {
    deadline + CLAIM_GRACE
}

/// The delivery record's key: the alert and a digest of the number, so the table holds
/// no phone numbers.
pub fn delivery_id(alert: &AlertId, to: &PhoneNumber) -> String {
    let digest = Sha256::digest(to.e164().as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{alert}#{hex}")
}

/// A delivery record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryState {
    /// Someone claimed it and is sending; the claim lapses at `until`.
    InProgress { until: OffsetDateTime },
    /// The text was handed to the SMS service.
    Sent,
    /// The SMS service refused the number for good; `reason` is its error code.
    Failed { reason: String },
}

impl DeliveryState {
    /// Whether nothing more is to be done for this number.
    pub fn is_final(&self) -> bool {
        !matches!(self, DeliveryState::InProgress { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: OffsetDateTime = time::macros::datetime!(2026-12-01 12:00 UTC);

    #[test]
    fn a_claim_outlives_its_invocation() {
        assert!(claim_until(DEADLINE) > DEADLINE);
        assert_eq!(claim_until(DEADLINE) - DEADLINE, CLAIM_GRACE);
    }

    #[test]
    fn ids_pair_the_alert_with_a_digest_of_the_number() {
        let alert = AlertId::parse("01936b2e-1c2a-7def-8abc-0123456789ab").unwrap();
        let number = PhoneNumber::from_e164("+14155552671").unwrap();
        let id = delivery_id(&alert, &number);
        assert!(id.starts_with("01936b2e-1c2a-7def-8abc-0123456789ab#"));
        assert_eq!(id.len(), 36 + 1 + 32);
        assert!(!id.contains("4155552671"), "no number in the key");
        assert_eq!(id, delivery_id(&alert, &PhoneNumber::from_e164("+14155552671").unwrap()), "stable");
        assert_ne!(id, delivery_id(&alert, &PhoneNumber::from_e164("+14155552672").unwrap()));
    }

    #[test]
    fn records_are_kept_at_least_as_long_as_a_message_can_be_replayed() {
        assert_eq!(check_record_retention(Duration::days(15)), Ok(Duration::days(15)));
        assert_eq!(check_record_retention(Duration::days(90)), Ok(Duration::days(90)));
        let refused = check_record_retention(Duration::days(14)).unwrap_err();
        assert!(refused.contains("at least 15 days") && refused.contains("it is 14 days"), "{refused}");
        assert!(check_record_retention(Duration::ZERO).is_err());
    }

    #[test]
    fn only_claims_in_progress_leave_work_to_do() {
        assert!(DeliveryState::Sent.is_final());
        assert!(DeliveryState::Failed { reason: "InvalidParameter".into() }.is_final());
        assert!(!DeliveryState::InProgress { until: DEADLINE }.is_final());
    }
}
