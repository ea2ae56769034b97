//! Exactly-once SMS delivery on top of at-least-once messaging.
//!
//! Each (alert, passenger) pair has one delivery record. A sender first *claims* it (a
//! conditional write that succeeds only if no record exists, or if an earlier claim was
//! abandoned), then sends, then marks it completed. This module holds the rules; the
//! adapter turns them into DynamoDB condition expressions.

use time::{Duration, OffsetDateTime};

use crate::flight_alerts::alert::AlertId;

/// How long a claim holds before another sender may take it over. It must exceed the SMS
/// function's timeout, so a claim is only taken over from a sender that has really died.
pub const CLAIM_TIMEOUT: Duration = Duration::seconds(120);

/// How long a completed record is kept: longer than a message can live in the queue and
/// its dead-letter queue (14 days), so a replay from either is still recognised.
pub const COMPLETED_RETENTION: Duration = Duration::days(15);

/// The delivery record's key.
pub fn delivery_id(alert: &AlertId, passenger_id: &str) -> String {
    format!("{alert}#{passenger_id}")
}

/// A delivery record as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Someone claimed it and is sending; the claim lapses at `until`.
    InProgress { until: OffsetDateTime },
    /// The text was handed to the SMS service.
    Completed,
}

/// What a sender finds when its claim was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The text went out already: nothing to do.
    AlreadySent,
    /// Another sender holds a live claim: try again after it lapses or completes.
    HeldElsewhere,
    /// The claim lapsed between the write and the read: try again now.
    Lapsed,
}

/// Explains a refused claim from the record read back after the refusal.
pub fn refusal(existing: Option<DeliveryState>, now: OffsetDateTime) -> Refusal {
    match existing {
        Some(DeliveryState::Completed) => Refusal::AlreadySent,
        Some(DeliveryState::InProgress { until }) if until > now => Refusal::HeldElsewhere,
        _ => Refusal::Lapsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-12-01 12:00 UTC);

    #[test]
    fn refusals_say_what_to_do_next() {
        assert_eq!(refusal(Some(DeliveryState::Completed), NOW), Refusal::AlreadySent);
        assert_eq!(
            refusal(Some(DeliveryState::InProgress { until: NOW + CLAIM_TIMEOUT }), NOW),
            Refusal::HeldElsewhere
        );
        assert_eq!(refusal(Some(DeliveryState::InProgress { until: NOW }), NOW), Refusal::Lapsed);
        assert_eq!(refusal(None, NOW), Refusal::Lapsed);
    }

    #[test]
    fn ids_pair_alert_and_passenger() {
        let alert = AlertId::parse("01936b2e-1c2a-7def-8abc-0123456789ab").unwrap();
        assert_eq!(delivery_id(&alert, "r1#00007"), "01936b2e-1c2a-7def-8abc-0123456789ab#r1#00007");
    }
}
