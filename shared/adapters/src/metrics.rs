//! CloudWatch metrics in the embedded metric format (EMF): one JSON log line per
//! invocation that CloudWatch Logs turns into metric data points, with no API call and
//! no agent. A small writer rather than a metrics crate: it adds no dependency and no
//! work at init (BENCHMARKS.md).
//!
//! Counters are added up during an invocation and written when it ends, every declared
//! metric each time, zeros included, so alarms see a value rather than missing data.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The namespace of every metric this application emits.
pub const NAMESPACE: &str = "FlightAlerts";

#[derive(Debug)]
pub struct Metrics {
    function: String,
    counts: Mutex<BTreeMap<&'static str, u64>>,
    sink: Sink,
}

/// Where flushed documents go.
#[derive(Debug)]
enum Sink {
    /// Standard output, where Lambda collects logs.
    Stdout,
    /// Kept, for tests to read (`flushed_total`).
    Memory(Mutex<Vec<String>>),
}

impl Metrics {
    /// Counters named `names`, for the function this runs as (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn new(names: &[&'static str]) -> Self {
        Self::with_sink(names, Sink::Stdout)
    }

    /// Counters whose documents are kept in memory instead of written: for tests.
    pub fn in_memory(names: &[&'static str]) -> Self {
        Self::with_sink(names, Sink::Memory(Mutex::new(Vec::new())))
    }

    fn with_sink(names: &[&'static str], sink: Sink) -> Self {
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_owned());
        Self { function, counts: Mutex::new(names.iter().map(|n| (*n, 0)).collect()), sink }
    }

    /// The total of a counter over every document flushed to memory so far.
    pub fn flushed_total(&self, name: &str) -> u64 {
        match &self.sink {
            Sink::Memory(lines) => lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter_map(|document| document.get(name).and_then(serde_json::Value::as_u64))
                .sum(),
            Sink::Stdout => 0,
        }
    }

    /// Adds `n` to a counter. A name not declared at `new` is added too (and logged as a
    /// mistake), so a count is never dropped.
    pub fn add(&self, name: &'static str, n: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if !counts.contains_key(name) {
            tracing::warn!(metric = name, "metric not declared");
        }
        *counts.entry(name).or_default() += n;
    }

    /// The EMF document for the counts so far, as one line, and resets them. Written out
    /// directly rather than built as a JSON value: half the instructions per flush
    /// (BENCHMARKS.md). Metric names are identifiers from the code, written as they are.
    pub fn take(&self, timestamp_millis: i128) -> String {
        use std::fmt::Write;

        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut line = String::with_capacity(256 + 48 * counts.len());
        let _ = write!(
            line,
            r#"{{"_aws":{{"Timestamp":{timestamp_millis},"CloudWatchMetrics":[{{"Namespace":"{NAMESPACE}","Dimensions":[["FunctionName"]],"Metrics":["#
        );
        for (i, name) in counts.keys().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            let _ = write!(line, r#"{comma}{{"Name":"{name}","Unit":"Count"}}"#);
        }
        let function = serde_json::to_string(&self.function).unwrap_or_else(|_| "\"unknown\"".to_owned());
        let _ = write!(line, r#"]}}]}},"FunctionName":{function}"#);
        for (name, count) in counts.iter_mut() {
            let _ = write!(line, r#","{name}":{count}"#);
            *count = 0;
        }
        line.push('}');
        line
    }

    /// Writes the counts so far as one EMF line on stdout (where Lambda collects logs).
    pub fn flush(&self) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let line = self.take(now);
        match &self.sink {
            Sink::Stdout => println!("{line}"),
            Sink::Memory(lines) => lines.lock().unwrap_or_else(|e| e.into_inner()).push(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_document_declares_and_carries_every_counter_then_starts_again() {
        let metrics = Metrics::new(&["TextsSent", "TextsFailed"]);
        metrics.add("TextsSent", 3);
        metrics.add("TextsSent", 2);
        let document: serde_json::Value = serde_json::from_str(&metrics.take(1_700_000_000_000)).unwrap();
        assert_eq!(document["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], serde_json::json!([["FunctionName"]]));
        let names: Vec<&str> =
            directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["TextsFailed", "TextsSent"]);
        assert_eq!((document["TextsSent"].as_u64(), document["TextsFailed"].as_u64()), (Some(5), Some(0)));
        assert!(document["FunctionName"].is_string());

        let next: serde_json::Value = serde_json::from_str(&metrics.take(1_700_000_001_000)).unwrap();
        assert_eq!(next["TextsSent"], 0, "counts are per invocation");
    }

    #[test]
    fn flushed_documents_add_up() {
        let metrics = Metrics::in_memory(&["TextsSent"]);
        metrics.add("TextsSent", 2);
        metrics.flush();
        metrics.add("TextsSent", 3);
        metrics.flush();
        assert_eq!(metrics.flushed_total("TextsSent"), 5);
    }

    #[test]
    fn an_undeclared_counter_is_kept_not_dropped() {
        let metrics = Metrics::new(&["A"]);
        metrics.add("B", 1);
        let document: serde_json::Value = serde_json::from_str(&metrics.take(0)).unwrap();
        assert_eq!(document["B"], 1);
        assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(), 2);
    }
}
