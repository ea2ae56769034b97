//! Reads the API contract the way API Gateway imports it: operations, whether they need
//! an API key, their required parameters and body schema.

use std::path::Path;

use serde_json::Value;

use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub struct OperationSpec {
    pub path: String,
    pub method: String,
    pub api_key_required: bool,
    /// (location, name) of each required parameter: `path`, `query` or `header`.
    pub required_parameters: Vec<(String, String)>,
    /// The JSON body's schema, `$ref`s left for the validator to follow.
    pub body_schema: Option<Value>,
    pub body_required: bool,
    /// The `${X.Arn}` the integration URI names: the logical id of the function.
    pub integration_function: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OpenApi {
    pub document: Value,
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

impl OpenApi {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.display().to_string(), source })?;
        let document: Value =
            yaml_serde::from_str(&text).map_err(|e| Error::Template(format!("{}: {e}", path.display())))?;
        Ok(Self { document })
    }

    /// Follows a local `$ref` such as `#/components/schemas/Flight`.
    pub fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        let mut current = value;
        for _ in 0..16 {
            match current.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(pointer) => current = self.document.pointer(pointer).unwrap_or(&Value::Null),
                None => break,
            }
        }
        current
    }

    pub fn operations(&self) -> Vec<OperationSpec> {
        let global_key = requires_key(self.document.get("security"));
        let mut out = Vec::new();
        for (path, item) in self.document.get("paths").and_then(Value::as_object).into_iter().flatten() {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let api_key_required = match op.get("security") {
                    Some(security) => requires_key(Some(security)),
                    None => global_key,
                };
                let mut required_parameters = Vec::new();
                for param in
                    item.get("parameters").into_iter().chain(op.get("parameters")).filter_map(Value::as_array).flatten()
                {
                    let param = self.resolve(param);
                    if param.get("required").and_then(Value::as_bool) == Some(true) {
                        let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
                        let name = param.get("name").and_then(Value::as_str).unwrap_or_default();
                        required_parameters.push((location.to_owned(), name.to_owned()));
                    }
                }
                let body = op.get("requestBody").map(|b| self.resolve(b));
                let integration = op
                    .get("x-amazon-apigateway-integration")
                    .and_then(|i| i.get("uri"))
                    .and_then(|uri| uri.get("Fn::Sub").and_then(Value::as_str).or_else(|| uri.as_str()))
                    .and_then(|uri| uri.split("${").find_map(|part| part.split_once(".Arn}")))
                    .map(|(id, _)| id.to_owned());
                out.push(OperationSpec {
                    path: path.clone(),
                    method: method.to_ascii_uppercase(),
                    api_key_required,
                    required_parameters,
                    body_schema: body.and_then(|b| b.pointer("/content/application~1json/schema")).cloned(),
                    body_required: body.and_then(|b| b.get("required")).and_then(Value::as_bool) == Some(true),
                    integration_function: integration,
                });
            }
        }
        out
    }
}

fn requires_key(security: Option<&Value>) -> bool {
    security
        .and_then(Value::as_array)
        .is_some_and(|alternatives| alternatives.iter().any(|a| a.get("api_key").is_some()))
}

/// A request body's schema compiled as API Gateway's request validator applies it: JSON
/// Schema draft 4, with the contract's `components` available to its `$ref`s. Formats are
/// not asserted (API Gateway's validator does not check `format`).
pub struct BodyValidator(jsonschema::Validator);

impl OpenApi {
    pub fn body_validator(&self, schema: &Value) -> Result<BodyValidator, Error> {
        let mut root = match schema {
            Value::Object(map) => map.clone(),
            _ => return Err(Error::Template("a request body schema must be an object".into())),
        };
        if let Some(components) = self.document.get("components") {
            root.insert("components".into(), components.clone());
        }
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(&Value::Object(root))
            .map(BodyValidator)
            .map_err(|e| Error::Template(format!("openapi.yaml: a request body schema does not compile: {e}")))
    }
}

impl BodyValidator {
    /// One message per violation, each naming where in the body it is.
    pub fn errors(&self, value: &Value) -> Vec<String> {
        self.0
            .iter_errors(value)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "body".to_owned() } else { at.trim_start_matches('/').replace('/', ".") };
                format!("{at}: {e}")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api() -> OpenApi {
        OpenApi::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.yaml")).unwrap()
    }

    #[test]
    fn reads_the_operations_of_the_contract() {
        let ops = api().operations();
        let post = ops.iter().find(|o| o.path == "/flights/{flightId}/events" && o.method == "POST").unwrap();
        assert!(post.api_key_required);
        assert!(post.body_required);
        assert_eq!(post.required_parameters, [("path".to_owned(), "flightId".to_owned())]);
        assert_eq!(post.integration_function.as_deref(), Some("AlertsFunction"));
        let list = ops.iter().find(|o| o.path == "/alerts").unwrap();
        assert_eq!(list.required_parameters, [("query".to_owned(), "flightId".to_owned())]);
    }

    #[test]
    fn bodies_are_checked_against_their_schema() {
        let api = api();
        let validator = api.body_validator(&json!({"$ref": "#/components/schemas/FlightEvent"})).unwrap();
        assert!(validator.errors(&json!({"type": "delay", "reason": "x", "minutes": 30})).is_empty());
        let errors = validator.errors(&json!({"type": "late", "minutes": "30", "extra": 1}));
        assert!(errors.len() >= 3, "{errors:?}");
        // Fields that belong to another kind of event are refused by the contract.
        assert!(!validator.errors(&json!({"type": "delay", "reason": "x", "minutes": 5, "gate": "B2"})).is_empty());
        assert!(!validator.errors(&json!({"type": "cancellation", "reason": "x", "minutes": 5})).is_empty());
        assert!(!validator.errors(&json!({"type": "gateChange", "reason": "x"})).is_empty());
        assert!(validator.errors(&json!({"type": "gateChange", "reason": "x", "gate": "B22"})).is_empty());
        // Text with nothing visible is refused; any visible character is enough.
        assert!(!validator.errors(&json!({"type": "cancellation", "reason": "\u{200B} \u{FEFF}"})).is_empty());
        assert!(validator.errors(&json!({"type": "cancellation", "reason": "\u{200B}é"})).is_empty());
        assert!(errors.iter().any(|e| e.contains("reason")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("extra")), "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("minutes:")), "{errors:?}");
    }
}
