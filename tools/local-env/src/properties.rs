//! Reading a resource's or event's properties strictly: every property is either used,
//! or explicitly accepted as deployment-only, or refused at start with the resource and
//! property named. Nothing in the template is silently ignored.

use std::collections::BTreeSet;
use std::sync::Mutex;

use yaml_serde::{Mapping, Value};

use crate::Error;
use crate::resources::Resources;
use crate::template::{get, list, mapping, target};

pub struct Props<'a> {
    /// Names the owner in errors: `SmsFunction.Events.Alerts (SQS)`, `AlertsTable`.
    context: String,
    map: &'a Mapping,
    resources: &'a Resources,
    used: Mutex<BTreeSet<String>>,
}

impl<'a> Props<'a> {
    pub fn new(context: impl Into<String>, map: &'a Mapping, resources: &'a Resources) -> Self {
        Self { context: context.into(), map, resources, used: Mutex::new(BTreeSet::new()) }
    }

    pub fn context(&self) -> &str {
        &self.context
    }

    /// An error about this owner.
    pub fn error(&self, detail: impl std::fmt::Display) -> Error {
        Error::Template(format!("{}: {detail}", self.context))
    }

    /// The raw value, marking the property as used.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_owned());
        get(self.map, key)
    }

    /// A scalar property, with intrinsics evaluated.
    pub fn string(&self, key: &str) -> Result<Option<String>, Error> {
        self.raw(key).map(|v| self.resources.resolve(v).map_err(|e| self.error(format!("{key}: {e}")))).transpose()
    }

    pub fn required_string(&self, key: &str) -> Result<String, Error> {
        self.string(key)?.ok_or_else(|| self.error(format!("{key} is required")))
    }

    /// An integer property within AWS's bounds for it.
    pub fn integer(&self, key: &str, bounds: std::ops::RangeInclusive<i64>) -> Result<Option<i64>, Error> {
        let Some(text) = self.string(key)? else { return Ok(None) };
        let value: i64 = text.parse().map_err(|_| self.error(format!("{key}: {text} is not an integer")))?;
        if !bounds.contains(&value) {
            return Err(self.error(format!(
                "{key}: {value} is outside the range AWS accepts ({}..={})",
                bounds.start(),
                bounds.end()
            )));
        }
        Ok(Some(value))
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, Error> {
        match self.string(key)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(self.error(format!("{key}: {other} is not true or false"))),
        }
    }

    /// The logical id a property references with `!Ref` or `!GetAtt`.
    pub fn reference(&self, key: &str) -> Result<Option<String>, Error> {
        match self.raw(key) {
            None => Ok(None),
            Some(value) => target(Some(value)).map(Some).ok_or_else(|| {
                self.error(format!("{key} must reference a resource of this template (!Ref or !GetAtt)"))
            }),
        }
    }

    /// A list property's items.
    pub fn list(&self, key: &str) -> Vec<Value> {
        list(self.raw(key))
    }

    /// A nested mapping, read as its own set of properties.
    pub fn nested(&self, key: &str) -> Option<Props<'a>> {
        match self.raw(key) {
            Some(Value::Mapping(m)) => Some(Props::new(format!("{}.{key}", self.context), m, self.resources)),
            _ => None,
        }
    }

    /// A nested mapping's value, as a plain mapping (for properties passed on whole).
    pub fn mapping(&self, key: &str) -> Mapping {
        mapping(self.raw(key))
    }

    /// Properties that only matter when deployed (encryption, tags, tracing, ...): accepted,
    /// with no local effect. Each caller lists them, so the list says what is ignored.
    pub fn deployment_only(&self, keys: &[&str]) {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).extend(keys.iter().map(|k| (*k).to_owned()));
    }

    /// Fails if any property was neither used nor accepted as deployment-only.
    pub fn finish(self) -> Result<(), Error> {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let unknown: Vec<&str> = self.map.keys().filter_map(Value::as_str).filter(|k| !used.contains(*k)).collect();
        match unknown.as_slice() {
            [] => Ok(()),
            [one] => Err(self.error(format!("property {one} is not supported by the local environment"))),
            many => {
                Err(self.error(format!("properties {} are not supported by the local environment", many.join(", "))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_properties_are_refused_by_name() {
        let map: Mapping =
            yaml_serde::from_str("{BatchSize: 5, Queue: !GetAtt Q.Arn, Tags: {a: b}, Surprise: 1}").unwrap();
        let resources = Resources::default();
        let props = Props::new("Fn.Events.E (SQS)", &map, &resources);
        assert_eq!(props.integer("BatchSize", 1..=10).unwrap(), Some(5));
        assert_eq!(props.reference("Queue").unwrap().as_deref(), Some("Q"));
        props.deployment_only(&["Tags"]);
        let err = props.finish().unwrap_err().to_string();
        assert_eq!(err, "template: Fn.Events.E (SQS): property Surprise is not supported by the local environment");
    }

    #[test]
    fn values_outside_awss_bounds_are_refused() {
        let map: Mapping = yaml_serde::from_str("{BatchSize: 0}").unwrap();
        let resources = Resources::default();
        let err = Props::new("E", &map, &resources).integer("BatchSize", 1..=10).unwrap_err().to_string();
        assert!(err.contains("BatchSize: 0 is outside"), "{err}");
    }
}
