//! Cutting the data records' bytes into chunks, one per mapper.

use serde::{Deserialize, Serialize};

/// The bytes `[start, end)` of the file: the chunk owns the records that begin there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub index: u32,
    pub start: u64,
    pub end: u64,
}

/// Cuts `[data_start, size)` into chunks of `chunk_bytes` (at least 1), made larger if that
/// would take more than `max_chunks` (at least 1). None when there are no data bytes.
pub fn plan(size: u64, data_start: u64, chunk_bytes: u64, max_chunks: u32) -> Vec<Chunk> {
    if data_start >= size {
        return Vec::new();
    }
    let data = size - data_start;
    let chunk_bytes = chunk_bytes.max(1).max(data.div_ceil(u64::from(max_chunks.max(1))));
    let count = data.div_ceil(chunk_bytes);
    (0..count)
        .map(|i| {
            let start = data_start + i * chunk_bytes;
            // At most max_chunks chunks, so the index fits.
            Chunk { index: i as u32, start, end: start.saturating_add(chunk_bytes).min(size) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(chunks: &[Chunk]) -> Vec<(u64, u64)> {
        chunks.iter().map(|c| (c.start, c.end)).collect()
    }

    #[test]
    fn chunks_tile_the_data_bytes() {
        assert_eq!(bounds(&plan(25, 5, 8, 100)), [(5, 13), (13, 21), (21, 25)]);
        assert_eq!(plan(25, 5, 8, 100).iter().map(|c| c.index).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(bounds(&plan(8, 5, 0, 100)), [(5, 6), (6, 7), (7, 8)]);
        assert_eq!(bounds(&plan(8, 5, 100, 100)), [(5, 8)]);
    }

    #[test]
    fn chunks_grow_to_stay_within_the_limit() {
        assert_eq!(bounds(&plan(105, 5, 1, 3)), [(5, 39), (39, 73), (73, 105)]);
        assert_eq!(bounds(&plan(105, 5, 1, 0)), [(5, 105)]);
        for size in 6..200 {
            assert!(plan(size, 5, 1, 7).len() <= 7);
        }
    }

    #[test]
    fn no_data_no_chunks() {
        assert!(plan(5, 5, 8, 10).is_empty());
        assert!(plan(0, 0, 8, 10).is_empty());
        assert!(plan(3, 5, 8, 10).is_empty());
    }
}
