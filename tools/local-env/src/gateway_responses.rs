//! API Gateway's own answers (a missing API key, throttling, an invalid request, a body
//! too large, a failed or slow function), shaped as the contract's
//! `x-amazon-apigateway-gateway-responses` say, as API Gateway shapes them: the entry of
//! the response type, else `DEFAULT_4XX` / `DEFAULT_5XX`, else API Gateway's default
//! `{"message": ...}`. Templates are not VTL: only `$context` variables are filled in.

use std::collections::BTreeMap;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::openapi::OpenApi;

/// One response type's customisation.
#[derive(Debug, Clone, Default)]
struct Entry {
    status: Option<u16>,
    headers: Vec<(String, String)>,
    template: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct GatewayResponses {
    entries: BTreeMap<String, Entry>,
}

/// What went wrong, as API Gateway names it, with its default status and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MissingAuthenticationToken,
    InvalidApiKey,
    Throttled,
    BadRequestParameters,
    BadRequestBody,
    RequestTooLarge,
    IntegrationTimeout,
    ApiConfigurationError,
    /// The function failed or answered with something that is not a proxy response (502).
    FunctionFailed,
    /// Lambda refused the invocation, e.g. throttling the function (500).
    LambdaRefused,
}

impl Refusal {
    fn response_type(self) -> Option<&'static str> {
        Some(match self {
            Refusal::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Refusal::InvalidApiKey => "INVALID_API_KEY",
            Refusal::Throttled => "THROTTLED",
            Refusal::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            Refusal::BadRequestBody => "BAD_REQUEST_BODY",
            Refusal::RequestTooLarge => "REQUEST_TOO_LARGE",
            Refusal::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Refusal::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            // No type of their own: only the defaults apply.
            Refusal::FunctionFailed | Refusal::LambdaRefused => return None,
        })
    }

    fn default_status(self) -> u16 {
        match self {
            Refusal::MissingAuthenticationToken | Refusal::InvalidApiKey => 403,
            Refusal::Throttled => 429,
            Refusal::BadRequestParameters | Refusal::BadRequestBody => 400,
            Refusal::RequestTooLarge => 413,
            Refusal::IntegrationTimeout => 504,
            Refusal::ApiConfigurationError | Refusal::LambdaRefused => 500,
            Refusal::FunctionFailed => 502,
        }
    }

    fn default_message(self) -> &'static str {
        match self {
            Refusal::MissingAuthenticationToken => "Missing Authentication Token",
            Refusal::InvalidApiKey => "Forbidden",
            Refusal::Throttled => "Too Many Requests",
            Refusal::BadRequestParameters | Refusal::BadRequestBody => "Invalid request",
            Refusal::RequestTooLarge => "Request Too Long",
            Refusal::IntegrationTimeout => "Endpoint request timed out",
            Refusal::ApiConfigurationError | Refusal::FunctionFailed | Refusal::LambdaRefused => {
                "Internal server error"
            }
        }
    }
}

impl GatewayResponses {
    pub fn from_contract(api: &OpenApi) -> Self {
        let mut entries = BTreeMap::new();
        let declared = api.document.get("x-amazon-apigateway-gateway-responses").and_then(Value::as_object);
        for (kind, entry) in declared.into_iter().flatten() {
            let status = entry.get("statusCode").and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok()));
            let headers = entry
                .get("responseParameters")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(name, value)| {
                    let header = name.strip_prefix("gatewayresponse.header.")?;
                    // Static values are quoted: "'application/problem+json'".
                    let value = value.as_str()?.trim_matches('\'');
                    Some((header.to_owned(), value.to_owned()))
                })
                .collect();
            let template =
                entry.pointer("/responseTemplates/application~1json").and_then(Value::as_str).map(str::to_owned);
            entries
                .insert(kind.clone(), Entry { status: status.and_then(|s| u16::try_from(s).ok()), headers, template });
        }
        Self { entries }
    }

    /// The answer to `refusal`; `validation` fills `$context.error.validationErrorString`.
    pub fn respond(&self, refusal: Refusal, validation: &str, request_id: &str) -> Response<Full<Bytes>> {
        let status = refusal.default_status();
        let fallback = if status >= 500 { "DEFAULT_5XX" } else { "DEFAULT_4XX" };
        let entry = refusal.response_type().and_then(|t| self.entries.get(t)).or_else(|| self.entries.get(fallback));
        let message = refusal.default_message();
        let (status, headers, body) = match entry {
            Some(entry) => {
                let body = match &entry.template {
                    Some(template) => fill(template, message, validation, request_id),
                    None => serde_json::json!({ "message": message }).to_string(),
                };
                (entry.status.unwrap_or(status), entry.headers.clone(), body)
            }
            None => (
                status,
                vec![("Content-Type".to_owned(), "application/json".to_owned())],
                serde_json::json!({ "message": message }).to_string(),
            ),
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) =
                (hyper::header::HeaderName::try_from(name.as_str()), hyper::header::HeaderValue::try_from(value))
            {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// A gateway-response template with its `$context` variables filled in.
fn fill(template: &str, message: &str, validation: &str, request_id: &str) -> String {
    // Inside a JSON string, the text must be escaped; `messageString` is already quoted.
    let escaped = |text: &str| {
        let quoted = serde_json::Value::String(text.to_owned()).to_string();
        quoted[1..quoted.len() - 1].to_owned()
    };
    template
        .replace("$context.error.validationErrorString", &escaped(validation))
        .replace("$context.error.messageString", &serde_json::Value::String(message.to_owned()).to_string())
        .replace("$context.error.message", &escaped(message))
        .replace("$context.requestId", request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> GatewayResponses {
        GatewayResponses::from_contract(
            &OpenApi::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.yaml")).unwrap(),
        )
    }

    async fn body(response: Response<Full<Bytes>>) -> (u16, String, Value) {
        use http_body_util::BodyExt;
        let status = response.status().as_u16();
        let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, kind, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn every_refusal_is_a_problem_document_as_the_contract_declares() {
        let responses = contract();
        for refusal in [
            Refusal::MissingAuthenticationToken,
            Refusal::InvalidApiKey,
            Refusal::Throttled,
            Refusal::BadRequestBody,
            Refusal::RequestTooLarge,
            Refusal::IntegrationTimeout,
            Refusal::FunctionFailed,
            Refusal::LambdaRefused,
        ] {
            let (status, kind, problem) = body(responses.respond(refusal, "name: \"x\" is bad", "req-1")).await;
            assert_eq!(kind, "application/problem+json", "{refusal:?}");
            assert!(problem["type"].as_str().unwrap().starts_with("/problems/"), "{refusal:?}: {problem}");
            assert!(problem["detail"].is_string(), "{refusal:?}: {problem}");
            if refusal == Refusal::FunctionFailed {
                assert_eq!(status, 502);
            }
        }
        let (status, _, problem) = body(responses.respond(Refusal::BadRequestBody, "name: \"x\" is bad", "r")).await;
        assert_eq!((status, problem["detail"].as_str()), (400, Some("name: \"x\" is bad")));
        let (status, _, _) = body(responses.respond(Refusal::MissingAuthenticationToken, "", "r")).await;
        assert_eq!(status, 404, "the contract answers unknown routes 404");
    }

    #[tokio::test]
    async fn without_customisation_api_gateways_own_message() {
        let (status, kind, body) = body(GatewayResponses::default().respond(Refusal::RequestTooLarge, "", "r")).await;
        assert_eq!((status, kind.as_str()), (413, "application/json"));
        assert_eq!(body, serde_json::json!({"message": "Request Too Long"}));
    }
}
