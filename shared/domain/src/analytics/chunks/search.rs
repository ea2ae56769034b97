//! Finding the next byte that can change the record structure, `"` or `\n`, a word at a
//! time: the mapper spends most of its time here, and needs no dependency for it.

const LANE: usize = 8;
const ONES: u64 = u64::from_ne_bytes([0x01; LANE]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; LANE]);
const QUOTES: u64 = u64::from_ne_bytes([b'"'; LANE]);
const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; LANE]);

/// The index of the first `"` or `\n` in `bytes`.
pub(crate) fn find_quote_or_newline(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(LANE);
    let mut offset = 0;
    for word in &mut words {
        let mut lanes = [0; LANE];
        lanes.copy_from_slice(word);
        // Little-endian, so the lowest flagged bit is the first matching byte.
        let value = u64::from_le_bytes(lanes);
        let found = zero_bytes(value ^ QUOTES) | zero_bytes(value ^ NEWLINES);
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += LANE;
    }
    words.remainder().iter().position(|&b| b == b'"' || b == b'\n').map(|i| offset + i)
}

/// Flags the high bit of each zero byte of `value`. Bytes above the first zero byte may be
/// flagged falsely (a borrow runs up from it), so only the lowest flag is exact.
fn zero_bytes(value: u64) -> u64 {
    value.wrapping_sub(ONES) & !value & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_the_first_quote_or_newline() {
        assert_eq!(find_quote_or_newline(b""), None);
        assert_eq!(find_quote_or_newline(b"abcdefghijklmnop"), None);
        assert_eq!(find_quote_or_newline(b"abcdefghij\"klmn\np"), Some(10));
        assert_eq!(find_quote_or_newline(b"abcdefghijklmnop\n"), Some(16));
        assert_eq!(find_quote_or_newline(b"\x01\n\"\x80\xff"), Some(1));
    }

    proptest! {
        #[test]
        fn agrees_with_a_plain_search(
            bytes in proptest::collection::vec(prop_oneof![1 => Just(b'"'), 1 => Just(b'\n'), 20 => any::<u8>()], 0..40),
        ) {
            prop_assert_eq!(find_quote_or_newline(&bytes), bytes.iter().position(|&b| b == b'"' || b == b'\n'));
        }
    }
}
