//! Retrying what may succeed later: exponential backoff with full jitter (each wait drawn
//! uniformly between zero and the exponential bound, so callers that failed together do
//! not retry together), never past a deadline.

use std::future::Future;
use std::time::Duration;

use crate::deadline::Deadline;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The bound on the first wait; each retry doubles it ...
    pub first: Duration,
    /// ... up to this.
    pub max: Duration,
}

impl Backoff {
    /// For calls to AWS from a function: 50 ms doubling to 2 s.
    pub const AWS: Backoff = Backoff { first: Duration::from_millis(50), max: Duration::from_secs(2) };

    /// The bound on the wait before retry `n` (1 for the first retry).
    pub fn bound(&self, n: u32) -> Duration {
        let doubled = self.first.saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(31)));
        doubled.min(self.max)
    }

    /// The wait before retry `n`: uniform in [0, bound(n)].
    pub fn wait(&self, n: u32) -> Duration {
        self.bound(n).mul_f64(random_fraction())
    }
}

/// A uniform number in [0, 1), from the operating system's random source (through a
/// random UUID: the functions link it already). The top 53 bits of its first half are
/// random but for the version nibble, which lands in the last bits of the fraction (the
/// second half starts with the fixed variant bits).
fn random_fraction() -> f64 {
    let bits = (uuid::Uuid::new_v4().as_u128() >> 64) as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// Runs `attempt` until it succeeds, fails in a way `retryable` says will not change, or
/// the next wait would end past `deadline`; the last error is returned then.
pub async fn retry<T, E, F, Fut>(
    deadline: &Deadline,
    backoff: Backoff,
    retryable: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if !retryable(&err) => return Err(err),
            Err(err) => {
                retries += 1;
                let wait = backoff.wait(retries);
                if wait >= deadline.remaining() {
                    return Err(err);
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn bounds_double_up_to_the_maximum_and_waits_stay_inside_them() {
        let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_secs(1) };
        let bounds: Vec<u128> = (1..=6).map(|n| backoff.bound(n).as_millis()).collect();
        assert_eq!(bounds, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.bound(u32::MAX), Duration::from_secs(1), "no overflow");
        let waits: Vec<Duration> = (0..1000).map(|_| backoff.wait(3)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(400)));
        // Jittered: spread over the range, not all at the bound.
        assert!(
            waits.iter().any(|w| *w < Duration::from_millis(100))
                && waits.iter().any(|w| *w > Duration::from_millis(300))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = retry(
            &Deadline::after(Duration::from_secs(60)),
            Backoff::AWS,
            |_: &&str| true,
            || async { if calls.fetch_add(1, Ordering::SeqCst) < 4 { Err("busy") } else { Ok(5) } },
        )
        .await;
        assert_eq!((result, calls.load(Ordering::SeqCst)), (Ok(5), 5));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_returned_at_once() {
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = retry(
            &Deadline::after(Duration::from_secs(60)),
            Backoff::AWS,
            |e: &&str| *e != "invalid",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("invalid")
            },
        )
        .await;
        assert_eq!((result, calls.load(Ordering::SeqCst)), (Err("invalid"), 1));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_before_the_deadline() {
        let deadline = Deadline::after(Duration::from_secs(10));
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = retry(
            &deadline,
            Backoff::AWS,
            |_| true,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("busy")
            },
        )
        .await;
        assert_eq!(result, Err("busy"));
        assert!(!deadline.passed(), "gave up before the deadline, not after");
        // 2 s waits at most, about 1 s on average once at the cap: a handful of attempts, not one.
        assert!(calls.load(Ordering::SeqCst) > 3, "{} attempts", calls.load(Ordering::SeqCst));
    }
}
