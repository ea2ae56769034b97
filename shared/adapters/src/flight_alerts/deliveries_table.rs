//! The SMS deliveries table, owned by the SMS function: one record per (alert, passenger)
//! that makes sending a text idempotent (see `domain::delivery` for the rules).
//!
//! A record is `IN_PROGRESS` with a `claimUntil` while a sender works on it, then
//! `COMPLETED`. Both kinds expire by TTL once no queued message can refer to them.

use aws_sdk_dynamodb::Client;
use domain::flight_alerts::delivery::{CLAIM_TIMEOUT, COMPLETED_RETENTION, DeliveryState, Refusal, refusal};
use time::OffsetDateTime;

use crate::Error;
use crate::dynamo::{TTL_ATTRIBUTE, epoch, get_n, get_s, s};

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

#[derive(Debug, Clone)]
pub struct DeliveriesTable {
    client: Client,
    name: String,
}

/// The result of trying to claim a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This sender holds the claim and must send, then complete or release.
    Acquired,
    Refused(Refusal),
}

impl DeliveriesTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    /// Claims a delivery: succeeds only when no record exists or an earlier claim lapsed.
    pub async fn claim(&self, id: &str, now: OffsetDateTime) -> Result<Claim, Error> {
        let put = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("id", s(id))
            .item("state", s(IN_PROGRESS))
            .item("claimUntil", epoch(now + CLAIM_TIMEOUT))
            .item(TTL_ATTRIBUTE, epoch(now + COMPLETED_RETENTION))
            .condition_expression("attribute_not_exists(id) OR (#state = :in_progress AND claimUntil <= :now)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":now", epoch(now))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Acquired),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(Claim::Refused(refusal(self.state(id).await?, now)))
            }
            Err(err) => Err(Error::dynamo("PutItem", err)),
        }
    }

    /// Records that the text was handed to the SMS service.
    pub async fn complete(&self, id: &str, now: OffsetDateTime) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("id", s(id))
            .update_expression("SET #state = :completed, #ttl = :expires REMOVE claimUntil")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":expires", epoch(now + COMPLETED_RETENTION))
            .send()
            .await
            .map_err(|e| Error::dynamo("UpdateItem", e))?;
        Ok(())
    }

    /// Gives a claim back after the send failed, so a retry may send at once.
    pub async fn release(&self, id: &str) -> Result<(), Error> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.name)
            .key("id", s(id))
            .condition_expression("#state = :in_progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(err) => Err(Error::dynamo("DeleteItem", err)),
        }
    }

    /// The record's state, read consistently.
    pub async fn state(&self, id: &str) -> Result<Option<DeliveryState>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", e))?;
        let Some(item) = out.item else { return Ok(None) };
        match get_s(&item, "state")? {
            COMPLETED => Ok(Some(DeliveryState::Completed)),
            IN_PROGRESS => {
                let until: i64 = get_n(&item, "claimUntil")?;
                let until = OffsetDateTime::from_unix_timestamp(until).map_err(|e| Error::Malformed(e.to_string()))?;
                Ok(Some(DeliveryState::InProgress { until }))
            }
            other => Err(Error::Malformed(format!("unknown delivery state {other}"))),
        }
    }
}
