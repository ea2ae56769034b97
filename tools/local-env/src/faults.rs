//! Fault injection: a proxy between the functions and moto that makes chosen AWS calls
//! fail, so retry, throttling and partial-failure paths can be exercised end to end.
//!
//! A rule is `<service>:<operation>=<fault>`, e.g. `sns:Publish=throttle:0.2` (20% of
//! SNS Publish calls answered with SNS's throttling error), `dynamodb:*=5xx:0.05`,
//! `s3:GetObject=slow:500ms` (every call delayed; `slow:500ms:0.5` half of them). The
//! service is the SigV4 signing name (`dynamodb`, `sns`, `sqs`, `s3`, `kinesis`, `events`).
//! Throttles and 5xx are answered without forwarding (the call did not happen, as when
//! AWS refuses it), in each service's own error format, so the SDKs classify and retry
//! them as they would on AWS. Rules can be changed while the environment runs
//! (`scripts/local fault ...`); the environment's own calls (its pollers) do not pass
//! through here.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Throttle,
    ServerError,
    Slow(Duration),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub service: String,
    pub operation: String,
    pub fault: Fault,
    pub probability: f64,
    /// The rule as written, for status and counts.
    pub text: String,
}

impl Rule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let usage = || format!("{text}: write <service>:<operation>=throttle:<p> | 5xx:<p> | slow:<ms>ms[:<p>]");
        let (target, fault) = text.split_once('=').ok_or_else(usage)?;
        let (service, operation) = target.split_once(':').ok_or_else(usage)?;
        let parts: Vec<&str> = fault.split(':').collect();
        let probability = |p: Option<&&str>| -> Result<f64, String> {
            match p {
                None => Ok(1.0),
                Some(p) => p
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| format!("{text}: {p} is not a probability between 0 and 1")),
            }
        };
        let (fault, probability) = match parts.as_slice() {
            ["throttle", rest @ ..] if rest.len() <= 1 => (Fault::Throttle, probability(rest.first())?),
            ["5xx", rest @ ..] if rest.len() <= 1 => (Fault::ServerError, probability(rest.first())?),
            ["slow", delay, rest @ ..] if rest.len() <= 1 => {
                let ms = delay.strip_suffix("ms").and_then(|d| d.parse().ok()).ok_or_else(usage)?;
                (Fault::Slow(Duration::from_millis(ms)), probability(rest.first())?)
            }
            _ => return Err(usage()),
        };
        if service.is_empty() || operation.is_empty() {
            return Err(usage());
        }
        Ok(Self {
            service: service.to_ascii_lowercase(),
            operation: operation.to_owned(),
            fault,
            probability,
            text: text.to_owned(),
        })
    }

    fn applies(&self, service: &str, operation: &str) -> bool {
        (self.service == "*" || self.service == service) && (self.operation == "*" || self.operation == operation)
    }
}

/// The rules in force and how often each fired.
pub struct Faults {
    rules: RwLock<Vec<Rule>>,
    injected: Mutex<BTreeMap<String, u64>>,
    random: Mutex<u64>,
}

impl Faults {
    pub fn new(rules: Vec<Rule>, seed: u64) -> Self {
        Self { rules: RwLock::new(rules), injected: Mutex::new(BTreeMap::new()), random: Mutex::new(seed.max(1)) }
    }

    pub fn set(&self, rules: Vec<Rule>) {
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = rules;
    }

    pub fn rules(&self) -> Vec<String> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).iter().map(|r| r.text.clone()).collect()
    }

    /// Faults injected so far, by rule.
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.injected.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A uniform number in [0, 1) (xorshift64*: reproducible from `--fault-seed`).
    fn roll(&self) -> f64 {
        let mut state = self.random.lock().unwrap_or_else(|e| e.into_inner());
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The faults to apply to one call.
    fn choose(&self, service: &str, operation: &str) -> Vec<Fault> {
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
        let mut chosen = Vec::new();
        for rule in rules.iter().filter(|r| r.applies(service, operation)) {
            if self.roll() < rule.probability {
                *self.injected.lock().unwrap_or_else(|e| e.into_inner()).entry(rule.text.clone()).or_default() += 1;
                chosen.push(rule.fault.clone());
            }
        }
        chosen
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Serves the proxy on `listener`, forwarding to `upstream` (moto's `http://host:port`).
pub async fn serve(listener: TcpListener, upstream: String, faults: Arc<Faults>) -> Result<(), Error> {
    let client: Client<HttpConnector, ProxyBody> = Client::builder(TokioExecutor::new()).build_http();
    let upstream = Arc::new(upstream);
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| Error::Process(e.to_string()))?;
        let (client, upstream, faults) = (client.clone(), upstream.clone(), faults.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (client, upstream, faults) = (client.clone(), upstream.clone(), faults.clone());
                async move { Ok::<_, Infallible>(proxy(req, &client, &upstream, &faults).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn proxy(
    req: Request<Incoming>,
    client: &Client<HttpConnector, ProxyBody>,
    upstream: &str,
    faults: &Faults,
) -> Response<ProxyBody> {
    let service = signing_service(&req).unwrap_or_default();
    let (parts, body) = req.into_parts();
    // S3 bodies can be large, and S3's operation is in the method and path: stream them.
    // Other services name the operation in a header or a small form body.
    let (operation, body): (String, ProxyBody) = if service == "s3" {
        (s3_operation(&parts), body.boxed())
    } else {
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return plain(StatusCode::BAD_REQUEST, "unreadable request body"),
        };
        (operation(&parts, &bytes), Full::new(bytes).map_err(|never| match never {}).boxed())
    };
    for fault in faults.choose(&service, &operation) {
        match fault {
            Fault::Slow(delay) => tokio::time::sleep(delay).await,
            Fault::Throttle => return refusal(&service, true),
            Fault::ServerError => return refusal(&service, false),
        }
    }
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let Ok(uri) = format!("{upstream}{path}").parse::<hyper::Uri>() else {
        return plain(StatusCode::BAD_GATEWAY, "bad upstream address");
    };
    let mut forward = Request::from_parts(parts, body);
    *forward.uri_mut() = uri;
    match client.request(forward).await {
        Ok(response) => response.map(|b| b.boxed()),
        Err(err) => plain(StatusCode::BAD_GATEWAY, &format!("moto did not answer: {err}")),
    }
}

fn plain(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}

/// The service a request was signed for: `Credential=<key>/<date>/<region>/<service>/aws4_request`.
fn signing_service(req: &Request<Incoming>) -> Option<String> {
    let header = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let query = req.uri().query().map(str::to_owned);
    let credential = header
        .as_deref()
        .and_then(|h| h.split("Credential=").nth(1))
        .map(|c| c.split(',').next().unwrap_or(c).to_owned())
        .or_else(|| {
            query
                .as_deref()?
                .split('&')
                .find_map(|p| p.strip_prefix("X-Amz-Credential="))
                .map(|c| c.replace("%2F", "/"))
        })?;
    credential.split('/').nth(3).map(str::to_owned)
}

/// The operation of a JSON-protocol (`X-Amz-Target: Service.Operation`) or query-protocol
/// (`Action=Operation`) request.
fn operation(parts: &hyper::http::request::Parts, body: &[u8]) -> String {
    if let Some(target) = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    let form = String::from_utf8_lossy(body);
    let query = parts.uri.query().unwrap_or_default();
    form.split('&')
        .chain(query.split('&'))
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The S3 operation a REST request is.
fn s3_operation(parts: &hyper::http::request::Parts) -> String {
    let path = parts.uri.path().trim_start_matches('/');
    let query = parts.uri.query().unwrap_or_default();
    let has = |name: &str| query.split('&').any(|p| p == name || p.starts_with(&format!("{name}=")));
    let object = path.split_once('/').is_some_and(|(_, key)| !key.is_empty());
    let method = parts.method.as_str();
    let name = match (method, object) {
        ("GET", true) => "GetObject",
        ("HEAD", true) => "HeadObject",
        ("PUT", true) if has("partNumber") => "UploadPart",
        ("PUT", true) if parts.headers.contains_key("x-amz-copy-source") => "CopyObject",
        ("PUT", true) => "PutObject",
        ("DELETE", true) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", true) => "DeleteObject",
        ("POST", true) if has("uploads") => "CreateMultipartUpload",
        ("POST", true) if has("uploadId") => "CompleteMultipartUpload",
        ("GET", false) if has("list-type") => "ListObjectsV2",
        ("GET", false) if has("notification") => "GetBucketNotificationConfiguration",
        ("GET", false) => "ListObjects",
        ("HEAD", false) => "HeadBucket",
        ("PUT", false) => "CreateBucket",
        ("POST", false) if has("delete") => "DeleteObjects",
        ("DELETE", false) => "DeleteBucket",
        _ => "",
    };
    name.to_owned()
}

/// A refusal in the service's own error format: throttling, or an internal error.
fn refusal(service: &str, throttle: bool) -> Response<ProxyBody> {
    let (status, content_type, body, error_type) = match (service, throttle) {
        ("s3", true) => (503, "application/xml", "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".to_owned(), ""),
        ("s3", false) => (500, "application/xml", "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>".to_owned(), ""),
        ("sns", _) => {
            let (status, kind, code, message) =
                if throttle { (400, "Sender", "Throttling", "Rate exceeded") } else { (500, "Receiver", "InternalError", "Internal error") };
            let body = format!("<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>", uuid::Uuid::new_v4());
            (status, "text/xml", body, "")
        }
        (_, true) => {
            let code = match service {
                "dynamodb" => "ThrottlingException",
                "kinesis" => "ProvisionedThroughputExceededException",
                "sqs" => "ThrottlingException",
                _ => "ThrottlingException",
            };
            (400, "application/x-amz-json-1.0", format!(r#"{{"__type":"{code}","message":"Rate exceeded"}}"#), code)
        }
        (_, false) => {
            let code = if service == "dynamodb" { "InternalServerError" } else { "InternalFailure" };
            (500, "application/x-amz-json-1.0", format!(r#"{{"__type":"{code}","message":"Internal error"}}"#), code)
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert("content-type", value);
    }
    if !error_type.is_empty()
        && let Ok(value) = error_type.parse()
    {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_as_written_on_the_command_line() {
        let rule = Rule::parse("sns:Publish=throttle:0.2").unwrap();
        assert_eq!(
            (rule.service.as_str(), rule.operation.as_str(), &rule.fault, rule.probability),
            ("sns", "Publish", &Fault::Throttle, 0.2)
        );
        assert_eq!(Rule::parse("dynamodb:*=5xx:0.05").unwrap().fault, Fault::ServerError);
        let slow = Rule::parse("s3:GetObject=slow:500ms").unwrap();
        assert_eq!((slow.fault, slow.probability), (Fault::Slow(Duration::from_millis(500)), 1.0));
        for bad in [
            "sns:Publish",
            "sns=throttle:0.2",
            "sns:Publish=explode:0.1",
            "sns:Publish=throttle:2",
            "s3:GetObject=slow:fast",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn rolls_follow_the_probability() {
        let faults = Faults::new(vec![Rule::parse("sns:Publish=throttle:0.2").unwrap()], 7);
        let fired = (0..10_000).filter(|_| !faults.choose("sns", "Publish").is_empty()).count();
        assert!((1_700..2_300).contains(&fired), "{fired} of 10000");
        assert!(faults.choose("sqs", "Publish").is_empty() && faults.choose("sns", "Subscribe").is_empty());
        assert_eq!(faults.injected()["sns:Publish=throttle:0.2"], fired as u64);
    }
}
