//! Transient data and its archive: items that expire by TTL leave their tables through
//! the tables' streams and are kept in S3 as JSON Lines, one object per batch and day,
//! partitioned `table=<t>/year=/month=/day=/` so Athena reads them as tables; a daily
//! roll-up counts what one day's archive holds.
//!
//! - [`record`]: which stream records are expiries, and the archived row of one;
//! - [`partition`]: where a row goes (the day its item expired) and the object keys that
//!   make a redelivered batch overwrite what it wrote before instead of doubling it;
//! - [`rollup`]: the daily report over one day's archived alerts and SMS deliveries.

pub mod partition;
pub mod record;
pub mod rollup;

pub use partition::{ArchivedTable, Partition, object_key};
pub use partition::{day_prefix, expiry};
pub use record::{ArchiveRow, RecordError, is_ttl_expiry, plain_json};
pub use rollup::{DailyReport, RollupDay, RollupDayError, RowError, SCHEDULED_DAYS, report_key};
