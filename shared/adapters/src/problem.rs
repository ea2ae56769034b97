//! RFC 9457 problem details: every 4xx and 5xx answer of the API has this body, with
//! `Content-Type: application/problem+json`.

use domain::{FieldError, Invalid};
use lambda_http::{Body, Response, http::StatusCode};
use serde::Serialize;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem report. `type` is a URI reference relative to the API's base URL, documented
/// in openapi.yaml; `errors` names each offending field for validation problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { kind, title, status: status.as_u16(), detail: detail.into(), errors: Vec::new() }
    }

    /// The request was understood but some fields are invalid; nothing was written.
    pub fn invalid(invalid: Invalid) -> Self {
        let detail = invalid.to_string();
        Self {
            errors: invalid.0,
            ..Self::new(StatusCode::BAD_REQUEST, "/problems/validation", "Invalid request", detail)
        }
    }

    /// The body is not the JSON document the operation takes.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "/problems/malformed-body", "Malformed request body", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "/problems/not-found", "Not found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "/problems/conflict", "Conflict", detail)
    }

    /// The request is well-formed but contradicts an earlier one (an idempotency key
    /// reused for a different request).
    pub fn unprocessable(kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, title, detail)
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "/problems/no-such-operation", "No such operation", detail)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "/problems/unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        )
    }

    /// Something failed on our side. The detail stays generic; the cause is in the logs
    /// under the request's correlation id, which the detail quotes.
    pub fn internal(correlation_id: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "/problems/unavailable",
            "Service unavailable",
            format!("the request could not be completed; it is safe to retry (correlation id {correlation_id})"),
        )
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::to_string(&self).unwrap_or_else(|_| format!("{{\"status\":{}}}", self.status));
        Response::builder()
            .status(self.status)
            .header("content-type", CONTENT_TYPE)
            .body(Body::Text(body))
            .unwrap_or_else(|_| Response::new(Body::Empty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problems_name_the_fields() {
        let response = Problem::invalid(Invalid::one("passengers[0].mobile", "is not a phone number")).into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
        let Body::Text(body) = response.body() else { panic!("text body expected") };
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["type"], "/problems/validation");
        assert_eq!(json["status"], 400);
        assert_eq!(json["errors"][0]["field"], "passengers[0].mobile");
    }
}
