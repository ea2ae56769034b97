//! Request and response plumbing for API Gateway REST (payload v1) proxy events.

use std::time::Duration;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response, http::StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::deadline::Deadline;
use crate::problem::Problem;

pub mod guard;

/// Runs an HTTP handler as a Lambda function, as `lambda_http::run` does, with
/// [`guard::Guard`] in front: a request lambda_http cannot turn into a URI is answered 400
/// instead of panicking the process.
pub async fn run<'a, R, S, E>(handler: S) -> Result<(), lambda_http::Error>
where
    S: lambda_http::Service<Request, Response = R, Error = E>,
    S::Future: Send + 'a,
    R: lambda_http::IntoResponse,
    E: std::fmt::Debug + Into<lambda_http::lambda_runtime::Diagnostic>,
{
    lambda_http::lambda_runtime::run(guard::Guard::new(lambda_http::Adapter::from(handler))).await
}

/// Header a client may set to follow its request through the logs of every function it
/// reaches; without it the API Gateway request id is used.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// The operation API Gateway matched: method and resource template, e.g.
/// `("POST", "/flights/{flightId}/events")`. Functions route on this, not on the raw path.
pub fn operation(req: &Request) -> (String, String) {
    let resource = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.resource_path.clone().unwrap_or_default(),
        _ => String::new(),
    };
    (req.method().as_str().to_owned(), resource)
}

/// The id that ties this request's log lines to those of the functions downstream.
pub fn correlation_id(req: &Request) -> String {
    let from_client = req.headers().get(CORRELATION_HEADER).and_then(|v| v.to_str().ok()).filter(|v| {
        (1..=128).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if let Some(id) = from_client {
        return id.to_owned();
    }
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
    .unwrap_or_default()
}

/// A path parameter API Gateway extracted from the matched resource.
pub fn path_parameter(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_owned)
}

/// A query string parameter.
pub fn query_parameter(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
}

/// A request header, when present and printable.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Parses a JSON body; on failure the problem names where in the document it went wrong.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, Problem> {
    if let Some(kind) = header(req, "content-type") {
        let essence = kind.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if essence != "application/json" {
            return Err(Problem::unsupported_media_type());
        }
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => return Err(Problem::malformed("the request has no body; send a JSON object")),
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => return Err(Problem::malformed("unsupported body encoding")),
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." || path.is_empty() {
            Problem::malformed(format!("the body is not a valid JSON object: {inner}"))
        } else {
            Problem::malformed(format!("at {path}: {inner}"))
        }
    })
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::Text(text))
            .unwrap_or_else(|_| Response::new(Body::Empty)),
        Err(_) => Problem::internal("serialisation").into_response(),
    }
}

/// The operation API Gateway matched, the id its log lines carry, and when the answer
/// is due.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: String,
    pub resource: String,
    pub correlation_id: String,
    /// The invocation's deadline less a second to answer in: work that would run past it
    /// gives up and answers 503 rather than being cut off without an answer.
    pub deadline: Deadline,
}

/// Used when a request comes without a Lambda context (tests calling a handler directly):
/// the template's timeout for the API functions.
const DEFAULT_TIME: Duration = Duration::from_secs(10);

/// Serves one API request: opens a span carrying the correlation id, lets `route`
/// answer, turns a problem into its response and logs the outcome.
pub async fn serve<F, Fut>(req: Request, route: F) -> Result<Response<Body>, std::convert::Infallible>
where
    F: FnOnce(Request, Operation) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, Problem>>,
{
    let (method, resource) = operation(&req);
    let deadline = req.lambda_context_ref().map_or_else(|| Deadline::after(DEFAULT_TIME), Deadline::of);
    let op = Operation {
        correlation_id: correlation_id(&req),
        method,
        resource,
        deadline: deadline.less(Duration::from_secs(1)),
    };
    let span = tracing::info_span!("request", correlation_id = %op.correlation_id, method = %op.method, resource = %op.resource);
    async move {
        let response = route(req, op).await.unwrap_or_else(Problem::into_response);
        tracing::info!(status = response.status().as_u16(), "request handled");
        Ok(response)
    }
    .instrument(span)
    .await
}

/// For `map_err` on adapter calls: logs the cause and answers with a generic 503 that
/// quotes the correlation id, so the cause can be found in the logs.
pub fn dependency_failed(correlation_id: &str) -> impl FnOnce(crate::Error) -> Problem + '_ {
    move |err| {
        tracing::error!(error = %err, "dependency failed");
        Problem::internal(correlation_id)
    }
}

/// The answer for a method and resource this function does not serve.
pub fn no_such_operation(op: &Operation) -> Problem {
    Problem::method_not_allowed(format!("{} {} is not an operation of this API", op.method, op.resource))
}
