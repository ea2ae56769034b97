//! Stream records of expiries, and the row each becomes in the archive.
//!
//! DynamoDB deletes an expired item itself and marks that REMOVE record with
//! `userIdentity: {type: "Service", principalId: "dynamodb.amazonaws.com"}`; a delete
//! made by code or by a person carries no identity. Only the former are archived.

use serde::Serialize;
use serde_json::{Map, Value};

use super::partition::ArchivedTable;

/// The principal DynamoDB's TTL deletions carry.
pub const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// Whether a stream record is DynamoDB removing an expired item: its `eventName` and its
/// `userIdentity` (`type`, `principalId`), if it has one.
pub fn is_ttl_expiry(event_name: &str, identity: Option<(&str, &str)>) -> bool {
    event_name == "REMOVE" && identity == Some(("Service", TTL_PRINCIPAL))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The stream is not configured to carry old images: nothing of the item to keep.
    #[error("the REMOVE record {0} carries no old image (the stream's view type must include OLD_IMAGE)")]
    NoOldImage(String),
    #[error("the record has no sequence number")]
    NoSequenceNumber,
    #[error("attribute {name} is not DynamoDB JSON: {reason}")]
    NotDynamoJson { name: String, reason: String },
}

/// One archived item: one line of a JSON Lines object. `item` is the item as it was when
/// it expired, in plain JSON (numbers as numbers where JSON can hold them exactly).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveRow {
    pub table: String,
    pub sequence_number: String,
    /// RFC 3339, UTC: when the item's TTL passed (its `expiresAt`).
    pub expired_at: String,
    pub item: Value,
}

impl ArchiveRow {
    /// The row of a TTL expiry: `old_image` in DynamoDB JSON. What the archive, which is
    /// kept for good, must not hold is left out: an SMS delivery record's key carries a
    /// digest of the phone number (numbers are few enough to be found from it), so only
    /// its alert id is kept.
    pub fn new(
        table: ArchivedTable,
        sequence_number: &str,
        expired_at: String,
        old_image: &Value,
    ) -> Result<Self, RecordError> {
        if old_image.as_object().is_none_or(|image| image.is_empty()) {
            return Err(RecordError::NoOldImage(sequence_number.to_owned()));
        }
        let mut item = plain_json(old_image)?;
        if table == ArchivedTable::SmsDeliveries
            && let Some(fields) = item.as_object_mut()
            && let Some(Value::String(id)) = fields.remove("id")
        {
            let alert = id.split_once('#').map_or(id.as_str(), |(alert, _)| alert).to_owned();
            fields.insert("alertId".to_owned(), Value::String(alert));
        }
        Ok(Self { table: table.as_str().to_owned(), sequence_number: sequence_number.to_owned(), expired_at, item })
    }

    /// The row as one line of JSON Lines, newline included.
    pub fn to_line(&self) -> String {
        // Serializing a struct of strings and a `Value` cannot fail.
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// An image in DynamoDB JSON (`{"name": {"S": "x"}, "n": {"N": "1"}}`) as plain JSON
/// (`{"name": "x", "n": 1}`): what Athena's JSON SerDe and people read. Numbers that JSON
/// would round (beyond 2^53, or with more digits than an f64 keeps) stay strings; sets
/// become arrays; binary stays base64.
pub fn plain_json(image: &Value) -> Result<Value, RecordError> {
    let Some(attributes) = image.as_object() else {
        return Err(RecordError::NotDynamoJson { name: "(image)".into(), reason: "not an object".into() });
    };
    let mut plain = Map::new();
    for (name, value) in attributes {
        plain.insert(name.clone(), attribute(name, value)?);
    }
    Ok(Value::Object(plain))
}

fn attribute(name: &str, value: &Value) -> Result<Value, RecordError> {
    let bad = |reason: &str| RecordError::NotDynamoJson { name: name.to_owned(), reason: reason.to_owned() };
    let Some((kind, inner)) = value.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
        return Err(bad("not a single-typed attribute value"));
    };
    Ok(match (kind.as_str(), inner) {
        ("S" | "B", Value::String(_)) => inner.clone(),
        ("N", Value::String(text)) => number(text),
        ("BOOL", Value::Bool(_)) => inner.clone(),
        ("NULL", _) => Value::Null,
        ("SS" | "BS", Value::Array(items)) => Value::Array(items.clone()),
        ("NS", Value::Array(items)) => {
            Value::Array(items.iter().map(|n| n.as_str().map(number).unwrap_or_else(|| n.clone())).collect())
        }
        ("L", Value::Array(items)) => {
            Value::Array(items.iter().map(|item| attribute(name, item)).collect::<Result<_, _>>()?)
        }
        ("M", Value::Object(_)) => plain_json(inner)?,
        _ => return Err(bad(&format!("unexpected {kind} value"))),
    })
}

/// A DynamoDB number as a JSON number when that is exact, else as the string it was.
fn number(text: &str) -> Value {
    if let Ok(integer) = text.parse::<i64>()
        && integer.unsigned_abs() <= 1 << 53
    {
        return Value::from(integer);
    }
    match text.parse::<f64>() {
        Ok(float) if float.is_finite() && float.to_string() == text => Value::from(float),
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_dynamodbs_own_removals_are_expiries() {
        assert!(is_ttl_expiry("REMOVE", Some(("Service", "dynamodb.amazonaws.com"))));
        assert!(!is_ttl_expiry("REMOVE", None), "a delete by code or by hand");
        assert!(!is_ttl_expiry("REMOVE", Some(("Service", "someone.amazonaws.com"))));
        assert!(!is_ttl_expiry("REMOVE", Some(("AssumedRole", "dynamodb.amazonaws.com"))));
        assert!(!is_ttl_expiry("INSERT", Some(("Service", "dynamodb.amazonaws.com"))));
    }

    #[test]
    fn images_become_plain_json() {
        let image = json!({
            "s": {"S": "text"}, "n": {"N": "42"}, "f": {"N": "1.5"}, "big": {"N": "123456789012345678901"},
            "b": {"BOOL": true}, "z": {"NULL": true}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.25"]},
            "l": {"L": [{"S": "x"}, {"N": "7"}]}, "m": {"M": {"inner": {"S": "y"}}}, "bin": {"B": "AAE="}
        });
        assert_eq!(
            plain_json(&image).unwrap(),
            json!({"s": "text", "n": 42, "f": 1.5, "big": "123456789012345678901", "b": true, "z": null,
                   "ss": ["a", "b"], "ns": [1, 2.25], "l": ["x", 7], "m": {"inner": "y"}, "bin": "AAE="})
        );
    }

    #[test]
    fn malformed_images_are_refused_by_name() {
        let err = plain_json(&json!({"n": {"N": 1}})).unwrap_err();
        assert!(matches!(err, RecordError::NotDynamoJson { ref name, .. } if name == "n"), "{err}");
        assert!(plain_json(&json!({"two": {"S": "a", "N": "1"}})).is_err());
        assert!(plain_json(&json!("x")).is_err());
    }

    #[test]
    fn a_removal_without_an_old_image_cannot_be_archived() {
        let err = ArchiveRow::new(ArchivedTable::Alerts, "100", "2026-01-01T00:00:00Z".into(), &json!({})).unwrap_err();
        assert_eq!(err, RecordError::NoOldImage("100".into()));
        assert!(ArchiveRow::new(ArchivedTable::Alerts, "100", "x".into(), &Value::Null).is_err());
    }

    #[test]
    fn an_sms_record_is_archived_without_the_digest_of_its_number() {
        let image = json!({"id": {"S": "0193aaaa-0000-7000-8000-000000000001#3f2a9c"}, "state": {"S": "SENT"}});
        let row = ArchiveRow::new(ArchivedTable::SmsDeliveries, "7", "x".into(), &image).unwrap();
        assert_eq!(row.item, json!({"alertId": "0193aaaa-0000-7000-8000-000000000001", "state": "SENT"}));
        assert!(!row.to_line().contains("3f2a9c"));
        let alert = json!({"id": {"S": "kept#as-is"}});
        assert_eq!(ArchiveRow::new(ArchivedTable::Alerts, "8", "x".into(), &alert).unwrap().item["id"], "kept#as-is");
    }

    #[test]
    fn a_row_is_one_line() {
        let row =
            ArchiveRow::new(ArchivedTable::Alerts, "100", "2026-01-01T00:00:00Z".into(), &json!({"a": {"S": "x\ny"}}))
                .unwrap();
        let line = row.to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with('\n'));
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["sequenceNumber"], "100");
        assert_eq!(back["expiredAt"], "2026-01-01T00:00:00Z");
        assert_eq!(back["item"]["a"], "x\ny");
    }
}
