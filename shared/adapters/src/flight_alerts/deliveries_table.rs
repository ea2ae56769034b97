//! The SMS deliveries table, owned by the SMS function: one record per (alert, phone
//! number) that makes sending a text idempotent (see `domain::flight_alerts::delivery`
//! for the rules and `crate::lease` for the protocol). Records expire by TTL once no
//! queued message can refer to them (the `SMS_DELIVERIES_RETENTION_DAYS` setting, never
//! less than [`RECORD_RETENTION`]).

use aws_sdk_dynamodb::Client;
use domain::flight_alerts::delivery::{DeliveryState, RECORD_RETENTION, check_record_retention};
use time::{Duration, OffsetDateTime};

use crate::Error;
use crate::dynamo::{Item, get_opt_s, get_s, s};
use crate::lease::{Acquire, IN_PROGRESS, Lease, Leases, Ownership};

const SENT: &str = "SENT";
const FAILED: &str = "FAILED";

#[derive(Debug, Clone)]
pub struct DeliveriesTable {
    leases: Leases,
    /// How long a record is kept after its last write.
    retention: Duration,
}

/// The result of trying to claim a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This sender holds the claim and must send, then record the outcome or release.
    Acquired(Lease),
    /// Someone else is sending; their claim lapses at `until`.
    Held { until: OffsetDateTime },
    /// Nothing to do: the delivery is `Sent` or `Failed`.
    Done(DeliveryState),
}

impl DeliveriesTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { leases: Leases::new(client, name), retention: RECORD_RETENTION }
    }

    /// Keeps records for `retention` (the `SMS_DELIVERIES_RETENTION_DAYS` setting); refused
    /// if shorter than a message can be replayed ([`check_record_retention`]).
    pub fn with_retention(self, retention: Duration) -> Result<Self, Error> {
        let retention = check_record_retention(retention)
            .map_err(|problem| Error::InvalidSetting { name: "SMS_DELIVERIES_RETENTION_DAYS", problem })?;
        Ok(Self { retention, ..self })
    }

    /// Claims a delivery for `owner` until `until` (see `delivery::claim_until`).
    pub async fn claim(
        &self,
        id: &str,
        owner: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Claim, Error> {
        // A record past its TTL still counts here: treating it as absent could text a number twice.
        Ok(match self.leases.acquire(id, owner, until, now, now + self.retention).await? {
            Acquire::Acquired(lease) => Claim::Acquired(lease),
            Acquire::Held { until } => Claim::Held { until },
            Acquire::Finished(item) => Claim::Done(state_of(&item)?),
        })
    }

    /// Records that the text was handed to the SMS service.
    pub async fn sent(&self, lease: &Lease, now: OffsetDateTime) -> Result<Ownership, Error> {
        self.leases.finish(lease, SENT, &[], now + self.retention).await
    }

    /// Records that the SMS service refused the number for good, with its error code.
    pub async fn failed(&self, lease: &Lease, reason: &str, now: OffsetDateTime) -> Result<Ownership, Error> {
        self.leases.finish(lease, FAILED, &[("reason", s(reason))], now + self.retention).await
    }

    /// Gives a claim back after a send that certainly did not happen, so a retry may send.
    pub async fn release(&self, lease: &Lease) -> Result<Ownership, Error> {
        self.leases.release(lease).await
    }

    /// The record's state, read consistently.
    pub async fn state(&self, id: &str) -> Result<Option<DeliveryState>, Error> {
        self.leases.get(id).await?.map(|item| state_of(&item)).transpose()
    }
}

fn state_of(item: &Item) -> Result<DeliveryState, Error> {
    match get_s(item, "state")? {
        SENT => Ok(DeliveryState::Sent),
        FAILED => Ok(DeliveryState::Failed { reason: get_opt_s(item, "reason").unwrap_or("unknown").to_owned() }),
        IN_PROGRESS => {
            let until: i64 = crate::dynamo::get_n(item, "leaseUntil")?;
            let until = OffsetDateTime::from_unix_timestamp(until).map_err(|e| Error::Malformed(e.to_string()))?;
            Ok(DeliveryState::InProgress { until })
        }
        other => Err(Error::Malformed(format!("unknown delivery state {other}"))),
    }
}
