//! The Lambda Runtime API of one execution environment.
//!
//! A function's process finds this API at `AWS_LAMBDA_RUNTIME_API` (host:port, as on
//! Lambda) and makes three calls: `next` (wait for an event), then `response` or `error`
//! for it; a runtime that fails before asking for work may report `init/error`. Each
//! execution environment gets a listener of its own, so the caller is known without
//! looking at paths, and runtimes that cannot take a path in the address (Python's
//! awslambdaric) work too. The local environment's Lambda service and the benchmark
//! harness both use this one implementation; the harness also reads when the process
//! first asked for work, which is where Lambda's "Init Duration" ends.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

use crate::Error;

/// One invocation as the runtime receives it from `next`.
#[derive(Debug, Clone)]
pub struct Event {
    pub request_id: String,
    pub payload: Bytes,
    /// How long the function has once it takes the event: the deadline header is
    /// computed from this when `next` hands the event over.
    pub timeout: Duration,
    pub function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
}

impl Event {
    /// An event with a fresh request id.
    pub fn new(payload: impl Into<Bytes>, timeout: Duration, function_arn: impl Into<String>) -> Self {
        let request_id = uuid::Uuid::new_v4().to_string();
        let trace_id =
            format!("Root=1-{:08x}-{};Sampled=0", unix_seconds(), &uuid::Uuid::new_v4().simple().to_string()[..24]);
        Self {
            request_id,
            payload: payload.into(),
            timeout,
            function_arn: function_arn.into(),
            trace_id,
            client_context: None,
        }
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// What the runtime reported for an invocation, and when.
#[derive(Debug, Clone)]
pub enum Answer {
    Response { body: Bytes, at: Instant },
    Error { body: Bytes, error_type: Option<String>, at: Instant },
}

impl Answer {
    pub fn at(&self) -> Instant {
        match self {
            Answer::Response { at, .. } | Answer::Error { at, .. } => *at,
        }
    }
}

/// An event handed to [`RuntimeApi::submit`]: when the runtime took it, and its answer.
pub struct Pending {
    pub taken: oneshot::Receiver<Instant>,
    pub answer: oneshot::Receiver<Answer>,
}

struct Queued {
    event: Event,
    taken: oneshot::Sender<Instant>,
    answer: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<Queued>>,
    arrived: Notify,
    first_next: Mutex<Option<Instant>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Runtime API of one execution environment; it stops serving when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start() -> Result<Self, Error> {
        let listener =
            TcpListener::bind("127.0.0.1:0").await.map_err(|e| Error::Process(format!("runtime API: {e}")))?;
        let addr = listener.local_addr().map_err(|e| Error::Process(e.to_string()))?;
        let state = Arc::new(State::default());
        let shared = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(serve(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, state, server })
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the process: host and port, as on Lambda.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the process first asked for work, if it has: the end of its init.
    pub fn first_next(&self) -> Option<Instant> {
        *lock(&self.state.first_next)
    }

    /// What the runtime reported through `init/error`, if anything.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.state.init_error).clone()
    }

    /// Queues an event for the runtime's next `next`.
    pub fn submit(&self, event: Event) -> Pending {
        let (taken_tx, taken) = oneshot::channel();
        let (answer_tx, answer) = oneshot::channel();
        lock(&self.state.queue).push_back(Queued { event, taken: taken_tx, answer: answer_tx });
        self.state.arrived.notify_one();
        Pending { taken, answer }
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn serve(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["2018-06-01", "runtime", "invocation", "next"] => next(state).await,
        ["2018-06-01", "runtime", "invocation", id, outcome @ ("response" | "error")] => {
            let id = (*id).to_owned();
            let error = *outcome == "error";
            let error_type = req
                .headers()
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let Some(waiting) = lock(&state.in_flight).remove(&id) else {
                return reply(
                    StatusCode::BAD_REQUEST,
                    r#"{"errorType":"InvalidRequestID","errorMessage":"Invalid request ID"}"#,
                );
            };
            let at = Instant::now();
            let answer = if error { Answer::Error { body, error_type, at } } else { Answer::Response { body, at } };
            let _ = waiting.send(answer);
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        ["2018-06-01", "runtime", "init", "error"] => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            *lock(&state.init_error) = Some(String::from_utf8_lossy(&body).into_owned());
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound","errorMessage":"no such Runtime API call"}"#),
    }
}

/// Waits for an event and hands it over with Lambda's headers.
async fn next(state: &State) -> Response<Full<Bytes>> {
    lock(&state.first_next).get_or_insert_with(Instant::now);
    let queued = loop {
        let arrived = state.arrived.notified();
        if let Some(queued) = lock(&state.queue).pop_front() {
            break queued;
        }
        arrived.await;
    };
    let Queued { event, taken, answer } = queued;
    lock(&state.in_flight).insert(event.request_id.clone(), answer);
    let _ = taken.send(Instant::now());
    let deadline = SystemTime::now() + event.timeout;
    let deadline_ms = deadline.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let mut builder = Response::builder()
        .header("lambda-runtime-aws-request-id", &event.request_id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &event.function_arn)
        .header("lambda-runtime-trace-id", &event.trace_id)
        .header("content-type", "application/json");
    if let Some(context) = &event.client_context {
        builder = builder.header("lambda-runtime-client-context", context);
    }
    builder.body(Full::new(event.payload)).unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "{}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(api: &RuntimeApi, method: &str, path: &str, body: &str) -> reqwest::Response {
        let url = format!("http://{}{path}", api.address());
        reqwest::Client::new().request(method.parse().unwrap(), url).body(body.to_owned()).send().await.unwrap()
    }

    #[tokio::test]
    async fn an_event_goes_out_with_lambdas_headers_and_its_answer_comes_back() {
        let api = RuntimeApi::start().await.unwrap();
        let event = Event::new(Bytes::from_static(b"{\"x\":1}"), Duration::from_secs(3), "arn:aws:lambda:f");
        let id = event.request_id.clone();
        let pending = api.submit(event);
        let next = call(&api, "GET", "/2018-06-01/runtime/invocation/next", "").await;
        assert_eq!(next.headers()["lambda-runtime-aws-request-id"], id.as_str());
        assert_eq!(next.headers()["lambda-runtime-invoked-function-arn"], "arn:aws:lambda:f");
        let deadline: u128 = next.headers()["lambda-runtime-deadline-ms"].to_str().unwrap().parse().unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
        assert!(deadline > now + 2_000 && deadline <= now + 3_000, "deadline {deadline}, now {now}");
        assert_eq!(next.text().await.unwrap(), "{\"x\":1}");
        assert!(api.first_next().is_some());
        pending.taken.await.unwrap();

        let error_path = format!("/2018-06-01/runtime/invocation/{id}/error");
        let posted = call(&api, "POST", &error_path, "{\"errorType\":\"E\"}").await;
        assert_eq!(posted.status(), 202);
        match pending.answer.await.unwrap() {
            Answer::Error { body, .. } => assert_eq!(body, Bytes::from_static(b"{\"errorType\":\"E\"}")),
            other => panic!("expected an error, got {other:?}"),
        }
        // The same request id cannot be answered twice.
        let again = call(&api, "POST", &format!("/2018-06-01/runtime/invocation/{id}/response"), "{}").await;
        assert_eq!(again.status(), 400);
    }

    #[tokio::test]
    async fn init_errors_are_kept() {
        let api = RuntimeApi::start().await.unwrap();
        assert_eq!(call(&api, "POST", "/2018-06-01/runtime/init/error", "boom").await.status(), 202);
        assert_eq!(api.init_error().as_deref(), Some("boom"));
    }
}
