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

/// The largest magnitude a delay may have: far beyond any real delay in minutes, and small
/// enough that sums over any file stay finite (and exact, for whole numbers).
pub(crate) const MAX_MAGNITUDE: f64 = 1e9;

/// A number of magnitude below [`MAX_MAGNITUDE`] (integers take the fast path), or `None`
/// for anything else.
pub(crate) fn parse_number(field: &str) -> Option<f64> {
    let value = match parse_int(field) {
        // Exactly the float the text names: conversion rounds to nearest, as parsing does.
        Some(value) => value as f64,
        None => field.trim_ascii().parse::<f64>().ok()?,
    };
    (value.abs() < MAX_MAGNITUDE).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_bounded_so_sums_stay_finite() {
        assert_eq!(parse_number("-999999999"), Some(-999_999_999.0));
        assert_eq!(parse_number("12.5"), Some(12.5));
        for out in ["1e9", "-1e308", "inf", "NaN", "1000000000"] {
            assert_eq!(parse_number(out), None, "{out}");
        }
    }

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
        for bad in ["", "NA", "inf", "NaN", "1e400", "x", "1,5"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }
}
