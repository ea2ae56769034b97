//! A token bucket: at most `per_second` actions per second on average, in bursts of at
//! most `burst`. One bucket per execution environment; with a function's concurrency
//! capped at N, N buckets of rate R/N keep the whole function under an account-wide R.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::deadline::Deadline;

#[derive(Debug)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Tokens available; below zero, tokens promised to callers that are waiting.
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A bucket that starts with one token (a new environment must not open with a burst
    /// on top of what the others are sending).
    pub fn new(per_second: f64, burst: f64) -> Self {
        let per_second = per_second.max(f64::MIN_POSITIVE);
        Self { per_second, burst: burst.max(1.0), state: Mutex::new(State { tokens: 1.0, at: Instant::now() }) }
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Takes a token, waiting for it if need be; `false`, without waiting or taking
    /// anything, when it would not come before `deadline`.
    pub async fn take(&self, deadline: &Deadline) -> bool {
        let wait = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let refill = now.saturating_duration_since(state.at).as_secs_f64() * self.per_second;
            state.tokens = (state.tokens + refill).min(self.burst);
            state.at = now;
            let wait = if state.tokens >= 1.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64((1.0 - state.tokens) / self.per_second)
            };
            if now + wait > deadline.instant() {
                return false;
            }
            state.tokens -= 1.0;
            wait
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal to within two milliseconds: the bucket computes waits in floating point and
    /// tokio's timer rounds them up to whole milliseconds (the next refill makes up for it).
    fn same(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) <= Duration::from_millis(2)
    }

    #[tokio::test(start_paused = true)]
    async fn takes_are_spread_at_the_rate() {
        let bucket = TokenBucket::new(10.0, 10.0);
        let deadline = Deadline::after(Duration::from_secs(3600));
        let start = Instant::now();
        for _ in 0..51 {
            assert!(bucket.take(&deadline).await);
        }
        // One token to start with, then 50 at 10 a second: five seconds of the paused clock.
        assert!(same(Instant::now() - start, Duration::from_secs(5)), "{:?}", Instant::now() - start);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_takers_share_the_rate() {
        let bucket = std::sync::Arc::new(TokenBucket::new(4.0, 4.0));
        let deadline = Deadline::after(Duration::from_secs(3600));
        let start = Instant::now();
        let takers: Vec<_> = (0..8)
            .map(|_| {
                let bucket = bucket.clone();
                tokio::spawn(async move {
                    for _ in 0..5 {
                        assert!(bucket.take(&deadline).await);
                    }
                })
            })
            .collect();
        for taker in takers {
            taker.await.unwrap();
        }
        // 40 tokens, one there at the start: 39 more at 4 a second.
        assert!(same(Instant::now() - start, Duration::from_secs_f64(39.0 / 4.0)), "{:?}", Instant::now() - start);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_refills_up_to_the_burst_only() {
        let bucket = TokenBucket::new(2.0, 3.0);
        let deadline = Deadline::after(Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        for _ in 0..3 {
            assert!(bucket.take(&deadline).await);
        }
        assert_eq!(Instant::now(), start, "a burst of three at once");
        assert!(bucket.take(&deadline).await);
        assert!(same(Instant::now() - start, Duration::from_millis(500)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_that_would_come_too_late_is_refused_and_not_taken() {
        let bucket = TokenBucket::new(1.0, 1.0);
        let soon = Deadline::after(Duration::from_millis(500));
        assert!(bucket.take(&soon).await, "the first token is there");
        assert!(!bucket.take(&soon).await, "the next comes in a second, after the deadline");
        assert!(!soon.passed(), "refused at once, without waiting");
        let later = Deadline::after(Duration::from_secs(5));
        let start = Instant::now();
        assert!(bucket.take(&later).await);
        assert!(same(Instant::now() - start, Duration::from_secs(1)), "the refusal took nothing");
    }
}
