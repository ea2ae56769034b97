//! A minimal Lambda Runtime API, the harness's own.
//!
//! cargo-lambda's emulator serves functions well, but a benchmark needs to know *when* a
//! process first asks for work (`GET /runtime/invocation/next`: the end of what Lambda
//! reports as init), which it does not expose; and Python's runtime interface client
//! cannot use its address, which has a path (`/.rt`). This one serves the three calls a
//! runtime makes (next, response, error), records when each happened, and nothing else.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

use crate::Error;

/// What the function answered, and when the answer arrived.
#[derive(Debug)]
pub struct Answer {
    pub at: Instant,
    pub body: serde_json::Value,
    pub error: bool,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<(String, Bytes)>>,
    arrived: Notify,
    first_next: Mutex<Option<Instant>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<State>,
}

impl RuntimeApi {
    pub async fn start() -> Result<Self, Error> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
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
        Ok(Self { addr, state })
    }

    /// `AWS_LAMBDA_RUNTIME_API` for a process using this API: host and port, as on Lambda.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When a process first asked for work, if it has.
    pub fn first_next(&self) -> Option<Instant> {
        *lock(&self.state.first_next)
    }

    /// Queues an event; the returned receiver yields the function's answer.
    pub fn enqueue(&self, event: &serde_json::Value) -> oneshot::Receiver<Answer> {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.state.waiting).insert(id.clone(), tx);
        lock(&self.state.queue).push_back((id, Bytes::from(event.to_string())));
        self.state.arrived.notify_one();
        rx
    }

    /// Sends an event and waits for the answer.
    pub async fn invoke(&self, event: &serde_json::Value, within: Duration) -> Result<Answer, Error> {
        let rx = self.enqueue(event);
        match tokio::time::timeout(within, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            _ => Err(Error::Harness(format!("no answer within {within:?}"))),
        }
    }
}

async fn serve(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path.ends_with("/runtime/invocation/next") {
        lock(&state.first_next).get_or_insert_with(Instant::now);
        let (id, body) = loop {
            let arrived = state.arrived.notified();
            if let Some(next) = lock(&state.queue).pop_front() {
                break next;
            }
            arrived.await;
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 900_000)
            .unwrap_or_default();
        return Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0")
            .header("content-type", "application/json")
            .body(Full::new(body))
            .unwrap_or_default();
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // 2018-06-01/runtime/invocation/{id}/response | error
    if let [.., "invocation", id, outcome @ ("response" | "error")] = parts.as_slice() {
        let id = (*id).to_owned();
        let error = *outcome == "error";
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let at = Instant::now();
        if let Some(tx) = lock(&state.waiting).remove(&id) {
            let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            let _ = tx.send(Answer { at, body, error });
        }
        let mut accepted = Response::new(Full::new(Bytes::from_static(b"{}")));
        *accepted.status_mut() = StatusCode::ACCEPTED;
        return accepted;
    }
    // Init errors and anything else: accept and move on.
    let mut accepted = Response::new(Full::new(Bytes::from_static(b"{}")));
    *accepted.status_mut() = StatusCode::ACCEPTED;
    accepted
}
