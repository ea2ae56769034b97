//! The environment's clock: real time plus an offset that `scripts/local advance` moves
//! forward. TTL expiry and schedules read this clock, so a person can see a day pass in a
//! second. (The functions keep real time: their code has no local mode.)

use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct Clock {
    offset: watch::Sender<Duration>,
}

impl Default for Clock {
    fn default() -> Self {
        Self { offset: watch::Sender::new(Duration::ZERO) }
    }
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + *self.offset.borrow()
    }

    pub fn offset(&self) -> Duration {
        *self.offset.borrow()
    }

    /// Moves the clock forward; everything waiting on it re-reads the time.
    pub fn advance(&self, by: Duration) {
        self.offset.send_modify(|offset| *offset += by);
    }

    /// A receiver that wakes when the clock is moved.
    pub fn moved(&self) -> watch::Receiver<Duration> {
        self.offset.subscribe()
    }

    /// Sleeps until the clock reads `at`, waking early if it is moved past it.
    pub async fn sleep_until(&self, at: OffsetDateTime) {
        let mut moved = self.moved();
        loop {
            let now = self.now();
            if now >= at {
                return;
            }
            let wait = Duration::try_from(at - now).unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = moved.changed() => if changed.is_err() { tokio::time::sleep(wait).await },
            }
        }
    }
}

/// Parses a duration such as `90s`, `15m`, `2h`, `3d` or `1d12h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("{text}: unknown unit {c} (use s, m, h or d)")),
        };
        let n: u64 = digits.parse().map_err(|_| format!("{text}: a number must come before {c}"))?;
        total += Duration::from_secs(n * unit);
        digits.clear();
    }
    if !digits.is_empty() || total.is_zero() {
        return Err(format!("{text}: write a duration like 90s, 15m, 2h, 3d or 1d12h"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_the_units_people_type() {
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("2w").is_err());
        assert!(parse_duration("").is_err());
    }

    #[tokio::test]
    async fn moving_the_clock_wakes_a_sleeper() {
        let clock = Clock::default();
        let at = clock.now() + Duration::from_secs(3600);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(at).await }
        });
        clock.advance(Duration::from_secs(7200));
        tokio::time::timeout(Duration::from_secs(5), sleeper).await.unwrap().unwrap();
        assert!(clock.now() >= at);
    }
}
