//! DynamoDB's JSON form of attribute values (`{"S": "x"}`, `{"N": "1"}`, ...), as stream
//! records carry them to Lambda, from the SDK types of DynamoDB and DynamoDB Streams.

use base64::Engine;
use serde_json::{Map, Value, json};

fn blob(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// One converter per SDK crate: the two `AttributeValue` enums have the same variants.
macro_rules! attribute_json {
    ($name:ident, $map:ident, $ty:ty) => {
        pub fn $name(value: &$ty) -> Value {
            use $ty as A;
            match value {
                A::S(s) => json!({ "S": s }),
                A::N(n) => json!({ "N": n }),
                A::B(b) => json!({ "B": blob(b.as_ref()) }),
                A::Bool(b) => json!({ "BOOL": b }),
                A::Null(_) => json!({ "NULL": true }),
                A::Ss(items) => json!({ "SS": items }),
                A::Ns(items) => json!({ "NS": items }),
                A::Bs(items) => json!({ "BS": items.iter().map(|b| blob(b.as_ref())).collect::<Vec<_>>() }),
                A::L(items) => json!({ "L": items.iter().map($name).collect::<Vec<_>>() }),
                A::M(map) => json!({ "M": $map(map) }),
                _ => Value::Null,
            }
        }

        pub fn $map(item: &std::collections::HashMap<String, $ty>) -> Value {
            let mut sorted: Vec<(&String, &$ty)> = item.iter().collect();
            sorted.sort_by_key(|(k, _)| k.as_str());
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), $name(v))).collect::<Map<_, _>>())
        }
    };
}

attribute_json!(from_dynamodb, item_from_dynamodb, aws_sdk_dynamodb::types::AttributeValue);
attribute_json!(from_streams, item_from_streams, aws_sdk_dynamodbstreams::types::AttributeValue);

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue as D;
    use aws_sdk_dynamodbstreams::types::AttributeValue as S;

    #[test]
    fn both_sdks_give_the_same_json() {
        let d = D::M(
            [("n".to_owned(), D::N("1".into())), ("l".to_owned(), D::L(vec![D::S("a".into()), D::Bool(true)]))].into(),
        );
        let s = S::M(
            [("n".to_owned(), S::N("1".into())), ("l".to_owned(), S::L(vec![S::S("a".into()), S::Bool(true)]))].into(),
        );
        let expected = json!({"M": {"l": {"L": [{"S": "a"}, {"BOOL": true}]}, "n": {"N": "1"}}});
        assert_eq!(from_dynamodb(&d), expected);
        assert_eq!(from_streams(&s), expected);
    }
}
