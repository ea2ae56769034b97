//! Splitting the work: the plan of chunks, the mapper's scan of one chunk under both quote
//! hypotheses, and the reducer's chaining of the chunks' partials (see the module above).

mod combine;
mod plan;
mod scanner;
mod search;
#[cfg(test)]
mod tests;

pub use combine::{ChainError, ChunkPartials, Combiner, combine};
pub use plan::{Chunk, plan};
pub use scanner::{ChunkScanner, MAX_RECORD_BYTES};
