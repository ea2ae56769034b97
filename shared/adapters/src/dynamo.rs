//! Reading and writing DynamoDB attribute values without repeating the matching.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use futures::{StreamExt, TryStreamExt, stream};

use crate::Error;
use crate::deadline::Deadline;
use crate::error::AwsFailure;
use crate::retry::Backoff;

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

/// A string attribute of a stream record's image, as DynamoDB JSON carries it
/// (`{"name": {"S": "..."}}`).
pub fn image_s<'a>(image: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    image.get(name)?.get("S")?.as_str()
}

/// A number attribute of a stream record's image (`{"name": {"N": "..."}}`).
pub fn image_n<T: std::str::FromStr>(image: &serde_json::Value, name: &str) -> Option<T> {
    image.get(name)?.get("N")?.as_str()?.parse().ok()
}

/// The TTL attribute's name in every table of this application.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// TTL attributes hold epoch seconds.
pub fn epoch(at: time::OffsetDateTime) -> AttributeValue {
    n(at.unix_timestamp())
}

/// The expression form of "not expired" ([`is_expired`]'s opposite), for filters and
/// conditions: the caller names the TTL attribute `#expires` and binds `:now` (epoch
/// seconds). An item without the attribute never expires.
pub const UNEXPIRED: &str = "(attribute_not_exists(#expires) OR #expires > :now)";

/// Whether an item's TTL has passed at `now`. DynamoDB deletes expired items only
/// eventually (typically within days), so reads check this themselves; an item without
/// the attribute never expires.
pub fn is_expired(item: &Item, now: time::OffsetDateTime) -> bool {
    match item.get(TTL_ATTRIBUTE) {
        Some(AttributeValue::N(expires)) => expires.parse::<i64>().is_ok_and(|at| at <= now.unix_timestamp()),
        _ => false,
    }
}

/// DynamoDB's limit of items per BatchWriteItem.
const BATCH_WRITE_LIMIT: usize = 25;
/// Batch writes in flight at once.
const WRITE_CONCURRENCY: usize = 4;

/// Writes (or deletes) many items, 25 a call, a few calls at once. Not atomic: callers
/// make the result visible afterwards with one conditional write (a commit point).
pub async fn write_all(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
    deadline: &Deadline,
) -> Result<(), Error> {
    let batches: Vec<Vec<WriteRequest>> = requests.chunks(BATCH_WRITE_LIMIT).map(<[_]>::to_vec).collect();
    stream::iter(batches)
        .map(|batch| write_batch(client, table, batch, deadline))
        .buffer_unordered(WRITE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// Writes one batch. Items DynamoDB leaves unprocessed (throttled, typically on one hot
/// partition) are resubmitted after a jittered, growing wait, so that concurrent batches
/// do not hit the partition again together, until `deadline`.
async fn write_batch(
    client: &Client,
    table: &str,
    mut requests: Vec<WriteRequest>,
    deadline: &Deadline,
) -> Result<(), Error> {
    let mut retries = 0;
    loop {
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .map_err(|e| Error::dynamo("BatchWriteItem", e))?;
        match out.unprocessed_items.and_then(|mut m| m.remove(table)) {
            Some(rest) if !rest.is_empty() => requests = rest,
            _ => return Ok(()),
        }
        retries += 1;
        let wait = Backoff::AWS.wait(retries);
        if wait >= deadline.remaining() {
            return Err(Error::Aws(AwsFailure {
                service: "DynamoDB",
                operation: "BatchWriteItem",
                code: "UnprocessedItems".into(),
                status: None,
                request_id: None,
                transient: true,
            }));
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_expires_once_its_ttl_is_reached() {
        let now = time::macros::datetime!(2026-12-01 12:00 UTC);
        let item = |expires: i64| -> Item { [(TTL_ATTRIBUTE.to_owned(), n(expires))].into() };
        assert!(is_expired(&item(now.unix_timestamp() - 1), now));
        assert!(is_expired(&item(now.unix_timestamp()), now), "DynamoDB may delete it from that second");
        assert!(!is_expired(&item(now.unix_timestamp() + 1), now));
        assert!(!is_expired(&Item::new(), now), "no TTL: kept");
    }
}
