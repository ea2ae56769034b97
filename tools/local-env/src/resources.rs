//! What the template's logical ids became locally, and the evaluation of `!Ref`,
//! `!GetAtt` and `!Sub` against them.

use std::collections::BTreeMap;

use yaml_serde::Value;

use crate::Error;
use crate::aws::ACCOUNT;
use crate::template::{Intrinsic, intrinsic, unsupported_intrinsic};

/// What a logical id became.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Physical {
    /// What `!Ref` returns: table name, topic ARN, queue URL, bucket name, ...
    pub reference: String,
    pub arn: String,
    /// What `!GetAtt X.<name>` returns, besides `Arn`.
    pub attributes: BTreeMap<String, String>,
}

/// Everything provisioned, by logical id, and the template's parameter values.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Resources {
    pub region: String,
    pub resources: BTreeMap<String, Physical>,
    #[serde(skip)]
    pub parameters: BTreeMap<String, String>,
}

impl Resources {
    pub fn get(&self, logical_id: &str) -> Result<&Physical, Error> {
        self.resources
            .get(logical_id)
            .ok_or_else(|| Error::Template(format!("{logical_id} is referenced but not provisioned locally")))
    }

    /// What `!GetAtt id.attribute` returns.
    pub fn attribute(&self, id: &str, attribute: &str) -> Result<String, Error> {
        let physical = self.get(id)?;
        if attribute == "Arn" {
            return Ok(physical.arn.clone());
        }
        physical
            .attributes
            .get(attribute)
            .cloned()
            .ok_or_else(|| Error::Template(format!("!GetAtt {id}.{attribute} is not supported locally")))
    }

    /// What a template value means locally, e.g. `!Ref FlightsTable` → the table's name.
    pub fn resolve(&self, value: &Value) -> Result<String, Error> {
        match intrinsic(value) {
            Some(Intrinsic::Ref(id)) => self.reference(&id),
            Some(Intrinsic::GetAtt(id, attribute)) => self.attribute(&id, &attribute),
            Some(Intrinsic::Sub(text, variables)) => self.substitute(&text, &variables),
            None => match value {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => match unsupported_intrinsic(other) {
                    Some(name) => Err(Error::Template(format!("{name} is not evaluated by the local environment"))),
                    None => Err(Error::Template(format!("expected a single value, found {other:?}"))),
                },
            },
        }
    }

    /// What `!Ref id` returns: a parameter's value, a pseudo parameter, or a resource's reference.
    fn reference(&self, id: &str) -> Result<String, Error> {
        match id {
            "AWS::Region" => Ok(self.region.clone()),
            "AWS::AccountId" => Ok(ACCOUNT.to_owned()),
            "AWS::Partition" => Ok("aws".to_owned()),
            "AWS::StackName" => Ok("local".to_owned()),
            "AWS::URLSuffix" => Ok("amazonaws.com".to_owned()),
            _ => match self.parameters.get(id) {
                Some(value) => Ok(value.clone()),
                None => Ok(self.get(id)?.reference.clone()),
            },
        }
    }

    fn substitute(&self, text: &str, variables: &yaml_serde::Mapping) -> Result<String, Error> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or_else(|| Error::Template(format!("unclosed ${{ in {text}")))?;
            let name = &rest[start + 2..start + end];
            let value = match variables.get(Value::String(name.to_owned())) {
                Some(value) => self.resolve(value)?,
                None => match name.split_once('.') {
                    Some((id, attribute)) if !id.starts_with("AWS::") => self.attribute(id, attribute)?,
                    _ => self.reference(name)?,
                },
            };
            out.push_str(&value);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The logical id of the resource whose ARN is `arn`.
    pub fn logical_id_of_arn(&self, arn: &str) -> Option<&str> {
        self.resources.iter().find(|(_, p)| p.arn == arn).map(|(id, _)| id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources() -> Resources {
        let mut r = Resources { region: "us-east-1".into(), ..Resources::default() };
        r.parameters.insert("Stage".into(), "dev".into());
        r.resources.insert(
            "Queue".into(),
            Physical {
                reference: "http://q/Queue".into(),
                arn: "arn:aws:sqs:us-east-1:123456789012:Queue".into(),
                attributes: [("QueueName".to_owned(), "Queue".to_owned())].into(),
            },
        );
        r
    }

    fn yaml(text: &str) -> Value {
        yaml_serde::from_str(text).unwrap()
    }

    #[test]
    fn references_attributes_and_substitutions() {
        let r = resources();
        assert_eq!(r.resolve(&yaml("!Ref Queue")).unwrap(), "http://q/Queue");
        assert_eq!(r.resolve(&yaml("!Ref Stage")).unwrap(), "dev");
        assert_eq!(r.resolve(&yaml("!GetAtt Queue.QueueName")).unwrap(), "Queue");
        assert_eq!(
            r.resolve(&yaml("!Sub '${Queue.Arn}/${Stage}/${AWS::Region}'")).unwrap(),
            "arn:aws:sqs:us-east-1:123456789012:Queue/dev/us-east-1"
        );
        assert_eq!(r.resolve(&yaml("!Sub ['${x}-${Stage}', {x: !GetAtt Queue.QueueName}]")).unwrap(), "Queue-dev");
        assert_eq!(r.resolve(&yaml("42")).unwrap(), "42");
    }

    #[test]
    fn what_cannot_be_resolved_is_named() {
        let r = resources();
        let err = r.resolve(&yaml("!GetAtt Queue.Nope")).unwrap_err().to_string();
        assert!(err.contains("Queue.Nope"), "{err}");
        let err = r.resolve(&yaml("!Ref Missing")).unwrap_err().to_string();
        assert!(err.contains("Missing"), "{err}");
        let err = r.resolve(&yaml("!If [c, a, b]")).unwrap_err().to_string();
        assert!(err.contains("!If"), "{err}");
    }
}
