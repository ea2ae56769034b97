//! Texting every passenger of a flight once for one alert.
//!
//! Passengers are read a page at a time (memory stays bounded whatever the flight's
//! size) and texted a few at a time. Each text is guarded by a delivery record (see
//! `domain::delivery`): a duplicate message, a concurrent copy or a retry after a crash
//! finds the passengers already texted and skips them.

use adapters::flight_alerts::deliveries_table::{Claim, DeliveriesTable};
use adapters::flight_alerts::flights_table::FlightsTable;
use adapters::flight_alerts::publish::SmsSender;
use domain::flight_alerts::delivery::{Refusal, delivery_id};
use domain::flight_alerts::{AlertMessage, FlightId, Passenger};
use futures::{StreamExt, stream};
use time::OffsetDateTime;

/// Passengers read per query.
pub const PAGE_SIZE: i32 = 100;
/// Texts in flight at once; SNS's SMS rate limit is per account, so keep this modest.
pub const SEND_CONCURRENCY: usize = 8;

pub struct Deliverer<S> {
    /// Read only: the flights function owns this table.
    pub flights: FlightsTable,
    pub deliveries: DeliveriesTable,
    pub sender: S,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("unreadable message: {0}")]
    Unreadable(String),
    #[error("flight {0} is not registered")]
    UnknownFlight(String),
    #[error(transparent)]
    Store(#[from] adapters::Error),
    /// Some passengers were not texted yet; the message must come back.
    #[error("{pending} of {total} passengers still to text ({failed} sends failed, {held} held by another delivery)")]
    Incomplete { total: usize, pending: usize, failed: usize, held: usize },
}

/// What happened for one passenger.
enum Outcome {
    Sent,
    AlreadySent,
    Held,
    Failed,
}

/// What one delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    pub already_sent: usize,
}

impl<S: SmsSender + Sync> Deliverer<S> {
    pub async fn deliver(&self, message: &AlertMessage) -> Result<Report, DeliveryError> {
        let flight_id = FlightId::parse(&message.flight_id).map_err(DeliveryError::Unreadable)?;
        let stored =
            self.flights.get(&flight_id).await?.ok_or_else(|| DeliveryError::UnknownFlight(flight_id.to_string()))?;
        let (mut report, mut total, mut failed, mut held) = (Report::default(), 0, 0, 0);
        let mut next = None;
        loop {
            let page = self.flights.passengers(&stored, next, PAGE_SIZE).await?;
            total += page.passengers.len();
            let outcomes: Vec<Result<Outcome, adapters::Error>> = stream::iter(&page.passengers)
                .map(|p| self.text_once(message, p))
                .buffer_unordered(SEND_CONCURRENCY)
                .collect()
                .await;
            for outcome in outcomes {
                match outcome {
                    Ok(Outcome::Sent) => report.sent += 1,
                    Ok(Outcome::AlreadySent) => report.already_sent += 1,
                    Ok(Outcome::Held) => held += 1,
                    Ok(Outcome::Failed) | Err(_) => failed += 1,
                }
            }
            next = page.next;
            if next.is_none() {
                break;
            }
        }
        tracing::info!(total, sent = report.sent, already_sent = report.already_sent, failed, held, "alert delivered");
        if failed + held > 0 {
            return Err(DeliveryError::Incomplete { total, pending: failed + held, failed, held });
        }
        Ok(report)
    }

    async fn text_once(&self, message: &AlertMessage, passenger: &Passenger) -> Result<Outcome, adapters::Error> {
        let id = delivery_id(&message.alert_id, &passenger.id);
        match self.deliveries.claim(&id, OffsetDateTime::now_utc()).await? {
            Claim::Refused(Refusal::AlreadySent) => Ok(Outcome::AlreadySent),
            Claim::Refused(Refusal::HeldElsewhere | Refusal::Lapsed) => Ok(Outcome::Held),
            Claim::Acquired => match self.sender.send(&passenger.mobile, &message.text).await {
                Ok(()) => {
                    tracing::info!(passenger = %passenger.id, to = %passenger.mobile, "text sent");
                    // Should this write fail, the claim lapses and a retry texts again: the one
                    // window where a passenger can get a second text, kept as small as one write.
                    self.deliveries.complete(&id, OffsetDateTime::now_utc()).await?;
                    Ok(Outcome::Sent)
                }
                Err(err) => {
                    tracing::warn!(passenger = %passenger.id, to = %passenger.mobile, error = %err, "text not sent");
                    self.deliveries.release(&id).await?;
                    Ok(Outcome::Failed)
                }
            },
        }
    }
}
