//! Passenger contact details. Both types mask themselves in `Debug` and `Display`, so a
//! phone number or email address can never reach a log line or a response by accident;
//! the full value is only available through an explicit accessor.

use std::fmt;

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberFormat};

/// A mobile number in E.164 form (`+447911123456`), checked against the numbering plan.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number given in international form. National forms are refused: the
    /// service has no way to know which country a passenger meant.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if !raw.starts_with('+') {
            return Err("must be in international E.164 form, starting with + and the country code".into());
        }
        let parsed = PHONE_NUMBER_UTIL.parse(raw, None).map_err(|_| "is not a phone number".to_owned())?;
        if !parsed.is_valid() {
            return Err("is not a valid number in its country's numbering plan".into());
        }
        Ok(Self(parsed.format_as(PhoneNumberFormat::E164).into_owned()))
    }

    /// A number this service stored after `parse` accepted it: only its E.164 form is
    /// checked (`+`, then 8 to 15 digits, the first not 0). Readers of stored passengers
    /// use this so that they never load the numbering plan, which `parse` loads on first
    /// use, every country at once: about 4 MiB of memory (BENCHMARKS.md).
    pub fn from_e164(stored: &str) -> Result<Self, String> {
        let digits = stored.strip_prefix('+').unwrap_or_default();
        let well_formed =
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if well_formed { Ok(Self(stored.to_owned())) } else { Err("is not a number in E.164 form".into()) }
    }

    /// The full number, for handing to the SMS service and nothing else.
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The masked form used everywhere else: country code and last two digits.
    pub fn masked(&self) -> String {
        let digits = self.0.len().saturating_sub(1);
        let keep_start = 3.min(digits);
        let keep_end = 2.min(digits.saturating_sub(keep_start));
        let hidden = digits - keep_start - keep_end;
        format!("{}{}{}", &self.0[..1 + keep_start], "*".repeat(hidden), &self.0[self.0.len() - keep_end..])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// An email address: one `@`, a local part of 1 to 64 characters without spaces or
/// control characters, a dotted domain of letters, digits and hyphens, at most 254
/// characters in all (openapi.yaml states the same rule as a pattern). Deliverability is
/// not this service's concern; shape is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.chars().count() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(|| "must contain @".to_owned())?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.chars().any(|c| c.is_whitespace() || c.is_control());
        if !local_ok || !domain_ok {
            return Err("is not an email address".into());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn address(&self) -> &str {
        &self.0
    }

    /// First character of the local part and the domain: `a***@example.com`.
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_international_numbers_and_normalises_them() {
        let number = PhoneNumber::parse(" +44 7911 123456 ").unwrap();
        assert_eq!(number.e164(), "+447911123456");
        let us = PhoneNumber::parse("+1 (415) 555-2671").unwrap();
        assert_eq!(us.e164(), "+14155552671");
    }

    #[test]
    fn refuses_national_and_impossible_numbers() {
        assert!(PhoneNumber::parse("07700900123").unwrap_err().contains("E.164"));
        assert!(PhoneNumber::parse("+44 12").is_err());
        assert!(PhoneNumber::parse("+999 1234567").is_err());
        assert!(PhoneNumber::parse("+44 hello").is_err());
    }

    #[test]
    fn stored_numbers_are_checked_for_their_form_only() {
        assert_eq!(PhoneNumber::from_e164("+14155552671").unwrap(), PhoneNumber::parse("+1 415 555 2671").unwrap());
        for bad in ["14155552671", "+1415555267x", "+0123456789", "+1234567", "+1234567890123456", "+", ""] {
            assert!(PhoneNumber::from_e164(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn phone_numbers_never_print_in_full() {
        let number = PhoneNumber::parse("+447911123456").unwrap();
        assert_eq!(number.to_string(), "+447*******56");
        assert!(!format!("{number:?}").contains("7911123"));
    }

    #[test]
    fn emails_are_checked_and_masked() {
        let email = Email::parse("Ada.Lovelace@Example.COM").unwrap();
        assert_eq!(email.address(), "Ada.Lovelace@example.com");
        assert_eq!(email.to_string(), "A***@example.com");
        assert!(!format!("{email:?}").contains("Lovelace"));
        for bad in
            ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@exa mple.com", "a@b@c.com"]
        {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn masking_hides_the_middle_digits(subscriber in 2_000_000u32..9_999_999) {
            let number = PhoneNumber::parse(&format!("+1415{}", subscriber)).unwrap();
            let masked = number.to_string();
            prop_assert_eq!(masked.len(), number.e164().len());
            let leading = subscriber.to_string();
            prop_assert!(!masked.contains(&leading[..4]));
        }
    }
}
