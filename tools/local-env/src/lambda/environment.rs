//! One execution environment: a function's process and the Runtime API it polls.
//!
//! As on Lambda, an environment serves one invocation at a time and is reused while it
//! stays healthy; one that timed out, crashed or ran out of memory is discarded, and the
//! next invocation starts a fresh one (a cold start). Dropping the value kills the process.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{oneshot, watch};

use super::runtime_api::{Answer, Event, RuntimeApi};
use crate::Error;

/// Lambda's limit on the init phase.
pub const INIT_LIMIT: Duration = Duration::from_secs(10);
/// How often memory is checked against the limit while an invocation runs.
const MEMORY_CHECK: Duration = Duration::from_millis(50);
/// Log lines kept for diagnosing a failed start or crash.
const TAIL_LINES: usize = 40;

/// How to start the process.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Prefix of the process's forwarded log lines: `[label] ...`.
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// The whole environment, except `AWS_LAMBDA_RUNTIME_API`, which each environment sets.
    pub env: Vec<(String, String)>,
}

/// The last lines the process printed.
#[derive(Default)]
struct Capture {
    tail: VecDeque<String>,
}

/// Correlation ids found in a function's JSON log lines, by the request id on the same
/// line. Lines are read concurrently with the invocation, so they are gathered by request
/// and collected once the invocation's output has been read.
#[derive(Default)]
pub struct Correlations {
    by_request: Mutex<std::collections::HashMap<String, BTreeSet<String>>>,
}

impl Correlations {
    fn add(&self, request_id: String, ids: BTreeSet<String>) {
        let mut map = lock(&self.by_request);
        // Bounded: ids of invocations nobody collects are dropped.
        if map.len() > 10_000 {
            map.clear();
        }
        map.entry(request_id).or_default().extend(ids);
    }

    /// The correlation ids an invocation logged (once).
    pub fn take(&self, request_id: &str) -> Vec<String> {
        lock(&self.by_request).remove(request_id).map(|ids| ids.into_iter().collect()).unwrap_or_default()
    }
}

/// What came of handing an event to an environment.
#[derive(Debug)]
pub enum Ended {
    Answered(Answer),
    /// The function ran past its timeout and was stopped.
    TimedOut,
    /// The process exited (or never took the event); the text says how.
    Exited(String),
    /// The process's memory grew past the function's `MemorySize` and it was stopped.
    OutOfMemory {
        peak_kib: u64,
    },
}

pub struct ExecutionEnvironment {
    pub id: u64,
    /// The function's code version this environment runs (see `Function::restart`).
    pub generation: u64,
    /// Invocations served so far; 0 means the next one is a cold start.
    pub invocations: u64,
    pid: Option<u32>,
    started: Instant,
    api: RuntimeApi,
    capture: Arc<Mutex<Capture>>,
    exited: watch::Receiver<Option<String>>,
    // Dropping this sender kills the process.
    _kill: oneshot::Sender<()>,
}

impl ExecutionEnvironment {
    /// Starts the process; it initialises and then asks the Runtime API for work.
    pub async fn start(
        launch: &Launch,
        id: u64,
        generation: u64,
        correlations: Arc<Correlations>,
    ) -> Result<Self, Error> {
        let api = RuntimeApi::start().await?;
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.args)
            .current_dir(&launch.cwd)
            .env_clear()
            .envs(launch.env.iter().cloned())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Ok(path) = std::env::var("PATH") {
            command.env("PATH", path);
        }
        let started = Instant::now();
        let mut child =
            command.spawn().map_err(|e| Error::Process(format!("cannot start {}: {e}", launch.program.display())))?;
        let capture = Arc::new(Mutex::new(Capture::default()));
        if let Some(out) = child.stdout.take() {
            forward(out, launch.label.clone(), capture.clone(), correlations.clone());
        }
        if let Some(err) = child.stderr.take() {
            forward(err, launch.label.clone(), capture.clone(), correlations);
        }
        let pid = child.id();
        let (exit_tx, exited) = watch::channel(None);
        let (kill, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let text = match status {
                Ok(status) => status.to_string(),
                Err(err) => err.to_string(),
            };
            let _ = exit_tx.send(Some(text));
        });
        Ok(Self { id, generation, invocations: 0, pid, started, api, capture, exited, _kill: kill })
    }

    /// Time from start to the first `next`, once the process has asked for work.
    pub fn init_duration(&self) -> Option<Duration> {
        self.api.first_next().map(|at| at - self.started)
    }

    /// The process's peak resident memory so far (Lambda's "Max Memory Used").
    pub fn peak_memory_kib(&self) -> Option<u64> {
        self.pid.and_then(|pid| proc_status_kib(pid, "VmHWM:"))
    }

    fn memory_kib(&self) -> Option<u64> {
        self.pid.and_then(|pid| proc_status_kib(pid, "VmRSS:"))
    }

    pub fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    /// The last lines the process printed.
    pub fn log_tail(&self) -> Vec<String> {
        lock(&self.capture).tail.iter().cloned().collect()
    }

    /// Hands `event` over and waits for its end: an answer, the timeout (counted from when
    /// the runtime took the event, as Lambda counts it), the process exiting, or memory
    /// beyond `memory_limit_kib`.
    pub async fn invoke(&mut self, event: Event, memory_limit_kib: u64) -> Ended {
        let timeout = event.timeout;
        let pending = self.api.submit(event);
        let ended = self.run(pending, timeout, memory_limit_kib).await;
        self.invocations += 1;
        ended
    }

    async fn run(&mut self, pending: super::runtime_api::Pending, timeout: Duration, limit_kib: u64) -> Ended {
        let mut exited = self.exited.clone();
        let exit_text = |exited: &watch::Receiver<Option<String>>| exited.borrow().clone().unwrap_or_default();
        // Until the runtime takes the event: its init, if this is a fresh environment.
        let taken = tokio::select! {
            taken = pending.taken => match taken {
                Ok(at) => at,
                Err(_) => return Ended::Exited("the runtime API stopped".into()),
            },
            _ = exited.wait_for(Option::is_some) => {
                let reason = self.api.init_error().unwrap_or_else(|| exit_text(&self.exited));
                return Ended::Exited(format!("the runtime exited before taking the event: {reason}"));
            }
            _ = tokio::time::sleep(INIT_LIMIT) => {
                return Ended::Exited(format!("init did not finish within {} s", INIT_LIMIT.as_secs()));
            }
        };
        let deadline = tokio::time::Instant::from_std(taken + timeout);
        let mut answer = pending.answer;
        let mut memory_check = tokio::time::interval(MEMORY_CHECK);
        loop {
            tokio::select! {
                answer = &mut answer => return match answer {
                    Ok(answer) => Ended::Answered(answer),
                    Err(_) => Ended::Exited("the runtime API stopped".into()),
                },
                _ = exited.wait_for(Option::is_some) => {
                    return Ended::Exited(format!("Runtime exited with error: {}", exit_text(&self.exited)));
                }
                _ = tokio::time::sleep_until(deadline) => return Ended::TimedOut,
                _ = memory_check.tick() => {
                    if let Some(kib) = self.memory_kib().filter(|kib| *kib > limit_kib) {
                        return Ended::OutOfMemory { peak_kib: kib };
                    }
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A figure from /proc/<pid>/status, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))
}

/// Copies the process's output lines to our stderr, prefixed with its label, and keeps
/// what the invocation log needs from them.
fn forward(
    stream: impl AsyncRead + Unpin + Send + 'static,
    label: String,
    capture: Arc<Mutex<Capture>>,
    correlations: Arc<Correlations>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{label}] {line}");
            if line.contains("correlation_id")
                && let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
            {
                let mut ids = BTreeSet::new();
                collect_strings(&json, "correlation_id", &mut ids);
                let mut requests = BTreeSet::new();
                collect_strings(&json, "requestId", &mut requests);
                for request in requests {
                    correlations.add(request, ids.clone());
                }
            }
            let mut capture = lock(&capture);
            if capture.tail.len() == TAIL_LINES {
                capture.tail.pop_front();
            }
            capture.tail.push_back(line);
        }
    });
}

/// Every string under `field` anywhere in a JSON log line (its fields or its spans).
fn collect_strings(value: &serde_json::Value, field: &str, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                match item {
                    serde_json::Value::String(text) if key == field => {
                        out.insert(text.clone());
                    }
                    other => collect_strings(other, field, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_strings(item, field, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_found_in_fields_and_spans() {
        let line = serde_json::json!({
            "level": "INFO", "correlation_id": "a",
            "spans": [{"name": "alert", "correlation_id": "b"}, {"name": "sqs_record"}]
        });
        let mut ids = BTreeSet::new();
        collect_strings(&line, "correlation_id", &mut ids);
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["a", "b"]);
    }
}
