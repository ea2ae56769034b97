//! The mergeable aggregate: per (carrier, origin, year, month) group, the counts, sums
//! and maxima the report's figures derive from, and an account of rejected records.
//!
//! Merging adds counts and sums and takes maxima, so partials of disjoint record sets
//! merge to the partial of their union in any order (sums exactly so while they stay
//! exact in an f64, as integer delays do).

use std::borrow::{Borrow, Cow};
use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::columns::Columns;
use super::index::GroupIndex;
use super::values::{is_null, parse_int, parse_number};
use crate::analytics::csv::{FieldSplitter, Fields};

/// Rejected records kept as samples: the first ones by byte offset.
pub const MAX_SAMPLES: usize = 5;
/// Characters of a rejected record kept in its sample.
pub const SAMPLE_CHARS: usize = 200;

/// Why a record was rejected; `as_str` is the stable name it is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    WrongFieldCount,
    Year,
    Month,
    Carrier,
    Origin,
    DepDelay,
    ArrDelay,
    NotUtf8,
    TooLong,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::WrongFieldCount => "wrong number of fields",
            Rejection::Year => "year is not an integer",
            Rejection::Month => "month is not 1-12",
            Rejection::Carrier => "carrier is missing",
            Rejection::Origin => "origin is missing",
            Rejection::DepDelay => "dep_delay is not a number of magnitude below 1e9",
            Rejection::ArrDelay => "arr_delay is not a number of magnitude below 1e9",
            Rejection::NotUtf8 => "not UTF-8",
            Rejection::TooLong => "record is too long",
        }
    }
}

impl AsRef<str> for Rejection {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// The report's grouping; ordered as the report is sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub carrier: String,
    pub origin: String,
    pub year: i32,
    pub month: u8,
}

/// The non-null values of one delay column.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DelayStats {
    pub count: u64,
    pub sum: f64,
    pub max: Option<f64>,
}

impl DelayStats {
    fn add(&mut self, value: Option<f64>) {
        if let Some(value) = value {
            self.count += 1;
            self.sum += value;
            self.max = Some(self.max.map_or(value, |max| max.max(value)));
        }
    }

    fn merge(&mut self, other: &DelayStats) {
        self.count += other.count;
        self.sum += other.sum;
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// One group's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupStats {
    /// Accepted records.
    pub flights: u64,
    /// Records whose `dep_time` is null.
    pub cancelled: u64,
    pub dep_delay: DelayStats,
    /// Records whose `dep_delay` is strictly greater than 15 minutes.
    pub dep_over_15: u64,
    pub arr_delay: DelayStats,
}

impl GroupStats {
    fn add(&mut self, row: &Row<'_>) {
        self.flights += 1;
        self.cancelled += u64::from(row.cancelled);
        self.dep_delay.add(row.dep_delay);
        self.dep_over_15 += u64::from(row.dep_delay.is_some_and(|delay| delay > 15.0));
        self.arr_delay.add(row.arr_delay);
    }

    pub fn merge(&mut self, other: &GroupStats) {
        self.flights += other.flights;
        self.cancelled += other.cancelled;
        self.dep_delay.merge(&other.dep_delay);
        self.dep_over_15 += other.dep_over_15;
        self.arr_delay.merge(&other.arr_delay);
    }
}

/// A rejected record, for the operator to see what went wrong (in the job's summary).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedSample {
    /// Byte offset of the record's first byte in the file.
    pub offset: u64,
    pub reason: String,
    /// The record, cut to [`SAMPLE_CHARS`] characters.
    pub text: String,
}

/// The aggregate of a set of records (stored compactly: see `compact.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partial {
    pub groups: BTreeMap<GroupKey, GroupStats>,
    /// Every non-blank record seen, accepted or rejected.
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// The first [`MAX_SAMPLES`] rejected records by offset, in offset order.
    pub samples: Vec<RejectedSample>,
}

impl Partial {
    /// Adds one record given as its fields. Text of a rejected sample is the fields joined
    /// by commas; a record of one empty field is blank and skipped.
    pub fn add_record<F: AsRef<str>>(&mut self, columns: &Columns, fields: &[F], offset: u64) {
        if matches!(fields, [] | [_]) && fields.iter().all(|f| f.as_ref().is_empty()) {
            return;
        }
        self.add_fields(None, columns, fields, offset, || {
            Cow::Owned(fields.iter().map(AsRef::as_ref).collect::<Vec<&str>>().join(","))
        });
    }

    /// Adds one record given as its bytes (without its `\n`): the mapper's path, reusing
    /// `splitter`'s buffers. An empty record, or a lone `\r`, is blank and skipped, as
    /// DuckDB skips empty lines.
    pub fn add_line(&mut self, columns: &Columns, splitter: &mut FieldSplitter, record: &[u8], offset: u64) {
        self.add_line_to(None, columns, splitter, record, offset);
    }

    /// [`add_line`](Self::add_line), with the groups gathered in `index` until it is drained
    /// into this partial.
    pub(crate) fn add_line_indexed(
        &mut self,
        index: &mut GroupIndex,
        columns: &Columns,
        splitter: &mut FieldSplitter,
        record: &[u8],
        offset: u64,
    ) {
        self.add_line_to(Some(index), columns, splitter, record, offset);
    }

    fn add_line_to(
        &mut self,
        index: Option<&mut GroupIndex>,
        columns: &Columns,
        splitter: &mut FieldSplitter,
        record: &[u8],
        offset: u64,
    ) {
        if record.is_empty() || record == b"\r" {
            return;
        }
        match splitter.split(record) {
            Ok(fields) => self.add_fields(index, columns, &fields, offset, || record_text(record)),
            Err(_) => self.reject_with(Rejection::NotUtf8.as_str(), offset, || record_text(record)),
        }
    }

    fn add_fields<'t, L: FieldList + ?Sized>(
        &mut self,
        index: Option<&mut GroupIndex>,
        columns: &Columns,
        fields: &L,
        offset: u64,
        text: impl FnOnce() -> Cow<'t, str>,
    ) {
        let row = match Row::read(columns, fields) {
            Ok(row) => row,
            Err(reason) => return self.reject_with(reason.as_str(), offset, text),
        };
        self.rows_read += 1;
        match index {
            Some(index) => index.stats(row.carrier, row.origin, row.year, row.month).add(&row),
            // Looked up by the borrowed parts: only a new group allocates its key.
            None => match self.groups.get_mut(&(row.carrier, row.origin, row.year, row.month) as &dyn KeyView) {
                Some(stats) => stats.add(&row),
                None => {
                    let key = GroupKey {
                        carrier: row.carrier.to_owned(),
                        origin: row.origin.to_owned(),
                        year: row.year,
                        month: row.month,
                    };
                    self.groups.entry(key).or_default().add(&row);
                }
            },
        }
    }

    /// Counts one rejected record (it counts as read too) and keeps it as a sample if it
    /// is among the first by offset.
    pub fn reject(&mut self, reason: impl AsRef<str>, offset: u64, text: &str) {
        self.reject_with(reason.as_ref(), offset, || Cow::Borrowed(text));
    }

    fn reject_with<'t>(&mut self, reason: &str, offset: u64, text: impl FnOnce() -> Cow<'t, str>) {
        self.rows_read += 1;
        self.rows_rejected += 1;
        match self.rejected_by_reason.get_mut(reason) {
            Some(count) => *count += 1,
            None => {
                self.rejected_by_reason.insert(reason.to_owned(), 1);
            }
        }
        let kept = self.samples.len() < MAX_SAMPLES || self.samples.last().is_some_and(|last| offset < last.offset);
        if kept {
            let text = text().chars().take(SAMPLE_CHARS).collect();
            let at = self.samples.partition_point(|sample| sample.offset < offset);
            self.samples.insert(at, RejectedSample { offset, reason: reason.to_owned(), text });
            self.samples.truncate(MAX_SAMPLES);
        }
    }

    /// Adds `other`'s records to these.
    pub fn merge(&mut self, other: Partial) {
        for (key, stats) in other.groups {
            match self.groups.get_mut(&key) {
                Some(mine) => mine.merge(&stats),
                None => {
                    self.groups.insert(key, stats);
                }
            }
        }
        self.rows_read += other.rows_read;
        self.rows_rejected += other.rows_rejected;
        for (reason, count) in other.rejected_by_reason {
            *self.rejected_by_reason.entry(reason).or_default() += count;
        }
        self.samples.extend(other.samples);
        // Stable, so a merge of a partial with itself still keeps offset order.
        self.samples.sort_by_key(|sample| sample.offset);
        self.samples.truncate(MAX_SAMPLES);
    }
}

/// A record's text for a sample: a lossy decoding of no more bytes than the kept
/// characters can take (4 per character), so a huge record is not decoded whole.
pub(crate) fn record_text(record: &[u8]) -> Cow<'_, str> {
    let record = record.strip_suffix(b"\r").unwrap_or(record);
    String::from_utf8_lossy(&record[..record.len().min(SAMPLE_CHARS * 4)])
}

/// An accepted record's values.
struct Row<'a> {
    carrier: &'a str,
    origin: &'a str,
    year: i32,
    month: u8,
    cancelled: bool,
    dep_delay: Option<f64>,
    arr_delay: Option<f64>,
}

impl<'a> Row<'a> {
    /// Checks a record's fields in a fixed order, so it has one reason however it is wrong.
    fn read<L: FieldList + ?Sized>(columns: &Columns, fields: &'a L) -> Result<Row<'a>, Rejection> {
        if fields.count() != columns.count {
            return Err(Rejection::WrongFieldCount);
        }
        let year = parse_int(fields.field(columns.year)).and_then(|y| i32::try_from(y).ok()).ok_or(Rejection::Year)?;
        let month = parse_int(fields.field(columns.month))
            .filter(|m| (1..=12).contains(m))
            .and_then(|m| u8::try_from(m).ok())
            .ok_or(Rejection::Month)?;
        let carrier = fields.field(columns.carrier);
        if is_null(carrier) {
            return Err(Rejection::Carrier);
        }
        let origin = fields.field(columns.origin);
        if is_null(origin) {
            return Err(Rejection::Origin);
        }
        let dep_delay = read_delay(fields.field(columns.dep_delay)).ok_or(Rejection::DepDelay)?;
        let arr_delay = read_delay(fields.field(columns.arr_delay)).ok_or(Rejection::ArrDelay)?;
        let cancelled = is_null(fields.field(columns.dep_time));
        Ok(Row { carrier, origin, year, month, cancelled, dep_delay, arr_delay })
    }
}

/// `Some(None)` for a null, `None` for a value that is not a number.
fn read_delay(field: &str) -> Option<Option<f64>> {
    if is_null(field) { Some(None) } else { parse_number(field).map(Some) }
}

/// A record's fields, however they are held.
trait FieldList {
    fn count(&self) -> usize;
    /// The field at `index`, or "" (a null) past the end.
    fn field(&self, index: usize) -> &str;
}

impl<F: AsRef<str>> FieldList for [F] {
    fn count(&self) -> usize {
        self.len()
    }

    fn field(&self, index: usize) -> &str {
        self.get(index).map_or("", AsRef::as_ref)
    }
}

impl FieldList for Fields<'_> {
    fn count(&self) -> usize {
        self.len()
    }

    fn field(&self, index: usize) -> &str {
        self.get(index).unwrap_or("")
    }
}

/// A group key's parts, borrowed: lets the map be searched with a row's `&str`s.
pub trait KeyView {
    fn parts(&self) -> (&str, &str, i32, u8);
}

impl KeyView for GroupKey {
    fn parts(&self) -> (&str, &str, i32, u8) {
        (&self.carrier, &self.origin, self.year, self.month)
    }
}

impl KeyView for (&str, &str, i32, u8) {
    fn parts(&self) -> (&str, &str, i32, u8) {
        *self
    }
}

// The derived order of `GroupKey` compares its fields in this same order, as `Borrow` requires.
impl<'a> Borrow<dyn KeyView + 'a> for GroupKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyView + '_ {}

impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,\
                          carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour";

    fn columns() -> Columns {
        let names: Vec<String> = HEADER.split(',').map(str::to_owned).collect();
        Columns::from_header(&names).unwrap()
    }

    /// A record in the flights layout with the fields the report reads.
    fn line(year: &str, month: &str, dep_time: &str, dep: &str, arr: &str, carrier: &str, origin: &str) -> String {
        format!(
            "{year},{month},1,{dep_time},515,{dep},830,819,{arr},{carrier},1545,N14228,{origin},IAH,227,1400,5,15,x"
        )
    }

    fn partial_of(lines: &[String]) -> Partial {
        let (columns, mut splitter, mut partial) = (columns(), FieldSplitter::default(), Partial::default());
        for (i, line) in lines.iter().enumerate() {
            partial.add_line(&columns, &mut splitter, line.as_bytes(), i as u64 * 1000);
        }
        partial
    }

    fn key(carrier: &str, origin: &str, year: i32, month: u8) -> GroupKey {
        GroupKey { carrier: carrier.into(), origin: origin.into(), year, month }
    }

    #[test]
    fn stats_count_cancellations_nulls_late_departures_and_negative_maxima() {
        let partial = partial_of(&[
            line("2013", "1", "517", "2", "-11", "UA", "EWR"),
            line("2013", "1", "NA", "NA", "NA", "UA", "EWR"),
            line("2013", "1", "", "15", "-3", "UA", "EWR"),
            line("2013", "1", "600", "16", "", "UA", "EWR"),
            line("2013", "1", "601", "15.5", "NA", "UA", "EWR"),
        ]);
        let stats = partial.groups[&key("UA", "EWR", 2013, 1)];
        assert_eq!((stats.flights, stats.cancelled, stats.dep_over_15), (5, 2, 2));
        assert_eq!(stats.dep_delay, DelayStats { count: 4, sum: 48.5, max: Some(16.0) });
        assert_eq!(stats.arr_delay, DelayStats { count: 2, sum: -14.0, max: Some(-3.0) });
        assert_eq!((partial.rows_read, partial.rows_rejected), (5, 0));
    }

    #[test]
    fn a_group_with_only_null_delays_has_no_maximum() {
        let partial = partial_of(&[line("2013", "12", "NA", "NA", "NA", "AA", "JFK")]);
        let stats = partial.groups[&key("AA", "JFK", 2013, 12)];
        assert_eq!(stats.dep_delay, DelayStats::default());
        assert_eq!(stats.cancelled, 1);
    }

    #[test]
    fn each_kind_of_bad_record_is_rejected_under_its_reason() {
        let good = line("2013", "1", "1", "1", "1", "UA", "EWR");
        let lines = [
            "2013,1,2".to_owned(),
            line("2013.0", "1", "1", "1", "1", "UA", "EWR"),
            line("NA", "1", "1", "1", "1", "UA", "EWR"),
            line("2013", "13", "1", "1", "1", "UA", "EWR"),
            line("2013", "x", "1", "1", "1", "UA", "EWR"),
            line("2013", "1", "1", "1", "1", "NA", "EWR"),
            line("2013", "1", "1", "1", "1", "UA", ""),
            line("2013", "1", "1", "late", "1", "UA", "EWR"),
            line("2013", "1", "1", "1", "inf", "UA", "EWR"),
            good.clone(),
        ];
        let mut partial = partial_of(&lines);
        let mut splitter = FieldSplitter::default();
        partial.add_line(&columns(), &mut splitter, b"2013,\xFF", 20_000);
        partial.add_line(&columns(), &mut splitter, b"", 30_000);
        partial.add_line(&columns(), &mut splitter, b"\r", 40_000);

        let reasons: Vec<(&str, u64)> = partial.rejected_by_reason.iter().map(|(r, n)| (r.as_str(), *n)).collect();
        assert_eq!(
            reasons,
            [
                ("arr_delay is not a number of magnitude below 1e9", 1),
                ("carrier is missing", 1),
                ("dep_delay is not a number of magnitude below 1e9", 1),
                ("month is not 1-12", 2),
                ("not UTF-8", 1),
                ("origin is missing", 1),
                ("wrong number of fields", 1),
                ("year is not an integer", 2),
            ]
        );
        assert_eq!((partial.rows_read, partial.rows_rejected), (11, 10));
        assert_eq!(partial.groups.len(), 1);
        let offsets: Vec<u64> = partial.samples.iter().map(|s| s.offset).collect();
        assert_eq!(offsets, [0, 1000, 2000, 3000, 4000]);
        assert_eq!(partial.samples[0].text, "2013,1,2");
        assert_eq!(partial.samples[0].reason, "wrong number of fields");
    }

    #[test]
    fn samples_are_cut_and_the_first_by_offset_survive_any_merge_order() {
        let mut late = Partial::default();
        for offset in [50, 40, 30] {
            late.reject(Rejection::Carrier, offset, &"x".repeat(300));
        }
        let mut early = Partial::default();
        for offset in [20, 10, 60] {
            early.reject("custom", offset, "y");
        }
        assert_eq!(late.samples[0].text.chars().count(), SAMPLE_CHARS);

        let mut a = late.clone();
        a.merge(early.clone());
        let mut b = early;
        b.merge(late);
        assert_eq!(a, b);
        let offsets: Vec<u64> = a.samples.iter().map(|s| s.offset).collect();
        assert_eq!(offsets, [10, 20, 30, 40, 50]);
        assert_eq!(a.rows_rejected, 6);
    }

    #[test]
    fn merging_adds_counts_and_takes_maxima() {
        let first = partial_of(&[line("2013", "1", "1", "-5", "NA", "UA", "EWR")]);
        let second = partial_of(&[
            line("2013", "1", "1", "-7", "3", "UA", "EWR"),
            line("2013", "2", "1", "1", "1", "UA", "EWR"),
        ]);
        let mut merged = first.clone();
        merged.merge(second.clone());
        let stats = merged.groups[&key("UA", "EWR", 2013, 1)];
        assert_eq!(stats.dep_delay, DelayStats { count: 2, sum: -12.0, max: Some(-5.0) });
        assert_eq!(stats.arr_delay, DelayStats { count: 1, sum: 3.0, max: Some(3.0) });
        assert_eq!(merged.groups.len(), 2);
        assert_eq!(merged.rows_read, 3);

        let mut other_way = second;
        other_way.merge(first);
        assert_eq!(merged, other_way);
    }

    #[test]
    fn records_given_as_fields_are_read_the_same() {
        let text = line("2013", "1", "1", "20", "1", "UA", "EWR");
        let fields: Vec<&str> = text.split(',').collect();
        let mut partial = Partial::default();
        partial.add_record(&columns(), &fields, 0);
        partial.add_record(&columns(), &[""], 1);
        partial.add_record(&columns(), &fields[..3], 2);
        assert_eq!(partial.groups[&key("UA", "EWR", 2013, 1)].dep_over_15, 1);
        assert_eq!((partial.rows_read, partial.rows_rejected), (2, 1));
        assert_eq!(partial.samples[0].text, "2013,1,1");
    }
}
