//! An invocation's deadline. Consumers stop starting work with a margin left, so that
//! everything they started is finished and recorded, and what they did not start is
//! handed back, before Lambda cuts them off.

use std::future::Future;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

/// A point in time both as the process's monotonic clock sees it (to wait on) and as
/// wall-clock time (to write into records other processes read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    wall: OffsetDateTime,
}

impl Deadline {
    /// The deadline Lambda gives an invocation (`Lambda-Runtime-Deadline-Ms`, milliseconds
    /// since the epoch).
    pub fn from_epoch_millis(millis: u64) -> Self {
        let now = OffsetDateTime::now_utc();
        let wall = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(now);
        let left = Duration::try_from(wall - now).unwrap_or(Duration::ZERO);
        Self { at: Instant::now() + left, wall }
    }

    /// The deadline of an invocation.
    pub fn of(context: &lambda_runtime::Context) -> Self {
        Self::from_epoch_millis(context.deadline)
    }

    /// A deadline `left` from now.
    pub fn after(left: Duration) -> Self {
        Self { at: Instant::now() + left, wall: OffsetDateTime::now_utc() + left }
    }

    /// The same deadline, `margin` earlier.
    #[must_use]
    pub fn less(self, margin: Duration) -> Self {
        let at = self.at.checked_sub(margin).unwrap_or(self.at);
        Self { at, wall: self.wall - margin }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    pub fn instant(&self) -> Instant {
        self.at
    }

    pub fn wall(&self) -> OffsetDateTime {
        self.wall
    }

    /// Runs `work` until it finishes or the deadline passes (`None`). Work cut off this
    /// way may or may not have taken effect: callers must treat its outcome as unknown.
    pub async fn bound<F: Future>(&self, work: F) -> Option<F::Output> {
        tokio::time::timeout_at(self.at, work).await.ok()
    }
}

/// The margin an invocation keeps between its last start of work and its deadline: a
/// fifth of the time it was given, between one and five seconds. Five seconds finishes a
/// text that is being sent (one SNS call and one DynamoDB write, with retries) and the
/// follow-up message; short test timeouts still leave most of their time for work.
pub fn stop_margin(given: Duration) -> Duration {
    (given / 5).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_deadline_in_milliseconds_becomes_a_wait_and_a_time() {
        let now = OffsetDateTime::now_utc();
        let millis = u64::try_from((now + Duration::from_secs(30)).unix_timestamp_nanos() / 1_000_000).unwrap();
        let deadline = Deadline::from_epoch_millis(millis);
        assert!(deadline.remaining() <= Duration::from_secs(30) && deadline.remaining() > Duration::from_secs(29));
        assert_eq!(deadline.wall().unix_timestamp(), (now + Duration::from_secs(30)).unix_timestamp());
        // A deadline in the past has no time left, and says so.
        let past = Deadline::from_epoch_millis(1_000);
        assert!(past.passed() && past.remaining() == Duration::ZERO);
    }

    #[test]
    fn a_margin_moves_both_clocks() {
        let deadline = Deadline::after(Duration::from_secs(10));
        let earlier = deadline.less(Duration::from_secs(4));
        assert_eq!(deadline.instant() - earlier.instant(), Duration::from_secs(4));
        assert_eq!(deadline.wall() - earlier.wall(), time::Duration::seconds(4));
    }

    #[test]
    fn margins_scale_with_the_time_given_within_bounds() {
        assert_eq!(stop_margin(Duration::from_secs(60)), Duration::from_secs(5));
        assert_eq!(stop_margin(Duration::from_secs(10)), Duration::from_secs(2));
        assert_eq!(stop_margin(Duration::from_secs(2)), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_work_is_abandoned_at_the_deadline() {
        let deadline = Deadline::after(Duration::from_secs(2));
        assert_eq!(deadline.bound(async { 7 }).await, Some(7));
        let slow = deadline.bound(tokio::time::sleep(Duration::from_secs(3))).await;
        assert_eq!(slow, None);
        assert!(deadline.passed());
    }
}
