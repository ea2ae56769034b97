//! Field-level validation errors. A request is checked whole, so the client learns every
//! problem at once; each error names the field by its JSON pointer-like path.

use std::fmt;

/// One thing wrong with one input field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Where the problem is, e.g. `passengers[2].mobile`.
    pub field: String,
    /// What is wrong, in words a client developer can act on.
    pub detail: String,
}

/// A non-empty list of field errors: the input was rejected and nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid(pub Vec<FieldError>);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.0.iter().map(|e| e.field.as_str()).collect();
        write!(f, "invalid fields: {}", fields.join(", "))
    }
}

impl Invalid {
    pub fn one(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Invalid(vec![FieldError { field: field.into(), detail: detail.into() }])
    }
}

/// Collects field errors while a whole input is checked.
#[derive(Debug, Default)]
pub struct Collector {
    errors: Vec<FieldError>,
}

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the error of a failed check and returns its value when it passed.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(detail) => {
                self.push(field, detail);
                None
            }
        }
    }

    /// Checks a required field: absent is an error of its own.
    pub fn required<R, T>(
        &mut self,
        field: &str,
        raw: Option<R>,
        parse: impl FnOnce(R) -> Result<T, String>,
    ) -> Option<T> {
        match raw {
            Some(raw) => self.check(field, parse(raw)),
            None => {
                self.push(field, "is required");
                None
            }
        }
    }

    pub fn push(&mut self, field: &str, detail: impl Into<String>) {
        self.errors.push(FieldError { field: field.to_owned(), detail: detail.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Finishes the check: the built value when nothing was wrong.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Invalid> {
        if !self.errors.is_empty() {
            return Err(Invalid(self.errors));
        }
        // Every field passed, so `build` has all its parts; `None` would be a bug in the
        // caller, reported as an error rather than a panic.
        build().ok_or_else(|| Invalid::one("", "internal validation inconsistency"))
    }
}

/// Characters that print nothing: Unicode's format characters (zero-width spaces and
/// joiners, the byte-order mark, soft hyphens, direction marks and overrides). A text made
/// only of them, or of them and spaces, is empty.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Trims and checks the length of a free-text field, counted in characters. Spaces and
/// invisible characters at either end are trimmed; what remains must show something.
pub fn text(raw: String, min: usize, max: usize) -> Result<String, String> {
    let trimmed = raw.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
    let len = trimmed.chars().count();
    if len < min {
        return Err(if min == 1 { "must not be empty".into() } else { format!("must be at least {min} characters") });
    }
    if len > max {
        return Err(format!("must be at most {max} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_made_only_of_invisible_characters_is_empty() {
        for blank in ["", "   ", "\u{200B}\u{200B}", " \u{FEFF}\u{200D} ", "\u{2060}\u{00AD}"] {
            assert_eq!(text(blank.into(), 1, 10), Err("must not be empty".to_owned()), "{blank:?}");
        }
        assert_eq!(text("\u{200B} Ada \u{200B}".into(), 1, 10), Ok("Ada".to_owned()));
        assert_eq!(text("A\u{200D}B".into(), 1, 10), Ok("A\u{200D}B".to_owned()), "joiners inside a word stay");
        assert!(text("a\u{7}b".into(), 1, 10).is_err());
    }

    use proptest::prelude::*;

    proptest! {
        /// Any text: an answer, never a panic; what is accepted is trimmed, within bounds,
        /// and shows something.
        #[test]
        fn any_text_is_judged(raw in "\\PC{0,40}|[\u{200B}-\u{200F}\u{FEFF} a]{0,12}") {
            if let Ok(kept) = text(raw, 1, 20) {
                let count = kept.chars().count();
                prop_assert!((1..=20).contains(&count));
                prop_assert!(kept.chars().any(|c| !c.is_whitespace() && !is_invisible(c)));
                prop_assert_eq!(kept.trim_matches(|c: char| c.is_whitespace() || is_invisible(c)), kept.as_str());
            }
        }
    }
}
