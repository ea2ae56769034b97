//! The daily roll-up: what one day's archive holds about flight alerts — alerts per
//! carrier, route and kind, and texts sent and failed — as a report whose bytes depend only
//! on the rows, so running it again for the same day writes nothing new.
//!
//! It is a direct aggregation, not a map/reduce job: the map/reduce pipeline cuts one CSV
//! file into byte ranges, the archive is many gzip objects; counting each row once needs
//! the day's rows in one place (a row can be in two objects, whose ranges cannot be
//! compared across a stream's shards); and a day's archive is small (a million alerts a
//! day gzip to tens of MB). README: the daily roll-up.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use super::partition::ArchivedTable;

/// Which day a roll-up covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupDay(pub Date);

/// How many days before it fired the scheduled roll-up covers. DynamoDB deletes expired
/// items typically within a few days of their expiry, so a day's archive fills for days
/// after it: each night rolls up the last week again, and a report changes (and is
/// rewritten) only while rows are still arriving.
pub const SCHEDULED_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollupDayError {
    #[error("day {0:?} is not a date (YYYY-MM-DD)")]
    BadDay(String),
    #[error("time {0:?} is not an RFC 3339 time")]
    BadTime(String),
    #[error("the event has neither a day (YYYY-MM-DD) nor a schedule's time")]
    Missing,
}

impl RollupDay {
    /// The days the invoking event asks for: `{"day": "2026-12-24"}` on demand, that day;
    /// a schedule's event, whose `time` is when it fired, the [`SCHEDULED_DAYS`] before it,
    /// the day before first.
    pub fn from_event(event: &Value) -> Result<Vec<Self>, RollupDayError> {
        if let Some(day) = event.get("day").and_then(Value::as_str) {
            let format = format_description!("[year]-[month]-[day]");
            return Date::parse(day, &format)
                .map(|d| vec![Self(d)])
                .map_err(|_| RollupDayError::BadDay(day.to_owned()));
        }
        let Some(time) = event.get("time").and_then(Value::as_str) else {
            return Err(RollupDayError::Missing);
        };
        let fired = OffsetDateTime::parse(time, &Rfc3339).map_err(|_| RollupDayError::BadTime(time.to_owned()))?;
        let today = fired.to_offset(time::UtcOffset::UTC).date();
        Ok((1..=SCHEDULED_DAYS).map(|back| Self(today - Duration::days(back))).collect())
    }

    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }
}

/// The report, built from archived rows in any order, each counted once.
#[derive(Debug, Clone, Default)]
pub struct DailyReport {
    /// The rows counted, by [`row_key`]: 16 bytes each, so a day of millions fits.
    seen: HashSet<u128>,
    alerts: BTreeMap<AlertGroup, u64>,
    texts: Texts,
    rows: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct AlertGroup {
    carrier: String,
    origin: String,
    destination: String,
    kind: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Texts {
    sent: u64,
    failed: u64,
    /// Claimed but never finished (the sender died and no retry came before expiry).
    unfinished: u64,
    failed_by_reason: BTreeMap<String, u64>,
}

/// What a row said that the report cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("archived row of {table} has no {field}")]
pub struct RowError {
    pub table: &'static str,
    pub field: &'static str,
}

impl DailyReport {
    /// Counts one archived row (a line of the archive, parsed) of `table`; a sequence
    /// number seen before is not counted again. Returns whether the row was new.
    pub fn add(&mut self, table: ArchivedTable, row: &Value) -> Result<bool, RowError> {
        let name = table.as_str();
        let Some(sequence) = row.get("sequenceNumber").and_then(Value::as_str) else {
            return Err(RowError { table: name, field: "sequenceNumber" });
        };
        if !self.seen.insert(row_key(table, sequence)) {
            return Ok(false);
        }
        *self.rows.entry(name).or_default() += 1;
        let item = &row["item"];
        let text = |field: &str| item.get(field).and_then(Value::as_str).unwrap_or("unknown").to_owned();
        match table {
            ArchivedTable::Alerts => {
                // Idempotency keys share the table and expire with their alert; only alerts count.
                if !item.get("sk").and_then(Value::as_str).is_some_and(|sk| sk.starts_with("ALERT#")) {
                    return Ok(true);
                }
                let group = AlertGroup {
                    carrier: text("carrier"),
                    origin: text("origin"),
                    destination: text("destination"),
                    kind: text("type"),
                };
                *self.alerts.entry(group).or_default() += 1;
            }
            ArchivedTable::SmsDeliveries => match item.get("state").and_then(Value::as_str) {
                Some("SENT") => self.texts.sent += 1,
                Some("FAILED") => {
                    self.texts.failed += 1;
                    *self.texts.failed_by_reason.entry(text("reason")).or_default() += 1;
                }
                _ => self.texts.unfinished += 1,
            },
            ArchivedTable::Feedback => {}
        }
        Ok(true)
    }

    /// The report as JSON: the same rows give the same bytes.
    pub fn to_json(&self, day: RollupDay) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Group<'a> {
            #[serde(flatten)]
            group: &'a AlertGroup,
            alerts: u64,
        }
        let groups: Vec<Group> = self.alerts.iter().map(|(group, &alerts)| Group { group, alerts }).collect();
        let report = serde_json::json!({
            "day": day.iso(),
            "alerts": {"total": self.alerts.values().sum::<u64>(), "byCarrierRouteKind": groups},
            "texts": self.texts,
            "archivedRows": self.rows,
        });
        let mut bytes = serde_json::to_vec_pretty(&report).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// A row's identity: its table and stream sequence number (up to 40 digits, more than a
/// `u128` holds), as 128 bits of their SHA-256: no two rows of a day collide but with a
/// chance far below any hardware fault's.
fn row_key(table: ArchivedTable, sequence: &str) -> u128 {
    let mut hash = Sha256::new();
    hash.update(table.as_str().as_bytes());
    hash.update([0]);
    hash.update(sequence.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

/// Where the report for a day goes in the results bucket.
pub fn report_key(day: RollupDay) -> String {
    format!(
        "rollups/daily/year={:04}/month={:02}/day={:02}/report.json",
        day.0.year(),
        u8::from(day.0.month()),
        day.0.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn alert(seq: &str, carrier: &str, kind: &str) -> Value {
        json!({"table": "alerts", "sequenceNumber": seq, "item": {"sk": format!("ALERT#{seq}"), "carrier": carrier, "origin": "SFO", "destination": "JFK", "type": kind}})
    }

    #[test]
    fn the_day_is_given_or_the_week_before_the_schedule_fired() {
        assert_eq!(RollupDay::from_event(&json!({"day": "2026-12-24"})).unwrap(), [RollupDay(date!(2026 - 12 - 24))]);
        let scheduled =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-12-25T00:15:00Z"});
        let days: Vec<String> = RollupDay::from_event(&scheduled).unwrap().iter().map(RollupDay::iso).collect();
        assert_eq!(
            days,
            ["2026-12-24", "2026-12-23", "2026-12-22", "2026-12-21", "2026-12-20", "2026-12-19", "2026-12-18"]
        );
        assert_eq!(RollupDay::from_event(&json!({"time": "2026-03-01T00:00:00Z"})).unwrap()[0].iso(), "2026-02-28");
        assert_eq!(
            RollupDay::from_event(&json!({"day": "24/12/2026"})),
            Err(RollupDayError::BadDay("24/12/2026".into()))
        );
        assert_eq!(RollupDay::from_event(&json!({"time": "soon"})), Err(RollupDayError::BadTime("soon".into())));
        assert_eq!(RollupDay::from_event(&json!({})), Err(RollupDayError::Missing));
    }

    #[test]
    fn alerts_are_counted_per_group_and_texts_per_outcome_each_row_once() {
        let mut report = DailyReport::default();
        assert!(report.add(ArchivedTable::Alerts, &alert("1", "UA", "delay")).unwrap());
        assert!(report.add(ArchivedTable::Alerts, &alert("2", "UA", "delay")).unwrap());
        assert!(report.add(ArchivedTable::Alerts, &alert("3", "B6", "cancellation")).unwrap());
        assert!(!report.add(ArchivedTable::Alerts, &alert("2", "UA", "delay")).unwrap(), "seen before");
        let key = json!({"sequenceNumber": "4", "item": {"sk": "KEY#abc"}});
        assert!(report.add(ArchivedTable::Alerts, &key).unwrap());
        for (seq, state, reason) in [
            ("1", "SENT", None),
            ("2", "SENT", None),
            ("5", "FAILED", Some("InvalidParameter")),
            ("6", "IN_PROGRESS", None),
        ] {
            let mut row = json!({"sequenceNumber": seq, "item": {"state": state}});
            if let Some(reason) = reason {
                row["item"]["reason"] = json!(reason);
            }
            assert!(report.add(ArchivedTable::SmsDeliveries, &row).unwrap());
        }
        let out: Value = serde_json::from_slice(&report.to_json(RollupDay(date!(2026 - 12 - 24)))).unwrap();
        assert_eq!(out["day"], "2026-12-24");
        assert_eq!(out["alerts"]["total"], 3);
        assert_eq!(
            out["alerts"]["byCarrierRouteKind"],
            json!([
                {"carrier": "B6", "origin": "SFO", "destination": "JFK", "kind": "cancellation", "alerts": 1},
                {"carrier": "UA", "origin": "SFO", "destination": "JFK", "kind": "delay", "alerts": 2}
            ])
        );
        assert_eq!(
            out["texts"],
            json!({"sent": 2, "failed": 1, "unfinished": 1, "failedByReason": {"InvalidParameter": 1}})
        );
        assert_eq!(out["archivedRows"], json!({"alerts": 4, "sms-deliveries": 4}));
    }

    #[test]
    fn the_same_rows_in_another_order_give_the_same_bytes() {
        let rows = [alert("1", "UA", "delay"), alert("2", "AA", "gateChange"), alert("3", "UA", "delay")];
        let mut forward = DailyReport::default();
        let mut backward = DailyReport::default();
        for row in &rows {
            forward.add(ArchivedTable::Alerts, row).unwrap();
        }
        for row in rows.iter().rev() {
            backward.add(ArchivedTable::Alerts, row).unwrap();
        }
        let day = RollupDay(date!(2026 - 01 - 02));
        assert_eq!(forward.to_json(day), backward.to_json(day));
        assert_eq!(report_key(day), "rollups/daily/year=2026/month=01/day=02/report.json");
    }

    #[test]
    fn rows_are_told_apart_by_table_and_sequence_number() {
        let mut report = DailyReport::default();
        let forty_digits = "4".repeat(40);
        let row = json!({"sequenceNumber": forty_digits, "item": {"state": "SENT"}});
        assert!(report.add(ArchivedTable::SmsDeliveries, &row).unwrap());
        assert!(!report.add(ArchivedTable::SmsDeliveries, &row).unwrap(), "the same row again");
        assert!(report.add(ArchivedTable::Alerts, &row).unwrap(), "another table's row of that number");
        assert_ne!(row_key(ArchivedTable::Alerts, "12"), row_key(ArchivedTable::Alerts, "21"));
    }

    #[test]
    fn a_row_without_a_sequence_number_is_refused() {
        let err = DailyReport::default().add(ArchivedTable::Alerts, &json!({"item": {}})).unwrap_err();
        assert_eq!(err.field, "sequenceNumber");
    }
}
