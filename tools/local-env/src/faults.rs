//! Fault injection: a proxy between the functions and moto that makes chosen AWS calls
//! fail, so retry, throttling and partial-failure paths can be exercised end to end.
//!
//! A rule is `<service>:<operation>=<fault>`, e.g. `sns:Publish=throttle:0.2` (20% of
//! SNS Publish calls answered with SNS's throttling error), `dynamodb:*=5xx:0.05`,
//! `s3:GetObject=slow:500ms` (every call delayed; `slow:500ms:0.5` half of them),
//! `sns:Publish@+14155550123=invalid` (calls that mention that text, here texts to one
//! number, refused as invalid: SNS's `InvalidParameter`, its message quoting the number as
//! SNS's does). The service is the SigV4 signing name (`dynamodb`, `sns`, `sqs`, `s3`,
//! `kinesis`, `events`); `@<text>` matches the request's decoded body (S3: its path).
//! Throttles, 5xx and refusals are answered without forwarding (the call did not happen, as
//! when AWS refuses it), in each service's own error format, so the SDKs classify and
//! retry them as they would on AWS. Rules can be changed while the environment runs
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
    /// A permanent refusal of the request's content (400, the service's invalid-parameter error).
    Invalid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub service: String,
    pub operation: String,
    /// Only calls whose decoded body contains this text.
    pub mentioning: Option<String>,
    pub fault: Fault,
    pub probability: f64,
    /// The rule as written, for status and counts.
    pub text: String,
}

impl Rule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "{text}: write <service>:<operation>[@<text>]=throttle:<p> | 5xx:<p> | slow:<ms>ms[:<p>] | invalid[:<p>]"
            )
        };
        let (target, fault) = text.split_once('=').ok_or_else(usage)?;
        let (target, mentioning) = match target.split_once('@') {
            Some((target, mention)) if !mention.is_empty() => (target, Some(mention.to_owned())),
            Some(_) => return Err(usage()),
            None => (target, None),
        };
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
            ["invalid", rest @ ..] if rest.len() <= 1 => (Fault::Invalid, probability(rest.first())?),
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
            mentioning,
            fault,
            probability,
            text: text.to_owned(),
        })
    }

    fn applies(&self, service: &str, operation: &str, body: &str) -> bool {
        (self.service == "*" || self.service == service)
            && (self.operation == "*" || self.operation == operation)
            && self.mentioning.as_ref().is_none_or(|text| body.contains(text.as_str()))
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

    /// The faults to apply to one call, with the rule that chose each.
    fn choose(&self, service: &str, operation: &str, body: &str) -> Vec<(Fault, Option<String>)> {
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner());
        let mut chosen = Vec::new();
        for rule in rules.iter().filter(|r| r.applies(service, operation, body)) {
            if self.roll() < rule.probability {
                *self.injected.lock().unwrap_or_else(|e| e.into_inner()).entry(rule.text.clone()).or_default() += 1;
                chosen.push((rule.fault.clone(), rule.mentioning.clone()));
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
    let (operation, text, body): (String, String, ProxyBody) = if service == "s3" {
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        (s3_operation(&parts), path, body.boxed())
    } else {
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return plain(StatusCode::BAD_REQUEST, "unreadable request body"),
        };
        let text = form_decoded(&String::from_utf8_lossy(&bytes));
        (operation(&parts, &bytes), text, Full::new(bytes).map_err(|never| match never {}).boxed())
    };
    for (fault, mentioning) in faults.choose(&service, &operation, &text) {
        match fault {
            Fault::Slow(delay) => tokio::time::sleep(delay).await,
            Fault::Throttle => return refusal(&service, true),
            Fault::ServerError => return refusal(&service, false),
            Fault::Invalid => return invalid(&service, mentioning.as_deref()),
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

/// A form-encoded body (the query protocol's) decoded, so rules match values as written
/// (`+1415...`, not `%2B1415...`); other bodies pass unchanged.
fn form_decoded(body: &str) -> String {
    // JSON-protocol bodies are not form-encoded: a `+` there is a plus.
    if body.starts_with('{') || (!body.contains('%') && !body.contains('+')) {
        return body.to_owned();
    }
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| body.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (other, None) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A permanent refusal of what the request says, in the service's format. SNS's quotes the
/// value it refuses, as SNS does for phone numbers.
fn invalid(service: &str, mentioning: Option<&str>) -> Response<ProxyBody> {
    let (content_type, body, error_type) = if service == "sns" {
        let reason = match mentioning {
            Some(value) => format!("Invalid parameter: PhoneNumber Reason: {value} is not valid to publish to"),
            None => "Invalid parameter".to_owned(),
        };
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>{reason}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            uuid::Uuid::new_v4()
        );
        ("text/xml", body, "")
    } else {
        let code = if service == "dynamodb" { "ValidationException" } else { "InvalidParameterValue" };
        ("application/x-amz-json-1.0", format!(r#"{{"__type":"{code}","message":"Invalid parameter"}}"#), code)
    };
    let mut response = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
    *response.status_mut() = StatusCode::BAD_REQUEST;
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
        let targeted = Rule::parse("sns:Publish@+14155550123=invalid").unwrap();
        assert_eq!((targeted.fault, targeted.mentioning.as_deref()), (Fault::Invalid, Some("+14155550123")));
        for bad in [
            "sns:Publish@=invalid",
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
        let fired = (0..10_000).filter(|_| !faults.choose("sns", "Publish", "").is_empty()).count();
        assert!((1_700..2_300).contains(&fired), "{fired} of 10000");
        assert!(faults.choose("sqs", "Publish", "").is_empty() && faults.choose("sns", "Subscribe", "").is_empty());
        assert_eq!(faults.injected()["sns:Publish=throttle:0.2"], fired as u64);
    }

    #[test]
    fn targeted_rules_match_what_the_call_says_decoded() {
        let faults = Faults::new(vec![Rule::parse("sns:Publish@+14155550123=invalid").unwrap()], 7);
        let body = form_decoded("Action=Publish&PhoneNumber=%2B14155550123&Message=Gate+B22");
        assert_eq!(body, "Action=Publish&PhoneNumber=+14155550123&Message=Gate B22");
        assert_eq!(faults.choose("sns", "Publish", &body).len(), 1);
        let other = form_decoded("Action=Publish&PhoneNumber=%2B14155550124&Message=Gate+B22");
        assert!(faults.choose("sns", "Publish", &other).is_empty());
        assert_eq!(form_decoded(r#"{"a":"+1"}"#), r#"{"a":"+1"}"#, "JSON is not form-encoded");
        assert_eq!(form_decoded("100%"), "100%", "a stray percent sign stays");
    }

    /// A request to the proxy as an SDK would sign it for `service`, calling `operation`.
    fn signed_request(service: &str, operation: &str) -> String {
        format!(
            "POST / HTTP/1.1\r\nHost: proxy\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\nX-Amz-Target: AmazonSQS.{operation}\r\nContent-Length: 2\r\n\r\n{{}}"
        )
    }

    #[tokio::test]
    async fn a_delayed_call_whose_caller_hung_up_is_never_forwarded() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        // moto's stand-in: counts the calls that reach it.
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_address = upstream.local_addr().unwrap();
        let reached = Arc::new(AtomicUsize::new(0));
        let counter = reached.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = upstream.accept().await else { return };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = stream.read(&mut buffer).await;
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ =
                        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
                });
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = listener.local_addr().unwrap();
        let rules = vec![Rule::parse("sqs:Early=slow:100ms").unwrap(), Rule::parse("sqs:Late=slow:800ms").unwrap()];
        tokio::spawn(serve(listener, format!("http://{upstream_address}"), Arc::new(Faults::new(rules, 1))));

        // A caller that is gone before its delay ends (a function cut off at its timeout) ...
        let mut gone = tokio::net::TcpStream::connect(proxy).await.unwrap();
        gone.write_all(signed_request("sqs", "Early").as_bytes()).await.unwrap();
        drop(gone);
        // ... and one that waits for its answer, delayed well past the first one's delay.
        let mut waiting = tokio::net::TcpStream::connect(proxy).await.unwrap();
        waiting.write_all(signed_request("sqs", "Late").as_bytes()).await.unwrap();
        let mut answer = String::new();
        waiting.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(reached.load(Ordering::SeqCst), 1, "only the call whose caller waited reached moto");
    }
}
