//! Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`) on 127.0.0.1,
//! so `cargo lambda invoke NAME` (port 9000 by default), the AWS CLI and SDKs with an
//! endpoint URL can invoke the local functions as they would on AWS.
//!
//! `X-Amz-Invocation-Type`: `RequestResponse` (default) waits for the outcome, `Event`
//! queues an asynchronous invocation (202), `DryRun` only checks the function exists (204).
//! A function error is a 200 with `X-Amz-Function-Error: Unhandled` and the error
//! document; throttling is a 429 `TooManyRequestsException`; an unknown function a 404.

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{Lambda, Outcome};
use crate::Error;

/// Lambda's limit on a synchronous request payload.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

pub async fn serve(listener: TcpListener, lambda: Arc<Lambda>) -> Result<(), Error> {
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| Error::Process(e.to_string()))?;
        let lambda = lambda.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let lambda = lambda.clone();
                async move { Ok::<_, Infallible>(handle(&lambda, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"Type": "User", "message": message});
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    if let Ok(kind) = kind.parse() {
        response.headers_mut().insert("x-amzn-errortype", kind);
    }
    response
}

async fn handle(lambda: &Arc<Lambda>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ["2015-03-31", "functions", name, "invocations"] = parts.as_slice() else {
        return error(StatusCode::NOT_FOUND, "UnknownOperationException", "only Invoke is served here");
    };
    let name = percent_decode(name);
    let Some(function) = lambda.function(&name) else {
        return error(StatusCode::NOT_FOUND, "ResourceNotFoundException", &format!("Function not found: {name}"));
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let kind = header("x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    // The AWS API sends the client context base64-encoded; cargo lambda sends it as is.
    let client_context = header("x-amz-client-context")
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .or_else(|| header("lambda-runtime-client-context"));
    let payload = match Limited::new(req.into_body(), MAX_PAYLOAD).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
            );
        }
    };
    let payload = if payload.is_empty() { Bytes::from_static(b"{}") } else { payload };
    match kind.as_str() {
        "DryRun" => with_status(StatusCode::NO_CONTENT, Bytes::new()),
        "Event" => {
            lambda.invoke_async(function, payload, "invoke".into());
            with_status(StatusCode::ACCEPTED, Bytes::new())
        }
        "RequestResponse" => {
            let invocation = lambda.invoke_with_context(&function, payload, client_context, "invoke", 1).await;
            match &invocation.outcome {
                Outcome::Ok(body) => with_status(StatusCode::OK, body.clone()),
                Outcome::Throttled => {
                    error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", "Rate Exceeded.")
                }
                failed => {
                    let document =
                        failed.error_document(&invocation.request_id, function.config.timeout).unwrap_or_default();
                    let mut response = with_status(StatusCode::OK, Bytes::from(document.to_string()));
                    response
                        .headers_mut()
                        .insert("x-amz-function-error", hyper::header::HeaderValue::from_static("Unhandled"));
                    response
                }
            }
        }
        other => error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("X-Amz-Invocation-Type {other} is not one of RequestResponse, Event, DryRun"),
        ),
    }
}

fn with_status(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert("x-amz-executed-version", hyper::header::HeaderValue::from_static("$LATEST"));
    response
}

/// ARNs in the path arrive percent-encoded (`arn%3Aaws%3Alambda...`).
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
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
