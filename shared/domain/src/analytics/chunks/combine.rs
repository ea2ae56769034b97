//! The reducer's side: chaining the chunks' quote parities to pick, for each chunk, the
//! partial read under the hypothesis that held, and merging those.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::analytics::report::Partial;

/// What a mapper reports for its chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkPartials {
    /// Whether the chunk's window held an odd number of `"` bytes.
    pub quote_parity: bool,
    /// The chunk's records if its window starts outside quotes.
    pub even: Partial,
    /// The chunk's records if its window starts inside quotes; the first chunk has none.
    pub odd: Option<Partial>,
}

/// The chunks' partials do not chain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    #[error("chunk {position} starts inside quotes, but has no partial for that")]
    MissingOdd { position: usize },
}

/// The partial of the whole file, from every chunk's partials in index order.
pub fn combine(chunks: impl IntoIterator<Item = ChunkPartials>) -> Result<Partial, ChainError> {
    let mut combiner = Combiner::default();
    for chunk in chunks {
        combiner.push(chunk)?;
    }
    Ok(combiner.finish())
}

/// [`combine`] one chunk at a time, so a reducer holds one chunk's partials at once.
#[derive(Debug, Default)]
pub struct Combiner {
    total: Partial,
    /// Whether the next chunk's window starts inside quotes (the header ends outside).
    inside: bool,
    position: usize,
}

impl Combiner {
    /// Merges the next chunk's partial for the quote state that held at its start.
    pub fn push(&mut self, chunk: ChunkPartials) -> Result<(), ChainError> {
        let partial =
            if self.inside { chunk.odd.ok_or(ChainError::MissingOdd { position: self.position })? } else { chunk.even };
        self.total.merge(partial);
        self.inside ^= chunk.quote_parity;
        self.position += 1;
        Ok(())
    }

    pub fn finish(self) -> Partial {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(rows: u64) -> Partial {
        Partial { rows_read: rows, ..Partial::default() }
    }

    #[test]
    fn the_parity_chain_picks_each_chunks_hypothesis() {
        let chunks = [
            ChunkPartials { quote_parity: true, even: read(1), odd: None },
            ChunkPartials { quote_parity: false, even: read(10), odd: Some(read(100)) },
            ChunkPartials { quote_parity: true, even: read(1000), odd: Some(read(10_000)) },
            ChunkPartials { quote_parity: false, even: read(100_000), odd: Some(read(1_000_000)) },
        ];
        assert_eq!(combine(chunks).unwrap().rows_read, 1 + 100 + 10_000 + 100_000);
        assert_eq!(combine([]).unwrap(), Partial::default());
    }

    #[test]
    fn a_chunk_without_the_needed_partial_breaks_the_chain() {
        let chunks = [
            ChunkPartials { quote_parity: true, even: read(1), odd: None },
            ChunkPartials { quote_parity: false, even: read(10), odd: None },
        ];
        assert_eq!(combine(chunks), Err(ChainError::MissingOdd { position: 1 }));
    }

    #[test]
    fn chunk_partials_round_trip() {
        let partials = ChunkPartials { quote_parity: true, even: read(3), odd: None };
        let json = serde_json::to_string(&partials).unwrap();
        assert!(json.starts_with(r#"{"quoteParity":true,"even":{"groups":[]"#), "{json}");
        assert_eq!(serde_json::from_str::<ChunkPartials>(&json).unwrap(), partials);
    }
}
