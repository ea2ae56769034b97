//! The measurements: cold starts, warm invocations, peak memory, instructions.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use local_env::lambda::runtime_api::{self, Event, RuntimeApi};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::Error;

/// How long one invocation may take before the harness gives up.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the function answered, and when the answer arrived.
#[derive(Debug)]
pub struct Answer {
    pub at: Instant,
    pub body: Value,
    pub error: bool,
}

/// Queues an event on the environment's Runtime API (the local environment's own
/// implementation); the receiver yields the answer.
fn submit(api: &RuntimeApi, event: &Value) -> tokio::sync::oneshot::Receiver<runtime_api::Answer> {
    let event = Event::new(
        Bytes::from(event.to_string()),
        INVOKE_TIMEOUT,
        "arn:aws:lambda:us-east-1:123456789012:function:bench",
    );
    api.submit(event).answer
}

fn answer(answer: runtime_api::Answer) -> Answer {
    let (at, body, error) = match answer {
        runtime_api::Answer::Response { body, at } => (at, body, false),
        runtime_api::Answer::Error { body, at, .. } => (at, body, true),
    };
    Answer { at, body: serde_json::from_slice(&body).unwrap_or(Value::Null), error }
}

/// Sends an event and waits for the answer.
async fn invoke(api: &RuntimeApi, event: &Value, within: Duration) -> Result<Answer, Error> {
    match tokio::time::timeout(within, submit(api, event)).await {
        Ok(Ok(received)) => Ok(answer(received)),
        _ => Err(Error::Harness(format!("no answer within {within:?}"))),
    }
}

/// Builds the event of each invocation.
pub type EventFn = Box<dyn Fn() -> Value + Send + Sync>;
/// Checks an answer is the successful one expected.
pub type CheckFn = Box<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// One thing measured: a process to start and the event it is sent.
pub struct Target {
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// The process's environment, except `AWS_LAMBDA_RUNTIME_API`, which each run sets.
    pub env: Vec<(String, String)>,
    /// Builds the event of each invocation (fresh ids where the function needs them).
    pub event: EventFn,
    /// Checks an answer is the successful one expected, so a broken set-up cannot pass
    /// for a fast one.
    pub check: CheckFn,
    /// Whether to count instructions (native binaries only).
    pub callgrind: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Cold {
    /// Spawn to the first `GET /runtime/invocation/next`: Lambda's "init duration".
    pub init: Duration,
    /// Spawn to the first response posted.
    pub first_response: Duration,
    pub peak_rss_kib: u64,
}

fn spawn(target: &Target, runtime_api: &str, wrapper: &[String]) -> Result<Child, Error> {
    let (program, args): (PathBuf, Vec<String>) = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut args = rest.to_vec();
            args.push(target.program.display().to_string());
            args.extend(target.args.iter().cloned());
            (first.into(), args)
        }
        None => (target.program.clone(), target.args.clone()),
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(&target.cwd)
        .env_clear()
        .envs(target.env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.spawn().map_err(|e| Error::Harness(format!("{}: cannot start: {e}", target.label)))
}

fn checked(target: &Target, answer: Answer) -> Result<Answer, Error> {
    if answer.error {
        return Err(Error::Harness(format!("{}: the function reported an error: {}", target.label, answer.body)));
    }
    (target.check)(&answer.body).map_err(|e| Error::Harness(format!("{}: {e}", target.label)))?;
    Ok(answer)
}

/// The high-water mark of the process's resident memory, from /proc.
fn peak_rss_kib(pid: Option<u32>) -> u64 {
    pid.and_then(|pid| local_env::lambda::environment::proc_status_kib(pid, "VmHWM:")).unwrap_or(0)
}

/// `runs` fresh processes, each answering one event.
pub async fn cold_starts(target: &Target, runs: usize) -> Result<Vec<Cold>, Error> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let api = RuntimeApi::start().await?;
        // Queued before the process starts, so its first `next` is answered at once.
        let pending = submit(&api, &(target.event)());
        let spawned = Instant::now();
        let mut child = spawn(target, &api.address(), &[])?;
        let answer = match tokio::time::timeout(INVOKE_TIMEOUT, pending).await {
            Ok(Ok(received)) => checked(target, answer(received))?,
            _ => return Err(Error::Harness(format!("{}: no answer from a fresh process", target.label))),
        };
        let first_next = api.first_next().ok_or_else(|| Error::Harness("answered without asking".into()))?;
        samples.push(Cold {
            init: first_next - spawned,
            first_response: answer.at - spawned,
            peak_rss_kib: peak_rss_kib(child.id()),
        });
        let _ = child.kill().await;
    }
    Ok(samples)
}

/// One process answering `invocations` events in turn, after one to warm it up. Returns
/// each invocation's latency (event queued to response posted) and the peak memory.
pub async fn warm(target: &Target, invocations: usize) -> Result<(Vec<Duration>, u64), Error> {
    let api = RuntimeApi::start().await?;
    let mut child = spawn(target, &api.address(), &[])?;
    checked(target, invoke(&api, &(target.event)(), INVOKE_TIMEOUT).await?)?;
    let mut latencies = Vec::with_capacity(invocations);
    for _ in 0..invocations {
        let event = (target.event)();
        let sent = Instant::now();
        let answer = checked(target, invoke(&api, &event, INVOKE_TIMEOUT).await?)?;
        latencies.push(answer.at - sent);
    }
    let rss = peak_rss_kib(child.id());
    let _ = child.kill().await;
    Ok((latencies, rss))
}

/// Instructions the process executes for `invocations` events, init included, counted by
/// callgrind: the same count on a busy or idle machine.
async fn instructions(target: &Target, invocations: usize) -> Result<u64, Error> {
    let out = std::env::temp_dir().join(format!("bench-callgrind-{}.out", uuid::Uuid::new_v4().simple()));
    let wrapper =
        ["valgrind".to_owned(), "--tool=callgrind".to_owned(), format!("--callgrind-out-file={}", out.display())];
    let api = RuntimeApi::start().await?;
    let mut child = spawn(target, &api.address(), &wrapper)?;
    for _ in 0..invocations {
        checked(target, invoke(&api, &(target.event)(), Duration::from_secs(300)).await?)?;
    }
    // callgrind writes its counts when the process ends on a signal, as Lambda ends it.
    if let Some(pid) = child.id() {
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), child.wait()).await;
    let text = std::fs::read_to_string(&out).map_err(|e| Error::Harness(format!("callgrind output: {e}")))?;
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Harness("no instruction total in callgrind's output".into()))
}

/// Instructions per warm invocation: the difference between 11 and 1 invocations, over
/// 10, so start-up work cancels out.
pub async fn instructions_per_invocation(target: &Target) -> Result<u64, Error> {
    let one = instructions(target, 1).await?;
    let eleven = instructions(target, 11).await?;
    Ok(eleven.saturating_sub(one) / 10)
}

/// The value at quantile `q` (0.5 median, 0.9 p90) of durations, in milliseconds.
pub fn quantile_ms(values: &[Duration], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut ms: Vec<f64> = values.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let rank = ((ms.len() as f64 - 1.0) * q).round() as usize;
    ms[rank.min(ms.len() - 1)]
}
