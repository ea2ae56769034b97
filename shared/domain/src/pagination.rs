//! Paging through query results with an opaque cursor.
//!
//! The cursor is the position of the last item returned, encoded so that clients treat
//! it as a token rather than something to build. It is bound to the listing it came
//! from: a cursor for one flight's alerts is refused for another's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const DEFAULT_PAGE_SIZE: u16 = 20;
pub const MAX_PAGE_SIZE: u16 = 100;

/// How many items a page holds, from the `limit` query parameter.
pub fn page_size(raw: Option<&str>) -> Result<u16, String> {
    match raw {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => match raw.parse::<u16>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
            _ => Err(format!("must be a whole number from 1 to {MAX_PAGE_SIZE}")),
        },
    }
}

/// A position within the listing `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub scope: String,
    pub position: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1\n{}\n{}", self.scope, self.position))
    }

    /// Decodes a cursor and checks it belongs to `scope`.
    pub fn decode(raw: &str, scope: &str) -> Result<Self, String> {
        let invalid = || "is not a cursor returned by this listing".to_owned();
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(3, '\n');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("v1"), Some(s), Some(position)) if s == scope && !position.is_empty() => {
                Ok(Self { scope: s.to_owned(), position: position.to_owned() })
            }
            _ => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn page_sizes_default_and_are_bounded() {
        assert_eq!(page_size(None), Ok(20));
        assert_eq!(page_size(Some("100")), Ok(100));
        assert!(page_size(Some("0")).is_err());
        assert!(page_size(Some("101")).is_err());
        assert!(page_size(Some("ten")).is_err());
    }

    #[test]
    fn cursors_are_refused_outside_their_listing() {
        let cursor = Cursor { scope: "UA83-2026-12-01".into(), position: "ALERT#x".into() }.encode();
        assert!(Cursor::decode(&cursor, "UA83-2026-12-01").is_ok());
        assert!(Cursor::decode(&cursor, "UA84-2026-12-01").is_err());
        assert!(Cursor::decode("not base64!", "UA83-2026-12-01").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("v2\nUA83-2026-12-01\nx"), "UA83-2026-12-01").is_err());
    }

    proptest! {
        #[test]
        fn cursors_round_trip(scope in "[A-Z0-9-]{1,20}", position in "\\PC{1,60}") {
            let cursor = Cursor { scope: scope.clone(), position };
            prop_assert_eq!(Cursor::decode(&cursor.encode(), &scope), Ok(cursor));
        }
    }
}
