//! A local stand-in for API Gateway's REST API with Lambda proxy integration: matches the
//! request against the template's `Api` events, applies the API's protections (API key,
//! usage-plan throttle, request validation against openapi.yaml) in the order API Gateway
//! does, builds the payload-v1 proxy event, invokes the function and turns its proxy
//! response back into HTTP. Refusals carry the bodies of openapi.yaml's gateway responses.
//!
//! As on AWS, a function error, timeout or malformed proxy response is a 502, Lambda
//! throttling the function a 500, and an integration that takes longer than 29 seconds a
//! 504 (the invocation itself runs on to its own timeout).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::Error;
use crate::gateway_responses::{GatewayResponses, Refusal};
use crate::lambda::{Lambda, Outcome};
use crate::openapi::{BodyValidator, OpenApi};

/// API Gateway's integration timeout.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// API Gateway's payload limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// One operation: method and resource template, served by a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub resource: String,
    pub function: String,
}

impl Route {
    /// Path parameters when `path` matches this route's resource template.
    fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let want: Vec<&str> = self.resource.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        if want.len() != got.len() {
            return None;
        }
        let mut params = BTreeMap::new();
        for (w, g) in want.iter().zip(&got) {
            match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) if !g.is_empty() => {
                    params.insert(name.to_owned(), percent_decode(g));
                }
                Some(_) => return None,
                None if w == g => {}
                None => return None,
            }
        }
        Some(params)
    }
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What API Gateway checks before a function runs.
pub struct Protections {
    pub api: OpenApi,
    /// The key clients send in `x-api-key` where the contract requires one.
    pub api_key: String,
    /// Usage-plan throttle: steady requests per second and burst, per API key.
    pub throttle: Option<(f64, f64)>,
    /// Each operation's body validator, by (METHOD, resource).
    validators: BTreeMap<(String, String), BodyValidator>,
}

impl Protections {
    pub fn new(api: OpenApi, api_key: String, throttle: Option<(f64, f64)>) -> Result<Self, Error> {
        let mut validators = BTreeMap::new();
        for operation in api.operations() {
            if let Some(schema) = &operation.body_schema {
                validators.insert((operation.method.clone(), operation.path.clone()), api.body_validator(schema)?);
            }
        }
        Ok(Self { api, api_key, throttle, validators })
    }
}

/// A token bucket: `burst` requests at once, refilled at `rate` per second.
struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Gateway {
    routes: Vec<Route>,
    lambda: Arc<Lambda>,
    responses: GatewayResponses,
    stage: String,
    protections: Protections,
    buckets: Mutex<BTreeMap<String, Bucket>>,
}

/// Serves the API on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    routes: Vec<Route>,
    lambda: Arc<Lambda>,
    stage: String,
    protections: Protections,
) -> Result<(), Error> {
    let responses = GatewayResponses::from_contract(&protections.api);
    let gateway =
        Arc::new(Gateway { routes, lambda, responses, stage, protections, buckets: Mutex::new(BTreeMap::new()) });
    loop {
        let (stream, peer) = listener.accept().await.map_err(|e| Error::Process(e.to_string()))?;
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(gateway.handle(req, peer).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

impl Gateway {
    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let method = req.method().as_str().to_owned();
        let exact =
            self.routes.iter().find_map(|r| (r.method == method).then(|| r.matches(&path)).flatten().map(|p| (r, p)));
        let request_id = uuid::Uuid::new_v4().to_string();
        let refuse = |refusal: Refusal, validation: &str| self.responses.respond(refusal, validation, &request_id);
        let Some((route, params)) = exact else {
            return refuse(Refusal::MissingAuthenticationToken, "");
        };
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                // The rest of the body is never read, so the connection cannot carry another
                // request: say so, or a client reusing it fails its next request.
                let mut response = refuse(Refusal::RequestTooLarge, "");
                response
                    .headers_mut()
                    .insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
                return response;
            }
        };
        if let Some((refusal, validation)) = self.check(route, &parts, &params, &body) {
            return refuse(refusal, &validation);
        }
        let event = proxy_event(&parts, &body, route, &params, &self.stage, peer, &request_id);
        let Some(function) = self.lambda.function(&route.function) else {
            return refuse(Refusal::ApiConfigurationError, "");
        };
        let (lambda, source) = (self.lambda.clone(), format!("api:{} {}", route.method, route.resource));
        let running =
            tokio::spawn(async move { lambda.invoke(&function, Bytes::from(event.to_string()), &source, 1).await });
        match tokio::time::timeout(INTEGRATION_TIMEOUT, running).await {
            Err(_) => refuse(Refusal::IntegrationTimeout, ""),
            Ok(Err(_)) => refuse(Refusal::LambdaRefused, ""),
            Ok(Ok(invocation)) => match invocation.outcome {
                Outcome::Ok(response) => {
                    match serde_json::from_slice::<Value>(&response).ok().and_then(|r| proxy_response(&r)) {
                        Some(response) => response,
                        None => {
                            eprintln!("[api] {} {path}: the function's response is not a proxy response", route.method);
                            refuse(Refusal::FunctionFailed, "")
                        }
                    }
                }
                Outcome::Throttled => refuse(Refusal::LambdaRefused, ""),
                failed => {
                    eprintln!("[api] {} {path}: the function failed ({failed:?})", route.method);
                    refuse(Refusal::FunctionFailed, "")
                }
            },
        }
    }
}

impl Gateway {
    /// API key, then throttle, then validation: API Gateway's order. A refusal comes with
    /// its validation message, if any.
    fn check(
        &self,
        route: &Route,
        parts: &hyper::http::request::Parts,
        params: &BTreeMap<String, String>,
        body: &Bytes,
    ) -> Option<(Refusal, String)> {
        let p = &self.protections;
        let operation = p.api.operations().into_iter().find(|o| o.path == route.resource && o.method == route.method);
        let Some(operation) = operation else {
            return Some((Refusal::ApiConfigurationError, String::new()));
        };
        let key = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if operation.api_key_required && key != p.api_key {
            return Some((Refusal::InvalidApiKey, String::new()));
        }
        if let Some((rate, burst)) = p.throttle {
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let bucket = buckets.entry(key).or_insert(Bucket { tokens: burst, at: now });
            bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(burst);
            bucket.at = now;
            if bucket.tokens < 1.0 {
                return Some((Refusal::Throttled, String::new()));
            }
            bucket.tokens -= 1.0;
        }
        let query = parts.uri.query().unwrap_or_default();
        let missing: Vec<&str> = operation
            .required_parameters
            .iter()
            .filter(|(location, name)| match location.as_str() {
                "path" => !params.contains_key(name),
                "query" => !query.split('&').any(|pair| pair.split('=').next() == Some(name.as_str())),
                "header" => !parts.headers.contains_key(name.as_str()),
                _ => false,
            })
            .map(|(_, name)| name.as_str())
            .collect();
        if !missing.is_empty() {
            let detail = format!("Missing required request parameters: [{}]", missing.join(", "));
            return Some((Refusal::BadRequestParameters, detail));
        }
        let json_body =
            parts.headers.get("content-type").and_then(|v| v.to_str().ok()).is_none_or(|v| {
                v.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json")
            });
        let validator = self.protections.validators.get(&(operation.method.clone(), operation.path.clone()));
        if let Some(validator) = validator.filter(|_| json_body) {
            let errors = match serde_json::from_slice::<Value>(body) {
                Ok(value) => validator.errors(&value),
                Err(_) if body.is_empty() && !operation.body_required => Vec::new(),
                Err(_) => vec!["body: not a JSON document".to_owned()],
            };
            if !errors.is_empty() {
                let detail = format!("Invalid request body: [{}]", errors.join("; "));
                return Some((Refusal::BadRequestBody, detail));
            }
        }
        None
    }
}

/// The REST API proxy event (payload v1), field for field as API Gateway sends it.
fn proxy_event(
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    route: &Route,
    params: &BTreeMap<String, String>,
    stage: &str,
    peer: SocketAddr,
    request_id: &str,
) -> Value {
    let mut headers = serde_json::Map::new();
    let mut multi_headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.insert(name.as_str().to_owned(), Value::String(value.clone()));
        multi_headers.entry(name.as_str().to_owned()).or_default().push(value);
    }
    let mut query = serde_json::Map::new();
    let mut multi_query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in parts.uri.query().unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        query.insert(k.clone(), Value::String(v.clone()));
        multi_query.entry(k).or_default().push(v);
    }
    let none_if_empty = |m: serde_json::Map<String, Value>| if m.is_empty() { Value::Null } else { Value::Object(m) };
    let text = std::str::from_utf8(body).ok();
    let (body, encoded) = match (body.is_empty(), text) {
        (true, _) => (Value::Null, false),
        (false, Some(text)) => (Value::String(text.to_owned()), false),
        (false, None) => (Value::String(base64::engine::general_purpose::STANDARD.encode(body)), true),
    };
    let now = time::OffsetDateTime::now_utc();
    json!({
        "resource": route.resource,
        "path": parts.uri.path(),
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": none_if_empty(query),
        "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { json!(multi_query) },
        "pathParameters": if params.is_empty() { Value::Null } else { json!(params) },
        "stageVariables": Value::Null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": route.method,
            "path": format!("/{stage}{}", parts.uri.path()),
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.unix_timestamp().to_string(),
            "requestTimeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
            "protocol": "HTTP/1.1",
            "identity": { "sourceIp": peer.ip().to_string(), "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::Null) },
        },
        "body": body,
        "isBase64Encoded": encoded,
    })
}

/// The function's proxy response as HTTP; `None` for a malformed one (a 502, as on API Gateway).
fn proxy_response(response: &Value) -> Option<Response<Full<Bytes>>> {
    let Some(status) = response.get("statusCode").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()) else {
        eprintln!("[api] malformed Lambda proxy response: {response}");
        return None;
    };
    let body = match response.get("body").and_then(Value::as_str) {
        Some(text) if response.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default()
        }
        Some(text) => text.as_bytes().to_vec(),
        None => Vec::new(),
    };
    let mut builder = Response::builder().status(status);
    if let Some(Value::Object(headers)) = response.get("headers") {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                builder = builder.header(name.as_str(), value);
            }
        }
    }
    if let Some(Value::Object(headers)) = response.get("multiValueHeaders") {
        for (name, values) in headers {
            for value in values.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if response.get("headers").and_then(|h| h.get(name)).is_none() {
                    builder = builder.header(name.as_str(), value);
                }
            }
        }
    }
    builder.body(Full::new(Bytes::from(body))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(resource: &str) -> Route {
        Route { method: "GET".into(), resource: resource.into(), function: "f".into() }
    }

    #[test]
    fn resources_match_with_their_parameters() {
        let r = route("/flights/{flightId}/events");
        assert_eq!(r.matches("/flights/UA83-2026-12-01/events").unwrap()["flightId"], "UA83-2026-12-01");
        assert!(r.matches("/flights/UA83/other").is_none());
        assert!(r.matches("/flights//events").is_none());
        assert!(route("/alerts").matches("/alerts/").is_some());
        assert_eq!(route("/x/{id}").matches("/x/a%20b").unwrap()["id"], "a b");
    }
}
