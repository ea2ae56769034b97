//! Keeps lambda_http from panicking on a request it cannot turn into a URL.
//!
//! lambda_http builds each request's URI from the `Host` (or the API's domain name), the
//! `X-Forwarded-Proto` and the path, and unwraps the result: a client that sends `Host:
//! api{x}` or `X-Forwarded-Proto: a b`, or API Gateway's own console test event (whose host
//! is `...execute-api.{dns_suffix}`), makes it panic. Release builds abort on a panic
//! (`panic = "abort"`, which keeps every package 12% smaller than unwinding would:
//! BENCHMARKS.md), so the process would die and the caller get a 502. This service sits
//! between the runtime and lambda_http's adapter (the place lambda_http provides for such
//! middleware), checks that URI the same way, and answers a 400 problem itself when it
//! cannot be built.

use std::task::{Context, Poll};

use futures::TryFutureExt;
use futures::future::{Either, MapOk, Ready, ready};
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_http::http::{HeaderMap, HeaderValue, Uri, header};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, LambdaEvent, Service};

use crate::problem::Problem;

/// Wraps lambda_http's adapter (or any service of REST API events).
pub struct Guard<S> {
    inner: S,
}

impl<S> Guard<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

/// Why the request's URI cannot be built, if it cannot.
pub fn unbuildable(request: &ApiGatewayProxyRequest) -> Option<&'static str> {
    let text = |map: &HeaderMap, name: &str| map.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let host = text(&request.headers, header::HOST.as_str())
        .or_else(|| text(&request.multi_value_headers, header::HOST.as_str()))
        .or_else(|| request.request_context.domain_name.clone());
    let path = request.path.clone().unwrap_or_default();
    let candidate = match host {
        // As lambda_http does: the path resolved against a placeholder host.
        None => format!("http://localhost{path}"),
        Some(host) => {
            let scheme = text(&request.headers, "x-forwarded-proto")
                .or_else(|| text(&request.multi_value_headers, "x-forwarded-proto"))
                .unwrap_or_else(|| "https".to_owned());
            format!("{scheme}://{host}{path}")
        }
    };
    let Ok(url) = url::Url::parse(&candidate) else {
        return Some("the Host, X-Forwarded-Proto and path do not form a URL");
    };
    if Uri::try_from(url.as_str()).is_err() {
        return Some("the Host or path holds characters a URI cannot");
    }
    None
}

/// What the function answers: lambda_http's response, or the guard's refusal.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Answer<R> {
    Handled(R),
    Refused(Box<ApiGatewayProxyResponse>),
}

/// The REST API (payload v1) response a refusal becomes.
fn refusal(detail: &str) -> ApiGatewayProxyResponse {
    let problem = Problem::malformed(detail);
    let body = serde_json::to_string(&problem).unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::problem::CONTENT_TYPE));
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(problem.status);
    response.headers = headers;
    response.body = Some(Body::Text(body));
    response.is_base64_encoded = false;
    response
}

impl<S> Service<LambdaEvent<LambdaRequest>> for Guard<S>
where
    S: Service<LambdaEvent<LambdaRequest>>,
{
    type Response = Answer<S::Response>;
    type Error = S::Error;
    type Future =
        Either<Ready<Result<Self::Response, Self::Error>>, MapOk<S::Future, fn(S::Response) -> Self::Response>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<LambdaRequest>) -> Self::Future {
        if let LambdaRequest::ApiGatewayV1(request) = &event.payload
            && let Some(reason) = unbuildable(request)
        {
            tracing::warn!(reason, "request refused before lambda_http: its URI cannot be built");
            return Either::Left(ready(Ok(Answer::Refused(Box::new(refusal(reason))))));
        }
        Either::Right(self.inner.call(event).map_ok(Answer::Handled as fn(S::Response) -> Self::Response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What lambda_http does with an event the guard let through, with panics caught.
    fn converts(event: &serde_json::Value) -> bool {
        let Ok(request) = serde_json::from_value::<LambdaRequest>(event.clone()) else { return true };
        std::panic::catch_unwind(move || {
            let _: lambda_http::Request = request.into();
        })
        .is_ok()
    }

    fn refused(event: &serde_json::Value) -> bool {
        match serde_json::from_value::<LambdaRequest>(event.clone()) {
            Ok(LambdaRequest::ApiGatewayV1(request)) => unbuildable(&request).is_some(),
            _ => false,
        }
    }

    #[test]
    fn every_official_sample_is_either_converted_or_refused_never_a_panic() {
        let samples = testkit::api_gateway_rest_samples();
        for (name, event) in &samples {
            assert!(refused(event) || converts(event), "{name} would panic lambda_http");
        }
        let console = samples.iter().find(|(n, _)| n == "example-apigw-console-request.json").map(|(_, e)| e).unwrap();
        assert!(refused(console), "the console's test event, whose host is a template, is refused");
        let plain = samples.iter().find(|(n, _)| n == "example-apigw-request.json").map(|(_, e)| e).unwrap();
        assert!(!refused(plain), "an ordinary request passes");
    }

    fn with_headers(host: &str, proto: &str) -> serde_json::Value {
        let mut event = testkit::aws_sample("example-apigw-request.json");
        event["headers"] = serde_json::json!({"Host": host, "X-Forwarded-Proto": proto});
        event["multiValueHeaders"] = serde_json::json!({"Host": [host], "X-Forwarded-Proto": [proto]});
        event
    }

    #[test]
    fn the_headers_that_crashed_a_release_build_are_refused() {
        assert!(refused(&with_headers("api{x}", "https")));
        assert!(refused(&with_headers("api.example.com", "a b")));
        assert!(!refused(&with_headers("api.example.com:8443", "https")));
    }

    proptest! {
        /// Any Host and X-Forwarded-Proto a client can send (printable ASCII, as header
        /// values are): refused, or converted without a panic.
        #[test]
        fn any_host_and_scheme_are_refused_or_converted(host in "[ -~]{0,30}", proto in "[ -~]{0,10}") {
            let event = with_headers(&host, &proto);
            prop_assert!(refused(&event) || converts(&event), "host {:?} proto {:?}", host, proto);
        }
    }
}
