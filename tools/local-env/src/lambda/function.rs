//! One function: its configuration from the template, its execution environments, and
//! the concurrency limit Lambda applies to it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use time::OffsetDateTime;

use super::environment::{Correlations, Ended, ExecutionEnvironment, Launch};
use super::runtime_api::{Answer, Event};

/// A function as the template declares it, ready to run locally.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The function's name: its workspace binary, what `cargo lambda invoke NAME` takes.
    pub name: String,
    pub logical_id: String,
    pub arn: String,
    pub launch: Launch,
    pub timeout: Duration,
    pub memory_mb: u64,
    /// Invocations at once: the reserved concurrency, or the environment's default.
    pub concurrency: usize,
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The function's response.
    Ok(Bytes),
    /// The function reported an error (Lambda's "Unhandled" function error).
    Error { error_type: String, message: String, body: Bytes },
    /// Stopped at the function's timeout.
    Timeout,
    /// The runtime exited, failed to start, or exceeded its memory.
    Crashed { error_type: String, message: String },
    /// No concurrency left: Lambda's TooManyRequestsException.
    Throttled,
}

impl Outcome {
    /// Whether the function ran and failed (a retryable function error, as event sources
    /// see it), as opposed to succeeding or never running.
    pub fn is_function_error(&self) -> bool {
        matches!(self, Outcome::Error { .. } | Outcome::Timeout | Outcome::Crashed { .. })
    }

    /// The error document Lambda returns for a failed invocation.
    pub fn error_document(&self, request_id: &str, timeout: Duration) -> Option<serde_json::Value> {
        match self {
            Outcome::Ok(_) => None,
            Outcome::Error { body, error_type, message } => Some(
                serde_json::from_slice(body)
                    .unwrap_or_else(|_| serde_json::json!({"errorType": error_type, "errorMessage": message})),
            ),
            Outcome::Timeout => Some(serde_json::json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": format!("RequestId: {request_id} Error: Task timed out after {:.2} seconds", timeout.as_secs_f64()),
            })),
            Outcome::Crashed { error_type, message } => Some(serde_json::json!({
                "errorType": error_type,
                "errorMessage": format!("RequestId: {request_id} Error: {message}"),
            })),
            Outcome::Throttled => Some(serde_json::json!({
                "errorType": "TooManyRequestsException",
                "errorMessage": "Rate Exceeded.",
            })),
        }
    }
}

/// One invocation, as it happened.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub outcome: Outcome,
    pub started_at: OffsetDateTime,
    pub duration: Duration,
    /// Init duration, when this invocation started a new execution environment.
    pub init: Option<Duration>,
    pub environment: Option<u64>,
    pub peak_memory_kib: Option<u64>,
}

pub struct Function {
    pub config: FunctionConfig,
    idle: Mutex<Vec<ExecutionEnvironment>>,
    in_flight: AtomicUsize,
    generation: AtomicU64,
    next_id: AtomicU64,
    /// Correlation ids the function's log lines carried, by request id.
    pub correlations: Arc<Correlations>,
}

/// Gives a concurrency slot back however the invocation ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Function {
    pub fn new(config: FunctionConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            idle: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            correlations: Arc::new(Correlations::default()),
        })
    }

    /// Invocations running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn acquire(&self) -> Option<Slot<'_>> {
        let limit = self.config.concurrency;
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            .ok()
            .map(|_| Slot(&self.in_flight))
    }

    /// New code: environments started from now on run it; idle ones are stopped now and
    /// busy ones when their invocation ends.
    pub fn restart(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Runs one invocation in an idle execution environment, or a new one.
    pub async fn invoke(&self, payload: Bytes, client_context: Option<String>) -> Invocation {
        let mut event = Event::new(payload, self.config.timeout, &self.config.arn);
        event.client_context = client_context;
        let request_id = event.request_id.clone();
        let started_at = OffsetDateTime::now_utc();
        let clock = Instant::now();
        let finished = |outcome, init, environment, peak_memory_kib| Invocation {
            request_id: request_id.clone(),
            outcome,
            started_at,
            duration: clock.elapsed(),
            init,
            environment,
            peak_memory_kib,
        };
        let Some(_slot) = self.acquire() else {
            return finished(Outcome::Throttled, None, None, None);
        };
        let generation = self.generation.load(Ordering::Acquire);
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            // An environment whose process died while idle is not reused.
            idle.retain(|env| !env.has_exited());
            idle.pop()
        };
        let mut env = match reused {
            Some(env) => env,
            None => {
                let id = self.next_id.fetch_add(1, Ordering::AcqRel);
                match ExecutionEnvironment::start(&self.config.launch, id, generation, self.correlations.clone()).await
                {
                    Ok(env) => env,
                    Err(err) => {
                        let outcome = Outcome::Crashed {
                            error_type: "Runtime.InvalidEntrypoint".into(),
                            message: err.to_string(),
                        };
                        return finished(outcome, None, None, None);
                    }
                }
            }
        };
        let cold = env.invocations == 0;
        let invoke_clock = Instant::now();
        let ended = env.invoke(event, self.config.memory_mb * 1024).await;
        let init = if cold { env.init_duration() } else { None };
        let peak = env.peak_memory_kib();
        let (outcome, healthy) = match ended {
            Ended::Answered(Answer::Response { body, .. }) => (Outcome::Ok(body), true),
            Ended::Answered(Answer::Error { body, error_type, .. }) => {
                let document: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let text = |key: &str| document.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
                let error_type = text("errorType").or(error_type).unwrap_or_else(|| "Unhandled".into());
                let message = text("errorMessage").unwrap_or_default();
                (Outcome::Error { error_type, message, body }, true)
            }
            Ended::TimedOut => (Outcome::Timeout, false),
            Ended::Exited(how) => {
                let tail = env.log_tail();
                let last = tail.last().map(|l| format!(" (last output: {l})")).unwrap_or_default();
                (Outcome::Crashed { error_type: "Runtime.ExitError".into(), message: format!("{how}{last}") }, false)
            }
            Ended::OutOfMemory { peak_kib } => {
                let message = format!(
                    "Runtime exited: memory {} MB over the function's MemorySize {} MB",
                    peak_kib / 1024,
                    self.config.memory_mb
                );
                (Outcome::Crashed { error_type: "Runtime.OutOfMemory".into(), message }, false)
            }
        };
        // Init is not part of an invocation's duration on Lambda: the invoke phase is.
        let duration =
            if cold { invoke_clock.elapsed().saturating_sub(init.unwrap_or_default()) } else { clock.elapsed() };
        let id = env.id;
        if healthy && env.generation == self.generation.load(Ordering::Acquire) {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(env);
        }
        let mut invocation = finished(outcome, init, Some(id), peak);
        invocation.duration = duration;
        invocation
    }
}
