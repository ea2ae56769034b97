//! The archive of expired items (`domain::archive`): the archive bucket's gzip JSON Lines
//! objects, and the daily roll-up reports in the results bucket.

pub mod archive_bucket;
pub mod daily_reports;

pub use archive_bucket::ArchiveBucket;
pub use daily_reports::{DailyReports, Written};
