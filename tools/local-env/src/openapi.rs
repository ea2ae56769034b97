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
            serde_yaml::from_str(&text).map_err(|e| Error::Template(format!("{}: {e}", path.display())))?;
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

/// Checks `value` against `schema` with the JSON Schema keywords API Gateway's request
/// validator applies (draft 4: types, required, properties, additionalProperties, enum,
/// pattern, lengths, bounds, items). Returns one message per violation, with its path.
pub fn validate(api: &OpenApi, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = api.resolve(schema);
    let here = if at.is_empty() { "body" } else { at };
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{here}: expected {kind}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{here}: not one of the allowed values"));
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                if !map.contains_key(name) {
                    errors.push(format!("{}: required property missing", join(at, name)));
                }
            }
            for (name, item) in map {
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => validate(api, sub, item, &join(at, name), errors),
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        errors.push(format!("{}: property not allowed", join(at, name)))
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            let bound = |k: &str| schema.get(k).and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok());
            if bound("minItems").is_some_and(|min| items.len() < min) {
                errors.push(format!("{here}: too few items"));
            }
            if bound("maxItems").is_some_and(|max| items.len() > max) {
                errors.push(format!("{here}: too many items"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(api, item_schema, item, &format!("{here}[{i}]"), errors);
                }
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if schema.get("minLength").and_then(Value::as_u64).is_some_and(|min| length < min) {
                errors.push(format!("{here}: too short"));
            }
            if schema.get("maxLength").and_then(Value::as_u64).is_some_and(|max| length > max) {
                errors.push(format!("{here}: too long"));
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                match regex::Regex::new(pattern) {
                    Ok(re) if !re.is_match(text) => errors.push(format!("{here}: does not match {pattern}")),
                    Ok(_) => {}
                    Err(_) => errors.push(format!("{here}: the contract's pattern {pattern} is not a valid regex")),
                }
            }
        }
        Value::Number(n) => {
            if let (Some(min), Some(v)) = (schema.get("minimum").and_then(Value::as_f64), n.as_f64())
                && v < min
            {
                errors.push(format!("{here}: below the minimum {min}"));
            }
            if let (Some(max), Some(v)) = (schema.get("maximum").and_then(Value::as_f64), n.as_f64())
                && v > max
            {
                errors.push(format!("{here}: above the maximum {max}"));
            }
        }
        _ => {}
    }
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() { name.to_owned() } else { format!("{at}.{name}") }
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
        let schema = json!({"$ref": "#/components/schemas/FlightEvent"});
        let mut errors = Vec::new();
        validate(&api, &schema, &json!({"type": "delay", "reason": "x", "minutes": 30}), "", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        validate(&api, &schema, &json!({"type": "late", "minutes": "30", "extra": 1}), "", &mut errors);
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors.iter().any(|e| e.starts_with("reason")));
        assert!(errors.iter().any(|e| e.starts_with("extra")));
    }
}
