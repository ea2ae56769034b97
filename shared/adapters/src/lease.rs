//! Leases on records, so that consumers fed at least once do a one-time action (send a
//! text) once: whoever holds the lease on a record acts, then records the outcome.
//!
//! A record is `IN_PROGRESS` with an `owner` (a token unique to one attempt) and a
//! `leaseUntil` while its holder works, then ends in a final state the caller names
//! (`SENT`, `FAILED`), with any details. Acquiring succeeds when there is no record, or
//! when the record is still in progress and its lease has lapsed: the holder is gone (it
//! crashed, or was cut off) and the record is taken over at once. Finishing and releasing
//! are conditional on still being the owner, so a holder whose lease lapsed can never
//! overwrite the outcome of the one who took over.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

use crate::Error;
use crate::dynamo::{Item, TTL_ATTRIBUTE, epoch, get_n, get_s, s};

/// The state of a record whose lease is held.
pub const IN_PROGRESS: &str = "IN_PROGRESS";
const STATE: &str = "state";
const OWNER: &str = "owner";
const LEASE_UNTIL: &str = "leaseUntil";

/// How often acquiring is tried again when a record changed between the write and the
/// look at why it failed (a lease lapsed or was released in between).
const ACQUIRE_ATTEMPTS: usize = 3;

/// A lease table: records keyed by a string attribute `id`.
#[derive(Debug, Clone)]
pub struct Leases {
    client: Client,
    table: String,
}

/// A lease this attempt holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    pub owner: String,
    /// Whether the record was taken over from a holder whose lease lapsed.
    pub took_over: bool,
}

/// The outcome of trying to acquire a lease.
#[derive(Debug, Clone, PartialEq)]
pub enum Acquire {
    Acquired(Lease),
    /// Someone else holds a live lease until then.
    Held {
        until: OffsetDateTime,
    },
    /// The work is done: the record in its final state (`state` and the details).
    Finished(Item),
}

/// Whether a holder still owned its lease when it finished or released it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    Kept,
    /// The lease had lapsed and was taken over: the other holder's outcome stands.
    Lost,
}

impl Leases {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Acquires the lease on `id` for `owner` until `until`; the record expires (TTL) at
    /// `expires`, whatever happens to it.
    pub async fn acquire(
        &self,
        id: &str,
        owner: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Result<Acquire, Error> {
        for _ in 0..ACQUIRE_ATTEMPTS {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("id", s(id))
                .item(STATE, s(IN_PROGRESS))
                .item(OWNER, s(owner))
                .item(LEASE_UNTIL, epoch_ceil(until))
                .item(TTL_ATTRIBUTE, epoch(expires))
                .condition_expression("attribute_not_exists(id) OR (#state = :in_progress AND #until <= :now)")
                .expression_attribute_names("#state", STATE)
                .expression_attribute_names("#until", LEASE_UNTIL)
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":now", epoch(now))
                .return_values(ReturnValue::AllOld)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let existing = match put {
                Ok(out) => {
                    let took_over = out.attributes.is_some_and(|old| !old.is_empty());
                    return Ok(Acquire::Acquired(Lease { id: id.to_owned(), owner: owner.to_owned(), took_over }));
                }
                Err(err) => match err.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(refused)) => {
                        refused.item.clone().unwrap_or_default()
                    }
                    _ => return Err(Error::dynamo("PutItem", err)),
                },
            };
            if get_s(&existing, STATE)? != IN_PROGRESS {
                return Ok(Acquire::Finished(existing));
            }
            // Our own write, from an attempt whose answer was lost and that was retried.
            if crate::dynamo::get_opt_s(&existing, OWNER) == Some(owner) {
                return Ok(Acquire::Acquired(Lease { id: id.to_owned(), owner: owner.to_owned(), took_over: false }));
            }
            let until: i64 = get_n(&existing, LEASE_UNTIL)?;
            if until > now.unix_timestamp() {
                let until = OffsetDateTime::from_unix_timestamp(until).map_err(|e| Error::Malformed(e.to_string()))?;
                return Ok(Acquire::Held { until });
            }
            // Lapsed (or gone) between the write and now: try again.
        }
        Err(Error::Malformed(format!("lease {id} kept changing while being acquired")))
    }

    /// Records the outcome: the record leaves `IN_PROGRESS` for `state`, with `details`,
    /// and expires at `expires`.
    pub async fn finish(
        &self,
        lease: &Lease,
        state: &str,
        details: &[(&str, AttributeValue)],
        expires: OffsetDateTime,
    ) -> Result<Ownership, Error> {
        let mut set = String::from("#state = :final, #ttl = :expires");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(&lease.id))
            .condition_expression("#state = :in_progress AND #owner = :me")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":me", s(&lease.owner))
            .expression_attribute_values(":final", s(state))
            .expression_attribute_values(":expires", epoch(expires));
        for (i, (name, value)) in details.iter().enumerate() {
            set.push_str(&format!(", #d{i} = :d{i}"));
            update = update
                .expression_attribute_names(format!("#d{i}"), *name)
                .expression_attribute_values(format!(":d{i}"), value.clone());
        }
        let result =
            update.update_expression(format!("SET {set} REMOVE #owner, #until")).send().await.map(|_| Ownership::Kept);
        match result {
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(Ownership::Lost)
            }
            other => other.map_err(|e| Error::dynamo("UpdateItem", e)),
        }
    }

    /// Gives the lease back without an outcome (the action did not happen), so that a
    /// retry may act at once.
    pub async fn release(&self, lease: &Lease) -> Result<Ownership, Error> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(&lease.id))
            .condition_expression("#state = :in_progress AND #owner = :me")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":me", s(&lease.owner))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(Ownership::Kept),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(Ownership::Lost)
            }
            Err(err) => Err(Error::dynamo("DeleteItem", err)),
        }
    }

    /// The record, read consistently.
    pub async fn get(&self, id: &str) -> Result<Option<Item>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", e))?;
        Ok(out.item)
    }
}

/// Epoch seconds, rounded up: a lease never lapses before the time it was given.
fn epoch_ceil(at: OffsetDateTime) -> AttributeValue {
    let seconds = at.unix_timestamp() + i64::from(at.nanosecond() > 0);
    crate::dynamo::n(seconds)
}
