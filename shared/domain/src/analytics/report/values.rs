//! Reading one field's value: nulls as DuckDB reads them (`NA`, or empty), and numbers
//! parsed in place, without allocating, since this runs for several fields of every row.

/// `NA` (exactly: `na` is a value) or the empty string.
pub(crate) fn is_null(field: &str) -> bool {
    field.is_empty() || field == "NA"
}

/// An integer with an optional sign, surrounded by optional ASCII whitespace (as a cast
/// accepts).
pub(crate) fn parse_int(field: &str) -> Option<i64> {
    let text = field.trim_ascii().as_bytes();
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    // 18 digits cannot overflow an i64; longer ones are left to the float parser.
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(d - b'0');
    }
    Some(if negative { -value } else { value })
}

/// A finite number (integers take the fast path), or `None` for anything else.
pub(crate) fn parse_number(field: &str) -> Option<f64> {
    if let Some(value) = parse_int(field) {
        // Exactly the float the text names: conversion rounds to nearest, as parsing does.
        return Some(value as f64);
    }
    field.trim_ascii().parse::<f64>().ok().filter(|value| value.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_na_or_empty_exactly() {
        assert!(is_null("NA"));
        assert!(is_null(""));
        assert!(!is_null("na"));
        assert!(!is_null(" NA"));
    }

    #[test]
    fn integers_parse_with_sign_and_blanks() {
        assert_eq!(parse_int("2013"), Some(2013));
        assert_eq!(parse_int(" -42\t"), Some(-42));
        assert_eq!(parse_int("+7"), Some(7));
        for bad in ["", "-", "1.0", "1e3", "12a", "NA", "1 2", "1234567890123456789"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_are_finite_floats() {
        assert_eq!(parse_number("-5"), Some(-5.0));
        assert_eq!(parse_number("2.5"), Some(2.5));
        assert_eq!(parse_number("1e2"), Some(100.0));
        assert_eq!(parse_number("1234567890123456789"), Some(1_234_567_890_123_456_789.0));
        for bad in ["", "NA", "inf", "NaN", "1e400", "x", "1,5"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }
}
