//! The roll-up: the days from the event (`{"day": "YYYY-MM-DD"}`, or a schedule's event:
//! the week before it fired, since a day's archive fills while DynamoDB deletes its
//! expired items), for each every archived alert and SMS delivery row of that day counted
//! once, and the report written unless the same report is there already.
//!
//! A failure (S3, an unreadable archive object, the deadline reached) fails the
//! invocation: the asynchronous invocation is retried twice and then lands in the
//! on-failure destination, which an alarm watches; running it again is always safe. Each
//! day's report is written as soon as that day is counted, so the days done stay done.

use std::time::Duration;

use adapters::archive::{ArchiveBucket, DailyReports, Written};
use adapters::deadline::Deadline;
use domain::archive::rollup::report_key;
use domain::archive::{ArchivedTable, DailyReport, RollupDay, RollupDayError, RowError};
use serde_json::{Value, json};

pub struct Rollup {
    pub archive: ArchiveBucket,
    pub reports: DailyReports,
}

#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error(transparent)]
    Day(#[from] RollupDayError),
    #[error("{key}: {source}")]
    Row { key: String, source: RowError },
    #[error("{key} line {line} is not JSON: {reason}")]
    Line { key: String, line: usize, reason: String },
    #[error(transparent)]
    Store(#[from] adapters::Error),
    #[error("out of time counting {day} ({objects} archive objects read); days done: {done:?}")]
    OutOfTime { day: String, objects: usize, done: Vec<String> },
}

impl From<RollupError> for lambda_runtime::Diagnostic {
    fn from(err: RollupError) -> Self {
        let error_type = match err {
            RollupError::Day(_) => "InvalidRollupDay",
            RollupError::Row { .. } | RollupError::Line { .. } => "UnreadableArchive",
            RollupError::Store(_) => "StoreFailed",
            RollupError::OutOfTime { .. } => "OutOfTime",
        };
        Self { error_type: error_type.into(), error_message: err.to_string() }
    }
}

/// The tables the report reads.
const REPORTED: [ArchivedTable; 2] = [ArchivedTable::Alerts, ArchivedTable::SmsDeliveries];

/// Time kept back from the deadline: no archive object is read later, leaving time for
/// the report's write and the answer.
const MARGIN: Duration = Duration::from_secs(10);

pub async fn handle(rollup: &Rollup, event: Value, deadline: Deadline) -> Result<Value, RollupError> {
    let days = RollupDay::from_event(&event).inspect_err(|e| tracing::error!(error = %e, "no day to roll up"))?;
    let mut done = Vec::new();
    for day in days {
        match run(rollup, day, &deadline).await {
            Ok(report) => done.push(report),
            Err(err) => {
                let err = match err {
                    RollupError::OutOfTime { day, objects, .. } => {
                        let done = done.iter().filter_map(|d| d["day"].as_str().map(str::to_owned)).collect();
                        RollupError::OutOfTime { day, objects, done }
                    }
                    other => other,
                };
                tracing::error!(day = %day.iso(), error = %err, "roll-up failed");
                return Err(err);
            }
        }
    }
    Ok(json!({ "days": done }))
}

async fn run(rollup: &Rollup, day: RollupDay, deadline: &Deadline) -> Result<Value, RollupError> {
    let mut report = DailyReport::default();
    let mut objects = 0;
    for table in REPORTED {
        for key in rollup.archive.day_objects(table, day.0).await? {
            if deadline.remaining() < MARGIN {
                return Err(RollupError::OutOfTime { day: day.iso(), objects, done: Vec::new() });
            }
            let lines = rollup.archive.lines(&key).await?;
            for (n, line) in lines.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let row: Value = serde_json::from_str(line).map_err(|e| RollupError::Line {
                    key: key.clone(),
                    line: n + 1,
                    reason: e.to_string(),
                })?;
                report.add(table, &row).map_err(|source| RollupError::Row { key: key.clone(), source })?;
            }
            objects += 1;
        }
    }
    let key = report_key(day);
    let written = rollup.reports.write(&key, report.to_json(day)).await?;
    let written = match written {
        Written::New => "new",
        Written::Replaced => "replaced",
        Written::Unchanged => "unchanged",
    };
    tracing::info!(day = %day.iso(), objects, report = %key, written, "roll-up done");
    Ok(
        json!({"day": day.iso(), "report": format!("s3://{}/{key}", rollup.reports.bucket()), "written": written, "archiveObjects": objects}),
    )
}

#[cfg(test)]
mod tests;
