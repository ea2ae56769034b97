//! Reading and writing DynamoDB attribute values without repeating the matching.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::Error;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, Error> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(Error::Malformed(format!("attribute {name} is missing or not a string"))),
    }
}

pub fn get_opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, Error> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => {
            value.parse().map_err(|_| Error::Malformed(format!("attribute {name} is not a valid number")))
        }
        _ => Err(Error::Malformed(format!("attribute {name} is missing or not a number"))),
    }
}

pub fn get_opt_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<Option<T>, Error> {
    if item.contains_key(name) { get_n(item, name).map(Some) } else { Ok(None) }
}

/// A value the domain parses, read from a string attribute.
pub fn parse_s<T>(item: &Item, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, Error> {
    parse(get_s(item, name)?).map_err(|e| Error::Malformed(format!("attribute {name} {e}")))
}

/// The TTL attribute's name in every table of this application.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// TTL attributes hold epoch seconds.
pub fn epoch(at: time::OffsetDateTime) -> AttributeValue {
    n(at.unix_timestamp())
}
