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

/// Trims and checks the length of a free-text field, counted in characters.
pub fn text(raw: String, min: usize, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
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
