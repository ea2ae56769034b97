//! Texting every passenger of a flight once for one alert, within one invocation's time.
//!
//! Passengers are read a page at a time, in the order they are stored, and texted a few
//! at a time, paced by the function's token bucket (its share of the account's SMS rate).
//! Each number is guarded by a delivery record (`domain::flight_alerts::delivery`): a
//! duplicate message, a concurrent copy or a retry after a crash finds it claimed or done
//! and leaves it. Passengers sharing a number share its one text.
//!
//! When time runs short, delivery stops claiming, finishes the texts it started, and says
//! how far through the flight everyone is accounted for, so that the handler can pass the
//! rest to a follow-up message (see `handler`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Duration;

use adapters::deadline::{Deadline, stop_margin};
use adapters::flight_alerts::deliveries_table::{Claim, DeliveriesTable};
use adapters::flight_alerts::flights_table::{FlightsTable, PassengerPage, StoredFlight};
use adapters::flight_alerts::publish::{SmsQueue, SmsSender, refused_recipient};
use adapters::lease::{Lease, Ownership};
use adapters::metrics::Metrics;
use adapters::rate_limit::TokenBucket;
use adapters::retry::{Backoff, retry};
use domain::flight_alerts::delivery::{claim_until, delivery_id};
use domain::flight_alerts::{AlertMessage, FlightId, Passenger, Resume};
use futures::{StreamExt, stream};
use time::OffsetDateTime;

/// Passengers read per query.
pub const PAGE_SIZE: i32 = 100;
/// Texts being worked on at once (claimed, waiting for a token, sending, recording). The
/// token bucket sets the pace; this only bounds how many wait on it or on a retry.
pub const SEND_CONCURRENCY: usize = 8;
/// How long a follow-up waits when it only has passengers held by another sender or
/// failing for now: long enough for a held claim to be finished or to lapse.
const RETRY_LATER: Duration = Duration::from_secs(30);

/// The metrics this function emits.
pub const METRICS: &[&str] = &[
    TEXTS_SENT,
    TEXTS_FAILED,
    DUPLICATES_SUPPRESSED,
    CLAIM_TAKEOVERS,
    UNRECORDED_SENDS,
    crate::handler::BATCH_ITEM_FAILURES,
];
/// Texts handed to SNS.
pub const TEXTS_SENT: &str = "TextsSent";
/// Numbers SNS refused for good (recorded FAILED).
pub const TEXTS_FAILED: &str = "TextsFailed";
/// Texts not sent because that number had its text for this alert already.
pub const DUPLICATES_SUPPRESSED: &str = "DuplicatesSuppressed";
/// Claims taken over from a sender that was cut off or crashed: its text may have gone.
pub const CLAIM_TAKEOVERS: &str = "ClaimTakeovers";
/// Texts sent whose delivery record could not be written (or whose claim had lapsed):
/// the one way a number can be texted twice.
pub const UNRECORDED_SENDS: &str = "UnrecordedSends";

/// The wall clock claims are made and judged by: the system's, or (in tests) one ahead of
/// it, so that claims lapse without waiting.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    ahead: time::Duration,
}

impl Clock {
    #[cfg(test)]
    pub fn ahead(by: time::Duration) -> Self {
        Self { ahead: by }
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.ahead
    }

    fn read(&self, at: OffsetDateTime) -> OffsetDateTime {
        at + self.ahead
    }
}

pub struct Deliverer<S> {
    /// Read only: the flights function owns this table.
    pub flights: FlightsTable,
    pub deliveries: DeliveriesTable,
    pub sender: S,
    /// Where the rest of a flight goes when an invocation's time runs out.
    pub follow_ups: SmsQueue,
    /// This execution environment's share of the account's SMS rate.
    pub rate: TokenBucket,
    pub metrics: Metrics,
    pub clock: Clock,
}

/// An invocation's time, as delivery spends it. The margin before the deadline is a fifth
/// of the time given, one to five seconds (`stop_margin`); a send started before the
/// cutoff has most of half of it to be answered, which SNS does in tens of milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// When Lambda ends the invocation; claims last until shortly after it.
    pub deadline: Deadline,
    /// No claim is made after this (a margin before the deadline).
    stop: Deadline,
    /// No send is attempted after this (half the margin before the deadline).
    cutoff: Deadline,
    /// A send still unanswered is abandoned here, its outcome unknown and its claim left
    /// to lapse: as if Lambda had cut it off, but with time left to say so.
    abandon: Deadline,
    /// Outcome writes are retried until here.
    record: Deadline,
}

impl Budget {
    pub fn new(deadline: Deadline) -> Self {
        let margin = stop_margin(deadline.remaining());
        Self {
            deadline,
            stop: deadline.less(margin),
            cutoff: deadline.less(margin / 2),
            abandon: deadline.less(margin / 10),
            record: deadline.less(margin / 20),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("unreadable message: {0}")]
    Unreadable(String),
    #[error("flight {0} is not registered")]
    UnknownFlight(String),
    #[error(transparent)]
    Store(#[from] adapters::Error),
    #[error("no time left to start")]
    OutOfTime,
    /// Some passengers are not accounted for, and none more were than before: the
    /// message must come back (and is dead-lettered if this keeps happening).
    #[error("no progress: {0}")]
    NoProgress(Report),
    /// Every passenger was read, and their number differs from the flight's count.
    #[error("{counted} passengers read, the flight has {expected}")]
    Miscounted { counted: u32, expected: u32 },
}

/// What one delivery did.
#[derive(Debug)]
pub enum Delivered {
    /// Every passenger is accounted for.
    Finished(Report),
    /// Everyone up to `resume` is accounted for; the rest is for a follow-up message,
    /// which should wait `delay` (zero when time simply ran out).
    Continue { resume: Resume, delay: Duration, report: Report },
}

/// Counts of what happened to the passengers one delivery looked at.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    pub refused: usize,
    pub already_done: usize,
    pub shared_number: usize,
    pub held: usize,
    pub failed: usize,
    pub unknown: usize,
    pub not_started: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sent, {} refused, {} done before, {} sharing a number, {} held elsewhere, {} failed for now, {} unknown, {} not started",
            self.sent,
            self.refused,
            self.already_done,
            self.shared_number,
            self.held,
            self.failed,
            self.unknown,
            self.not_started
        )
    }
}

/// What happened for one passenger.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Sent,
    /// SNS refused the number for good; recorded FAILED with this code.
    Refused,
    /// The number's record was SENT or FAILED already.
    AlreadyDone,
    /// Another passenger of this flight has the same number: that one's text is theirs.
    SharedNumber,
    /// The same number as a passenger not accounted for yet.
    WaitingOnSharedNumber,
    /// Another sender holds the number's claim until then.
    Held(OffsetDateTime),
    /// A failure that may pass (throttling beyond the budget, a store error); the claim
    /// was released.
    Failed,
    /// The send was cut off unanswered: it may have gone. The claim is left to lapse.
    Unknown,
    /// Time ran out before this passenger was claimed.
    NotStarted,
}

impl Outcome {
    /// Whether nothing is left to do for this passenger.
    fn accounted(&self) -> bool {
        matches!(self, Outcome::Sent | Outcome::Refused | Outcome::AlreadyDone | Outcome::SharedNumber)
    }
}

impl Report {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Refused => self.refused += 1,
            Outcome::AlreadyDone => self.already_done += 1,
            Outcome::SharedNumber => self.shared_number += 1,
            Outcome::Held(_) => self.held += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Unknown => self.unknown += 1,
            Outcome::NotStarted | Outcome::WaitingOnSharedNumber => self.not_started += 1,
        }
    }
}

/// How a send ended, for the decision what to do with its claim.
enum Send {
    /// SNS refused the number; its error code.
    Refused(String),
    /// Certainly not sent (SNS answered with an error), and retrying may help.
    Failed(adapters::Error),
    /// Maybe sent: cut off at the deadline, or no readable answer.
    Unknown(String),
    /// Not attempted: no token before the cutoff.
    NoTime,
}

/// How far through the flight everyone is accounted for.
struct Progress {
    after: Option<String>,
    counted: u32,
    /// A passenger not accounted for was met: the position stops advancing.
    blocked: bool,
}

impl<S: SmsSender + Sync> Deliverer<S> {
    pub async fn deliver(&self, message: &AlertMessage, budget: &Budget) -> Result<Delivered, DeliveryError> {
        if budget.stop.passed() {
            return Err(DeliveryError::OutOfTime);
        }
        let flight_id = FlightId::parse(&message.flight_id).map_err(DeliveryError::Unreadable)?;
        let stored = retry(&budget.stop, Backoff::AWS, adapters::Error::is_transient, || self.flights.get(&flight_id))
            .await?
            .ok_or_else(|| DeliveryError::UnknownFlight(flight_id.to_string()))?;
        // One attempt's token: claims made by this delivery are this delivery's.
        let owner = uuid::Uuid::new_v4().to_string();
        let start = message.resume.clone();
        let mut progress = Progress {
            after: start.as_ref().map(|r| r.after.clone()),
            counted: start.as_ref().map_or(0, |r| r.counted),
            blocked: false,
        };
        let (mut report, mut seen, mut latest_hold) = (Report::default(), HashMap::new(), None);
        let mut next = progress.after.as_ref().map(|after| format!("PAX#{after}"));
        let mut stopped = None;
        loop {
            if budget.stop.passed() {
                stopped = Some(DeliveryError::OutOfTime);
                break;
            }
            let page = match self.page(&stored, next.take(), budget).await {
                Ok(page) => page,
                Err(err) => {
                    stopped = Some(err.into());
                    break;
                }
            };
            let outcomes = self.text_page(message, &page.passengers, &mut seen, &owner, budget).await;
            for (passenger, outcome) in page.passengers.iter().zip(&outcomes) {
                report.count(outcome);
                if let Outcome::Held(until) = outcome {
                    latest_hold = latest_hold.max(Some(*until));
                }
                if !progress.blocked && outcome.accounted() {
                    progress.after = Some(passenger.id.clone());
                    progress.counted += 1;
                } else {
                    progress.blocked = true;
                }
            }
            if outcomes.contains(&Outcome::NotStarted) {
                stopped = Some(DeliveryError::OutOfTime);
                break;
            }
            match page.next {
                Some(key) => next = Some(key),
                None => break,
            }
        }
        self.metrics.add(TEXTS_SENT, report.sent as u64);
        self.metrics.add(TEXTS_FAILED, report.refused as u64);
        self.metrics.add(DUPLICATES_SUPPRESSED, (report.already_done + report.shared_number) as u64);
        tracing::info!(
            flight_id = %flight_id,
            accounted = progress.counted,
            passengers = stored.flight.passenger_count,
            sent = report.sent,
            refused = report.refused,
            already_done = report.already_done,
            shared_number = report.shared_number,
            held = report.held,
            failed = report.failed,
            unknown = report.unknown,
            not_started = report.not_started,
            "alert delivered"
        );

        if stopped.is_none() && !progress.blocked {
            // Every passenger read, every one accounted for: if the count is short, some
            // were not readable, and the message must not be acknowledged.
            if progress.counted != stored.flight.passenger_count {
                return Err(DeliveryError::Miscounted {
                    counted: progress.counted,
                    expected: stored.flight.passenger_count,
                });
            }
            return Ok(Delivered::Finished(report));
        }
        let advanced = progress.counted > start.as_ref().map_or(0, |r| r.counted);
        match (advanced, progress.after) {
            (true, Some(after)) => {
                // Out of time: carry on at once. Otherwise only held or failing passengers
                // are left: give them time to be finished, or their claims to lapse.
                let delay = match &stopped {
                    Some(DeliveryError::OutOfTime) => Duration::ZERO,
                    // A second past the last hold's lapse: leases are kept in whole seconds.
                    _ => latest_hold
                        .map(|until| Duration::try_from(until - self.clock.now()).unwrap_or(Duration::ZERO))
                        .map_or(RETRY_LATER, |wait| wait + Duration::from_secs(1))
                        .clamp(Duration::from_secs(1), Duration::from_secs(900)),
                };
                Ok(Delivered::Continue { resume: Resume { after, counted: progress.counted }, delay, report })
            }
            _ => Err(stopped.unwrap_or(DeliveryError::NoProgress(report))),
        }
    }

    async fn page(
        &self,
        stored: &StoredFlight,
        after: Option<String>,
        budget: &Budget,
    ) -> Result<PassengerPage, adapters::Error> {
        retry(&budget.stop, Backoff::AWS, adapters::Error::is_transient, || {
            self.flights.passengers(stored, after.clone(), PAGE_SIZE)
        })
        .await
    }

    /// Texts a page: the first passenger with each number is texted (unless an earlier
    /// page's passenger with that number was); the others share that outcome.
    async fn text_page(
        &self,
        message: &AlertMessage,
        passengers: &[Passenger],
        seen: &mut HashMap<String, bool>,
        owner: &str,
        budget: &Budget,
    ) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::NotStarted; passengers.len()];
        let mut first_with: HashMap<&str, usize> = HashMap::new();
        let mut to_text = Vec::new();
        for (i, passenger) in passengers.iter().enumerate() {
            let number = passenger.mobile.e164();
            if let Some(&accounted) = seen.get(number) {
                outcomes[i] = if accounted { Outcome::SharedNumber } else { Outcome::WaitingOnSharedNumber };
            } else if let Entry::Vacant(slot) = first_with.entry(number) {
                slot.insert(i);
                to_text.push(i);
            }
        }
        let texted: Vec<(usize, Outcome)> = stream::iter(to_text)
            .map(|i| async move { (i, self.text_once(message, &passengers[i], owner, budget).await) })
            .buffer_unordered(SEND_CONCURRENCY)
            .collect()
            .await;
        for (i, outcome) in texted {
            seen.insert(passengers[i].mobile.e164().to_owned(), outcome.accounted());
            outcomes[i] = outcome;
        }
        for (i, passenger) in passengers.iter().enumerate() {
            if let Some(&first) = first_with.get(passenger.mobile.e164())
                && first != i
            {
                outcomes[i] =
                    if outcomes[first].accounted() { Outcome::SharedNumber } else { Outcome::WaitingOnSharedNumber };
            }
        }
        outcomes
    }

    async fn text_once(&self, message: &AlertMessage, passenger: &Passenger, owner: &str, budget: &Budget) -> Outcome {
        if budget.stop.passed() {
            return Outcome::NotStarted;
        }
        let id = delivery_id(&message.alert_id, &passenger.mobile);
        let until = claim_until(self.clock.read(budget.deadline.wall()));
        let claim = retry(&budget.stop, Backoff::AWS, adapters::Error::is_transient, || {
            self.deliveries.claim(&id, owner, until, self.clock.now())
        })
        .await;
        let lease = match claim {
            Ok(Claim::Acquired(lease)) => lease,
            Ok(Claim::Done(_)) => return Outcome::AlreadyDone,
            Ok(Claim::Held { until }) => return Outcome::Held(until),
            Err(err) => {
                tracing::warn!(passenger = %passenger.id, error = %err, "could not claim; left for a retry");
                return Outcome::Failed;
            }
        };
        if lease.took_over {
            self.metrics.add(CLAIM_TAKEOVERS, 1);
            tracing::warn!(passenger = %passenger.id, "claim taken over from a sender that was cut off; its text may have gone");
        }
        match self.send(message, passenger, budget).await {
            Ok(()) => {
                tracing::info!(passenger = %passenger.id, to = %passenger.mobile, "text sent");
                self.record(&lease, passenger, budget, None).await;
                Outcome::Sent
            }
            Err(Send::Refused(code)) => {
                tracing::warn!(passenger = %passenger.id, to = %passenger.mobile, code = %code, "number refused by the SMS service; recorded as failed");
                self.record(&lease, passenger, budget, Some(&code)).await;
                Outcome::Refused
            }
            Err(Send::Unknown(why)) => {
                tracing::warn!(passenger = %passenger.id, cause = %why, "send unanswered; its claim is left to lapse");
                Outcome::Unknown
            }
            Err(Send::NoTime) => {
                self.release(&lease, passenger, budget).await;
                Outcome::NotStarted
            }
            Err(Send::Failed(err)) => {
                tracing::warn!(passenger = %passenger.id, error = %err, "text not sent; left for a retry");
                self.release(&lease, passenger, budget).await;
                Outcome::Failed
            }
        }
    }

    /// Hands the text to SNS, retrying what SNS certainly did not accept (throttling,
    /// server errors) with backoff until the cutoff, one token per attempt.
    async fn send(&self, message: &AlertMessage, passenger: &Passenger, budget: &Budget) -> Result<(), Send> {
        let attempt = || async {
            if !self.rate.take(&budget.cutoff).await {
                return Err(Send::NoTime);
            }
            match budget.abandon.bound(self.sender.send(&passenger.mobile, &message.text)).await {
                None => Err(Send::Unknown("cut off at the deadline".into())),
                Some(Ok(())) => Ok(()),
                Some(Err(err)) => Err(match refused_recipient(&err) {
                    Some(code) => Send::Refused(code.to_owned()),
                    None if matches!(err.code(), Some("Timeout" | "UnreadableResponse")) => {
                        Send::Unknown(err.to_string())
                    }
                    None => Send::Failed(err),
                }),
            }
        };
        retry(&budget.cutoff, Backoff::AWS, |s| matches!(s, Send::Failed(e) if e.is_transient()), attempt).await
    }

    /// Records a sent text (`refused: None`) or a refused number, retrying until the
    /// record deadline. If that fails, or the claim lapsed meanwhile, the number may be
    /// texted again by whoever takes the claim over: logged and counted.
    async fn record(&self, lease: &Lease, passenger: &Passenger, budget: &Budget, refused: Option<&str>) {
        let write = retry(&budget.record, Backoff::AWS, adapters::Error::is_transient, || async {
            let now = self.clock.now();
            match refused {
                None => self.deliveries.sent(lease, now).await,
                Some(code) => self.deliveries.failed(lease, code, now).await,
            }
        })
        .await;
        match write {
            Ok(Ownership::Kept) => {}
            Ok(Ownership::Lost) => {
                self.metrics.add(UNRECORDED_SENDS, 1);
                tracing::error!(passenger = %passenger.id, "claim lapsed before the outcome was recorded; this number may be texted again");
            }
            Err(err) => {
                self.metrics.add(UNRECORDED_SENDS, 1);
                tracing::error!(passenger = %passenger.id, error = %err, "outcome not recorded; this number may be texted again once the claim lapses");
            }
        }
    }

    async fn release(&self, lease: &Lease, passenger: &Passenger, budget: &Budget) {
        let released =
            retry(&budget.record, Backoff::AWS, adapters::Error::is_transient, || self.deliveries.release(lease)).await;
        if let Err(err) = released {
            // The claim lapses by itself; the passenger is texted after that.
            tracing::warn!(passenger = %passenger.id, error = %err, "claim not released; it lapses by itself");
        }
    }
}
