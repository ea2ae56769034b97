//! Where archived rows go: `table=<t>/year=YYYY/month=MM/day=DD/<first sequence>.jsonl.gz`.
//!
//! The day is the day the item's TTL passed (its `expiresAt`, UTC), not the day DynamoDB
//! got round to deleting it (AWS deletes within days): a row's place depends on the item
//! alone, however late or often its record is delivered.
//!
//! A stream batch is cut into runs of consecutive records of one partition, and each run is
//! one object named by its *first* sequence number. Lambda retries a batch from a record
//! it holds (the batch's first, or the one reported as failed), and bisects a failing batch
//! into halves that start at one of its records; so a redelivered run starting at the same
//! record overwrites the same object (with the same rows, or fewer when a bisection cut
//! it, the rest landing under the object of the half that starts with them), and nothing
//! is written twice under two names. The roll-up still counts each sequence number once.

use time::{Date, OffsetDateTime};

/// The tables whose expired items are archived, and their names in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArchivedTable {
    Alerts,
    SmsDeliveries,
    Feedback,
}

impl ArchivedTable {
    pub const ALL: [ArchivedTable; 3] = [Self::Alerts, Self::SmsDeliveries, Self::Feedback];

    /// The name in the archive's paths (`table=<name>`) and rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alerts => "alerts",
            Self::SmsDeliveries => "sms-deliveries",
            Self::Feedback => "feedback",
        }
    }
}

/// One table's rows of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    pub table: ArchivedTable,
    pub day: Date,
}

impl Partition {
    /// The partition of an item that expired at `expired_at` (see [`expiry`]).
    pub fn of(table: ArchivedTable, expired_at: OffsetDateTime) -> Self {
        Self { table, day: expired_at.date() }
    }

    /// The partition's folder, ending in `/`.
    pub fn prefix(&self) -> String {
        day_prefix(self.table, self.day)
    }
}

/// When an item expired: its TTL attribute (`expires_at`, epoch seconds), or `removed_at`
/// (the stream record's time) for an item whose TTL attribute cannot be read, which
/// DynamoDB would not have expired, but a row is kept rather than lost.
pub fn expiry(expires_at: Option<i64>, removed_at: OffsetDateTime) -> OffsetDateTime {
    expires_at.and_then(|epoch| OffsetDateTime::from_unix_timestamp(epoch).ok()).unwrap_or(removed_at)
}

/// A table's folder for one day, ending in `/`.
pub fn day_prefix(table: ArchivedTable, day: Date) -> String {
    format!("table={}/year={:04}/month={:02}/day={:02}/", table.as_str(), day.year(), u8::from(day.month()), day.day())
}

/// The object holding a run of one partition's rows that starts at `first_sequence`.
pub fn object_key(partition: &Partition, first_sequence: &str) -> String {
    format!("{}{first_sequence}.jsonl.gz", partition.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn rows_go_to_the_day_their_item_expired() {
        let removed = datetime!(2026-12-30 08:00 UTC);
        let expired = datetime!(2026-12-24 23:59:59 UTC).unix_timestamp();
        let partition = Partition::of(ArchivedTable::Alerts, expiry(Some(expired), removed));
        assert_eq!(partition.day, date!(2026 - 12 - 24));
        assert_eq!(partition.prefix(), "table=alerts/year=2026/month=12/day=24/");
        assert_eq!(
            object_key(&partition, "4200000000000012345"),
            "table=alerts/year=2026/month=12/day=24/4200000000000012345.jsonl.gz"
        );
        let unreadable = Partition::of(ArchivedTable::SmsDeliveries, expiry(None, removed));
        assert_eq!(unreadable.prefix(), "table=sms-deliveries/year=2026/month=12/day=30/");
    }

    #[test]
    fn table_names_are_distinct() {
        let names: std::collections::HashSet<_> = ArchivedTable::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names.len(), ArchivedTable::ALL.len());
    }
}
