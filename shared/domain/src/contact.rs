//! Passenger contact details. Both types mask themselves in `Debug` and `Display`, so a
//! phone number or email address can never reach a log line or a response by accident;
//! the full value is only available through an explicit accessor.

use std::borrow::Cow;
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

/// Masks every phone number (`+` and at least 8 digits) and every email address in free
/// text, as the types above print them: for text that did not come from them (error
/// messages, other libraries' output), as a last line of defence before a log. Text with
/// nothing to mask is returned as it is.
pub fn redact(text: &str) -> Cow<'_, str> {
    let phones = redact_phone_numbers(text);
    match redact_emails(&phones) {
        Cow::Borrowed(_) => phones,
        Cow::Owned(both) => Cow::Owned(both),
    }
}

fn redact_phone_numbers(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' {
            let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits >= 8 {
                let out = out.get_or_insert_with(|| bytes[..i].to_vec());
                out.push(b'+');
                for (k, &digit) in bytes[i + 1..i + 1 + digits].iter().enumerate() {
                    out.push(if k < 3 || k >= digits - 2 { digit } else { b'*' });
                }
                i += 1 + digits;
                continue;
            }
        }
        if let Some(out) = out.as_mut() {
            out.push(bytes[i]);
        }
        i += 1;
    }
    // Only ASCII digits were replaced by ASCII, so the bytes are still UTF-8.
    match out {
        Some(out) => Cow::Owned(String::from_utf8(out).unwrap_or_default()),
        None => Cow::Borrowed(text),
    }
}

fn redact_emails(text: &str) -> Cow<'_, str> {
    let local_char = |b: u8| b.is_ascii_alphanumeric() || b"._%+-!#$&'*/=?^`{|}~".contains(&b);
    let domain_char = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    for (at, _) in text.match_indices('@') {
        let start = at - bytes[..at].iter().rev().take_while(|&&b| local_char(b)).count();
        let end = at + 1 + bytes[at + 1..].iter().take_while(|&&b| domain_char(b)).count();
        // A domain ends at an empty label: `a@example.org..x` is `a@example.org` followed by text.
        let domain = &text[at + 1..end];
        let domain = domain.split_once("..").map_or(domain, |(head, _)| head).trim_end_matches('.');
        let domain_ok = domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
        if start == at || !domain_ok || start < copied {
            continue;
        }
        let local = &text[start..at];
        if local.len() > 1 && local[1..].bytes().all(|b| b == b'*') {
            continue; // masked already
        }
        out.push_str(&text[copied..start]);
        out.push_str(&local[..1]);
        out.push_str("***");
        copied = at;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
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

    #[test]
    fn free_text_is_redacted_as_the_types_print() {
        let line = r#"{"error":"Invalid parameter: PhoneNumber Reason: +14155552671 is not valid","to":"ada.lovelace@example.com"}"#;
        assert_eq!(
            redact(line),
            r#"{"error":"Invalid parameter: PhoneNumber Reason: +141******71 is not valid","to":"a***@example.com"}"#
        );
        assert_eq!(redact("+447911123456"), PhoneNumber::parse("+447911123456").unwrap().to_string());
        assert_eq!(redact("Ada.Lovelace@example.com"), Email::parse("Ada.Lovelace@example.com").unwrap().to_string());
        assert_eq!(redact("aa@example.org..A"), "a***@example.org..A");
        // Nothing to mask: the same text, not a copy.
        for clean in ["+447*******56 and A***@example.com", "+1234567 is short", "user@localhost", "@ x", "a@b."] {
            assert!(matches!(redact(clean), Cow::Borrowed(_)), "{clean}");
        }
        assert_eq!(redact("é +33612345678 ü"), "é +336******78 ü", "around other characters");
    }

    proptest! {
        #[test]
        fn no_number_or_address_survives_redaction(
            before in "[^+@0-9]{0,20}",
            subscriber in 2_000_000u32..9_999_999,
            local in "[a-z][a-z0-9.]{1,10}",
            after in "[^@0-9]{0,20}",
        ) {
            let number = format!("+1415{subscriber}");
            let email = format!("{local}@example.org");
            let text = format!("{before}{number} {email}{after}");
            let redacted = redact(&text);
            prop_assert!(!redacted.contains(&number[4..]), "{}", redacted);
            prop_assert!(!redacted.contains(&email), "{}", redacted);
            let again = redact(&redacted).into_owned();
            prop_assert_eq!(again.as_str(), redacted.as_ref(), "idempotent");
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
