//! Controlling a running environment: fire a schedule now, sweep expired items now, move
//! the clock, move dead-lettered messages back, change the injected faults, and read the
//! invocation log. The environment serves these on its control port; `scripts/local`
//! (`local-env ctl ...`) is the command people and tests use.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;

use crate::Error;
use crate::aws::Aws;
use crate::clock::{Clock, parse_duration};
use crate::faults::{Faults, Rule};
use crate::lambda::Lambda;
use crate::resources::Resources;
use crate::triggers::Triggers;
use crate::ttl::Sweeper;

pub struct Control {
    pub lambda: Arc<Lambda>,
    pub clock: Clock,
    pub triggers: Arc<Triggers>,
    pub sweeper: Arc<Sweeper>,
    pub faults: Arc<Faults>,
    pub aws: Aws,
    pub resources: Arc<Resources>,
    /// (queue, its dead-letter queue), by logical id.
    pub redrives: Vec<(String, String)>,
}

pub async fn serve(listener: TcpListener, control: Arc<Control>) -> Result<(), Error> {
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| Error::Process(e.to_string()))?;
        let control = control.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let control = control.clone();
                async move { Ok::<_, Infallible>(control.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn reply(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn refused(status: StatusCode, message: impl std::fmt::Display) -> Response<Full<Bytes>> {
    reply(status, &json!({"error": message.to_string()}))
}

impl Control {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().trim_matches('/').to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let param = |name: &str| query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).map(str::to_owned);
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let parts: Vec<&str> = path.split('/').collect();
        match (method, parts.as_slice()) {
            (Method::GET, ["status"]) => reply(StatusCode::OK, &self.status()),
            (Method::POST, ["fire", name]) => match self.triggers.fire(name) {
                Ok(fired) => reply(StatusCode::OK, &json!({"fired": fired})),
                Err(err) => refused(StatusCode::NOT_FOUND, err),
            },
            (Method::POST, ["sweep"]) => match self.sweeper.sweep().await {
                Ok(counts) => reply(
                    StatusCode::OK,
                    &json!({"deleted": counts.into_iter().map(|(t, n)| (t, json!(n))).collect::<serde_json::Map<String, Value>>()}),
                ),
                Err(err) => refused(StatusCode::BAD_GATEWAY, err),
            },
            (Method::POST, ["advance", by]) => match parse_duration(by) {
                Ok(by) => {
                    self.clock.advance(by);
                    reply(StatusCode::OK, &self.clock_status())
                }
                Err(err) => refused(StatusCode::BAD_REQUEST, err),
            },
            (Method::POST, ["redrive", queue]) => match self.redrive(queue).await {
                Ok((from, to, moved)) => reply(StatusCode::OK, &json!({"from": from, "to": to, "moved": moved})),
                Err(err) => refused(StatusCode::BAD_REQUEST, err),
            },
            (Method::GET, ["faults"]) => reply(StatusCode::OK, &self.fault_status()),
            (Method::PUT, ["faults"]) => {
                let texts: Vec<String> = match serde_json::from_slice(&body) {
                    Ok(texts) => texts,
                    Err(_) => return refused(StatusCode::BAD_REQUEST, "send a JSON list of fault rules"),
                };
                match texts.iter().map(|t| Rule::parse(t)).collect::<Result<Vec<_>, _>>() {
                    Ok(rules) => {
                        self.faults.set(rules);
                        reply(StatusCode::OK, &self.fault_status())
                    }
                    Err(err) => refused(StatusCode::BAD_REQUEST, err),
                }
            }
            (Method::GET, ["invocations"]) => {
                let since = param("since").and_then(|s| s.parse().ok()).unwrap_or(0);
                if let Some(wait) = param("wait").and_then(|w| w.parse::<u64>().ok()) {
                    self.lambda.log.wait_past(since, Duration::from_millis(wait)).await;
                }
                reply(StatusCode::OK, &Value::Array(self.lambda.log.since(since)))
            }
            _ => refused(
                StatusCode::NOT_FOUND,
                "no such control operation (status, fire, sweep, advance, redrive, faults, invocations)",
            ),
        }
    }

    fn clock_status(&self) -> Value {
        json!({"now": self.clock.now().format(&Rfc3339).unwrap_or_default(), "offsetSeconds": self.clock.offset().as_secs()})
    }

    fn fault_status(&self) -> Value {
        json!({"rules": self.faults.rules(), "injected": self.faults.injected()})
    }

    fn status(&self) -> Value {
        let functions: Vec<Value> = self
            .lambda
            .functions()
            .iter()
            .map(|f| json!({"name": f.config.name, "logicalId": f.config.logical_id, "inFlight": f.in_flight(), "concurrency": f.config.concurrency}))
            .collect();
        json!({
            "clock": self.clock_status(),
            "functions": functions,
            "schedules": self.triggers.names(),
            "faults": self.fault_status(),
            "ttlTables": self.sweeper.tables.iter().map(|t| &t.logical_id).collect::<Vec<_>>(),
            "resources": self.resources.resources,
        })
    }

    /// Moves every message of a dead-letter queue back to the queue it came from. Either
    /// queue may be named.
    async fn redrive(&self, name: &str) -> Result<(String, String, usize), String> {
        let pair = self.redrives.iter().find(|(queue, _)| queue == name).cloned().or_else(|| {
            let sources: Vec<&(String, String)> = self.redrives.iter().filter(|(_, dlq)| dlq == name).collect();
            match sources.as_slice() {
                [one] => Some((*one).clone()),
                _ => None,
            }
        });
        let Some((queue, dlq)) = pair else {
            let known: Vec<String> = self.redrives.iter().map(|(q, d)| format!("{q} (dead letters in {d})")).collect();
            return Err(format!(
                "{name} is not a queue with a dead-letter queue, nor the dead-letter queue of exactly one; known: {}",
                known.join(", ")
            ));
        };
        let url = |id: &str| self.resources.get(id).map(|p| p.reference.clone()).map_err(|e| e.to_string());
        let (to, from) = (url(&queue)?, url(&dlq)?);
        let mut moved = 0;
        loop {
            let received = self
                .aws
                .sqs
                .receive_message()
                .queue_url(&from)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(|e| Error::aws("SQS", "ReceiveMessage", e).to_string())?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                self.aws
                    .sqs
                    .send_message()
                    .queue_url(&to)
                    .set_message_body(message.body)
                    .set_message_attributes(message.message_attributes)
                    .send()
                    .await
                    .map_err(|e| Error::aws("SQS", "SendMessage", e).to_string())?;
                if let Some(handle) = message.receipt_handle {
                    self.aws
                        .sqs
                        .delete_message()
                        .queue_url(&from)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(|e| Error::aws("SQS", "DeleteMessage", e).to_string())?;
                }
                moved += 1;
            }
        }
        Ok((dlq, queue, moved))
    }
}

/// `local-env ctl <command>`: sends one control request to a running environment and
/// prints its answer. The environment is found through `--control URL`, the
/// `LOCAL_ENV_CONTROL` variable, or `.local/env.json` (written by `scripts/run-local`).
pub async fn command(args: &[String]) -> Result<String, String> {
    let mut args = args.to_vec();
    let mut url = std::env::var("LOCAL_ENV_CONTROL").ok();
    if let Some(i) = args.iter().position(|a| a == "--control") {
        if i + 1 >= args.len() {
            return Err("--control needs a URL".into());
        }
        url = Some(args.remove(i + 1));
        args.remove(i);
    }
    let url = match url {
        Some(url) => url,
        None => {
            let state = std::fs::read_to_string(".local/env.json").map_err(|_| {
                "no running environment found: start one with scripts/run-local (or set LOCAL_ENV_CONTROL)".to_owned()
            })?;
            let state: Value = serde_json::from_str(&state).map_err(|e| format!(".local/env.json: {e}"))?;
            state["control"].as_str().ok_or(".local/env.json has no control URL")?.to_owned()
        }
    };
    let http = reqwest::Client::new();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let request = match words.as_slice() {
        ["status"] => http.get(format!("{url}/status")),
        ["fire", name] => http.post(format!("{url}/fire/{name}")),
        ["sweep"] => http.post(format!("{url}/sweep")),
        ["advance", by] => http.post(format!("{url}/advance/{by}")),
        ["redrive", queue] => http.post(format!("{url}/redrive/{queue}")),
        ["faults"] => http.get(format!("{url}/faults")),
        ["fault", "--clear"] => http.put(format!("{url}/faults")).body("[]"),
        ["fault", rules @ ..] if !rules.is_empty() => http.put(format!("{url}/faults")).body(json!(rules).to_string()),
        ["invocations"] => http.get(format!("{url}/invocations")),
        ["invocations", "--follow"] => return follow(&http, &url).await,
        _ => return Err(USAGE.to_owned()),
    };
    let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let ok = response.status().is_success();
    let body: Value = response.json().await.map_err(|e| format!("{url}: {e}"))?;
    let text = match &body {
        Value::Array(lines) => lines.iter().map(Value::to_string).collect::<Vec<_>>().join("\n"),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    if ok { Ok(text) } else { Err(body["error"].as_str().map(str::to_owned).unwrap_or(text)) }
}

/// Prints the invocation log as it grows, until interrupted.
async fn follow(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let mut seen = 0;
    loop {
        let lines: Vec<Value> = http
            .get(format!("{url}/invocations?since={seen}&wait=20000"))
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        seen += lines.len();
        for line in lines {
            println!("{line}");
        }
    }
}

pub const USAGE: &str = "usage: scripts/local <command>
  status                 functions, schedules, clock, faults and resources
  fire <Function.Event>  fire a schedule now
  sweep                  delete expired TTL items now (their stream records carry the TTL identity)
  advance <duration>     move the environment's clock forward (90s, 15m, 2h, 3d, 1d12h)
  redrive <Queue>        move dead-lettered messages back (name the queue or its dead-letter queue)
  fault <rule>...        inject faults, e.g. sns:Publish=throttle:0.2 dynamodb:*=5xx:0.05 s3:GetObject=slow:500ms
  fault --clear          stop injecting faults
  faults                 the rules in force and how often each fired
  invocations [--follow] the invocation log (JSON lines)";
