//! The invocation log: one JSON line per invocation, in a file and on the control API,
//! so a person can watch the choreography and tests can assert on it without scraping
//! function logs.
//!
//! Each line: `time`, `source` (what triggered it, e.g. `sqs:SmsQueue`, `api:POST
//! /flights`, `dynamodb:AlertsTable`, `invoke`), `function`, `requestId`, `attempt` (for
//! retried deliveries), `coldStart`, `environment`, `records` (records in the event, when
//! it is a batch), `outcome` (`ok`, `batch-item-failures`, `error`, `timeout`, `crashed`,
//! `throttled`), `batchItemFailures`, `errorType`, `durationMs`, `initMs`,
//! `peakMemoryMiB` against `memorySizeMiB`, and the `correlationIds` the function logged.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use tokio::sync::Notify;

use crate::Error;
use crate::lambda::{FunctionConfig, Invocation, Outcome};

/// Entries kept in memory for the control API (the file keeps them all).
const KEPT: usize = 100_000;

pub struct InvocationLog {
    file: Option<Mutex<std::fs::File>>,
    entries: Mutex<Entries>,
    added: Notify,
}

/// The newest entries, and how many older ones were dropped: entries keep their index.
#[derive(Default)]
struct Entries {
    dropped: usize,
    kept: VecDeque<Value>,
}

impl InvocationLog {
    /// A log kept in memory and appended to `path` (created fresh).
    pub fn create(path: Option<&Path>) -> Result<Self, Error> {
        let file = match path {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|source| Error::Read { path: dir.display().to_string(), source })?;
                }
                let file = std::fs::File::create(path)
                    .map_err(|source| Error::Read { path: path.display().to_string(), source })?;
                Some(Mutex::new(file))
            }
            None => None,
        };
        Ok(Self { file, entries: Mutex::new(Entries::default()), added: Notify::new() })
    }

    pub fn record(&self, entry: Value) {
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(file, "{entry}");
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.kept.push_back(entry);
        if entries.kept.len() > KEPT {
            entries.kept.pop_front();
            entries.dropped += 1;
        }
        drop(entries);
        self.added.notify_waiters();
    }

    /// Entries from index `from` on (those still kept).
    pub fn since(&self, from: usize) -> Vec<Value> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.kept.iter().skip(from.saturating_sub(entries.dropped)).cloned().collect()
    }

    /// Waits until there are entries past index `from` (or `within` passes).
    pub async fn wait_past(&self, from: usize, within: std::time::Duration) {
        let added = self.added.notified();
        let present = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.dropped + entries.kept.len()
        };
        if present <= from {
            let _ = tokio::time::timeout(within, added).await;
        }
    }
}

/// The log line for one invocation of `function` with `payload`, triggered by `source`.
pub fn entry(
    function: &FunctionConfig,
    source: &str,
    attempt: u32,
    payload: &[u8],
    invocation: &Invocation,
    correlation_ids: &[String],
) -> Value {
    let records = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|event| event.get("Records").and_then(Value::as_array).map(Vec::len));
    let mut entry = json!({
        "time": invocation.started_at.format(&Rfc3339).unwrap_or_default(),
        "source": source,
        "function": function.name,
        "requestId": invocation.request_id,
        "attempt": attempt,
        "coldStart": invocation.init.is_some(),
        "environment": invocation.environment,
        "records": records,
        "durationMs": round2(invocation.duration.as_secs_f64() * 1000.0),
        "initMs": invocation.init.map(|d| round2(d.as_secs_f64() * 1000.0)),
        "peakMemoryMiB": invocation.peak_memory_kib.map(|kib| round2(kib as f64 / 1024.0)),
        "memorySizeMiB": function.memory_mb,
        "correlationIds": correlation_ids,
    });
    let (outcome, failures, error_type) = match &invocation.outcome {
        Outcome::Ok(body) => {
            let failures = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|r| r.get("batchItemFailures").and_then(Value::as_array).map(Vec::len))
                .filter(|n| *n > 0);
            (if failures.is_some() { "batch-item-failures" } else { "ok" }, failures, None)
        }
        Outcome::Error { error_type, .. } => ("error", None, Some(error_type.clone())),
        Outcome::Timeout => ("timeout", None, Some("Sandbox.Timedout".to_owned())),
        Outcome::Crashed { error_type, .. } => ("crashed", None, Some(error_type.clone())),
        Outcome::Throttled => ("throttled", None, Some("TooManyRequestsException".to_owned())),
    };
    entry["outcome"] = json!(outcome);
    entry["batchItemFailures"] = json!(failures.unwrap_or(0));
    entry["errorType"] = json!(error_type);
    entry
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
