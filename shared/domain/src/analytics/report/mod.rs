//! What the analytics compute: the columns read from each record, the mergeable partial
//! aggregate mappers produce, and the report rows the reducer derives from the merged one.

mod columns;
mod compact;
mod index;
mod partial;
mod rows;
mod values;

pub use columns::{Columns, MissingColumns};
pub(crate) use index::GroupIndex;
pub(crate) use partial::record_text;
pub use partial::{DelayStats, GroupKey, GroupStats, MAX_SAMPLES, Partial, RejectedSample, Rejection, SAMPLE_CHARS};
pub use rows::{CSV_HEADER, ReportRow, report_rows, to_csv};
