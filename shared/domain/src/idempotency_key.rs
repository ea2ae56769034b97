//! The `Idempotency-Key` a client may send with `POST /flights/{flightId}/events`, so that
//! retrying a request it never saw answered cannot announce the same event twice.

/// 1 to 128 characters of letters, digits and `-_.:` (a UUID fits, and so do most
/// client-generated keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=128).contains(&raw.len())
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if ok { Ok(Self(raw.to_owned())) } else { Err("must be 1 to 128 letters, digits or -_.:".into()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_and_plain() {
        assert!(IdempotencyKey::parse("3f2c1a9e-retry:1").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"a".repeat(129)).is_err());
        assert!(IdempotencyKey::parse("key with space").is_err());
        assert!(IdempotencyKey::parse("ключ").is_err());
    }
}
