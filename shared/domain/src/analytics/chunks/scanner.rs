//! The mapper's side: reading one chunk's records from a byte stream that starts just
//! before the chunk, under both hypotheses about the quote state there (module docs).
//!
//! One pass serves both hypotheses: every `"` toggles both quote states, so the odd one is
//! always the even one's opposite, and each `\n` ends a record under exactly one of them.

use crate::analytics::csv::FieldSplitter;
use crate::analytics::report::{Columns, GroupIndex, Partial, Rejection, record_text};

use super::combine::ChunkPartials;
use super::plan::Chunk;
use super::search::find_quote_or_newline;

/// Records longer than this are rejected unread, as DuckDB's default `max_line_size`
/// refuses them. It also bounds a mapper's memory and how far past its chunk it reads,
/// since under the wrong hypothesis a "record" may run from one quoted newline to the next.
pub const MAX_RECORD_BYTES: usize = 2 * 1024 * 1024;

/// Reads the records one chunk owns from the bytes fed to it (from [`read_from`] on).
///
/// [`read_from`]: ChunkScanner::read_from
#[derive(Debug)]
pub struct ChunkScanner {
    columns: Columns,
    splitter: FieldSplitter,
    read_from: u64,
    /// The chunk's end, b(i+1): records starting from here on belong to the next chunk.
    end: u64,
    /// The next chunk's window start, w(i+1): quotes before it count toward the parity.
    parity_end: u64,
    /// Offset of the next byte to be fed.
    pos: u64,
    quote_parity: bool,
    /// Quote state at `pos` under the even hypothesis.
    in_quotes: bool,
    even: Track,
    odd: Option<Track>,
    max_record: usize,
}

/// One hypothesis: where it is in the record structure, and what it has read.
#[derive(Debug)]
struct Track {
    phase: Phase,
    /// Bytes of the owned record in progress that came in earlier feeds.
    carry: Vec<u8>,
    partial: Partial,
    /// The partial's groups, until the chunk is done.
    index: GroupIndex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In a record that began before the chunk: scanned, never kept.
    Seeking,
    /// In an owned record starting at `start`; one found too long is no longer kept.
    Owned { start: u64, too_long: bool },
    /// Past the chunk's last owned record.
    Done,
}

impl ChunkScanner {
    /// A scanner for `chunk` of a file of `size` bytes, as planned by [`plan`](super::plan).
    pub fn new(columns: Columns, chunk: &Chunk, size: u64) -> Self {
        Self::with_max_record(columns, chunk, size, MAX_RECORD_BYTES)
    }

    fn with_max_record(columns: Columns, chunk: &Chunk, size: u64, max_record: usize) -> Self {
        let end = chunk.end.min(size);
        let first = chunk.index == 0;
        // A later chunk must see the byte before it to know whether a record starts at it.
        let read_from = if first { chunk.start } else { chunk.start.saturating_sub(1) };
        let (even, odd) = if chunk.start >= end {
            (Phase::Done, Phase::Done)
        } else if first {
            // The data start is a record start, outside quotes.
            (Phase::Owned { start: chunk.start, too_long: false }, Phase::Done)
        } else {
            (Phase::Seeking, Phase::Seeking)
        };
        ChunkScanner {
            columns,
            splitter: FieldSplitter::default(),
            read_from,
            end,
            parity_end: end.saturating_sub(1),
            pos: read_from,
            quote_parity: false,
            in_quotes: false,
            even: Track::new(even),
            odd: (!first).then(|| Track::new(odd)),
            max_record,
        }
    }

    /// The most groups either hypothesis has gathered so far: a mapper bounds its memory
    /// and its partial result by it (a column of millions of distinct values).
    pub fn groups(&self) -> usize {
        let odd = self.odd.as_ref().map_or(0, |t| t.index.len() + t.partial.groups.len());
        (self.even.index.len() + self.even.partial.groups.len()).max(odd)
    }

    /// Where the bytes fed must start: the chunk's start, or the byte before it.
    pub fn read_from(&self) -> u64 {
        self.read_from
    }

    /// Reads the next bytes of the file; true while more are needed. Once it returns
    /// false, further bytes are ignored.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        let mut rest = bytes;
        while !rest.is_empty() && !self.is_done() {
            // Pause at the chunk's end: a hypothesis not in an owned record is done there.
            let before_end = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
            let take = if before_end == 0 { rest.len() } else { rest.len().min(before_end) };
            let (now, later) = rest.split_at(take);
            self.scan(now);
            rest = later;
            if self.pos >= self.end {
                self.even.reach_end();
                if let Some(odd) = &mut self.odd {
                    odd.reach_end();
                }
            }
        }
        !self.is_done()
    }

    /// The partials, at the end of the file or once [`feed`](Self::feed) returned false. A
    /// record still in progress ends here: the file's last record, without a line end.
    pub fn finish(mut self) -> ChunkPartials {
        let (columns, splitter, max_record) = (&self.columns, &mut self.splitter, self.max_record);
        for track in [Some(&mut self.even), self.odd.as_mut()].into_iter().flatten() {
            if let Phase::Owned { start, too_long: false } = track.phase {
                let reader = Reader { columns, splitter: &mut *splitter, max: max_record };
                track.take(reader, None, start);
            }
            track.index.drain_into(&mut track.partial.groups);
        }
        ChunkPartials { quote_parity: self.quote_parity, even: self.even.partial, odd: self.odd.map(|t| t.partial) }
    }

    fn is_done(&self) -> bool {
        self.even.phase == Phase::Done && self.odd.as_ref().is_none_or(|odd| odd.phase == Phase::Done)
    }

    /// Scans bytes that all lie before `end`, or all from `end` on.
    fn scan(&mut self, now: &[u8]) {
        let base = self.pos;
        let mut i = 0;
        while let Some(found) = find_quote_or_newline(&now[i..]) {
            let at = i + found;
            let offset = base + at as u64;
            if now[at] == b'"' {
                self.in_quotes = !self.in_quotes;
                if offset < self.parity_end {
                    self.quote_parity = !self.quote_parity;
                }
            } else {
                let track = if self.in_quotes { self.odd.as_mut() } else { Some(&mut self.even) };
                if let Some(track) = track {
                    let reader = Reader { columns: &self.columns, splitter: &mut self.splitter, max: self.max_record };
                    track.newline(offset, now, base, self.end, reader);
                    if self.is_done() {
                        self.pos = offset + 1;
                        return;
                    }
                }
            }
            i = at + 1;
        }
        self.pos = base + now.len() as u64;
        for track in [Some(&mut self.even), self.odd.as_mut()].into_iter().flatten() {
            track.keep_tail(now, base, self.max_record);
        }
    }
}

/// What reading a record needs, besides the partial it goes to.
struct Reader<'a> {
    columns: &'a Columns,
    splitter: &'a mut FieldSplitter,
    max: usize,
}

impl Track {
    fn new(phase: Phase) -> Self {
        Track { phase, carry: Vec::new(), partial: Partial::default(), index: GroupIndex::default() }
    }

    /// A `\n` outside quotes at `offset` (in `now`, which starts at `base`): the record in
    /// progress ends, and the next starts after it.
    fn newline(&mut self, offset: u64, now: &[u8], base: u64, end: u64, reader: Reader<'_>) {
        match self.phase {
            Phase::Done => return,
            Phase::Seeking | Phase::Owned { too_long: true, .. } => {}
            Phase::Owned { start, too_long: false } => {
                let until = (offset - base) as usize;
                if start >= base {
                    // The whole record is in this feed: read it in place.
                    self.take(reader, Some(&now[(start - base) as usize..until]), start);
                } else {
                    self.carry.extend_from_slice(&now[..until]);
                    self.take(reader, None, start);
                    self.carry.clear();
                }
            }
        }
        let next = offset + 1;
        self.phase = if next < end { Phase::Owned { start: next, too_long: false } } else { Phase::Done };
    }

    /// Keeps the owned record in progress at the end of a feed, until it outgrows `max`.
    fn keep_tail(&mut self, now: &[u8], base: u64, max: usize) {
        if let Phase::Owned { start, too_long: false } = self.phase {
            self.carry.extend_from_slice(&now[start.saturating_sub(base) as usize..]);
            if self.carry.len() > max {
                self.partial.reject(Rejection::TooLong, start, &record_text(&self.carry));
                self.carry = Vec::new();
                self.phase = Phase::Owned { start, too_long: true };
            }
        }
    }

    /// Reads the owned record starting at `start`: `record`, or else the carried bytes.
    fn take(&mut self, reader: Reader<'_>, record: Option<&[u8]>, start: u64) {
        let Track { carry, partial, index, .. } = self;
        let record = record.unwrap_or(carry);
        if record.len() > reader.max {
            partial.reject(Rejection::TooLong, start, &record_text(record));
        } else {
            partial.add_line_indexed(index, reader.columns, reader.splitter, record, start);
        }
    }

    /// At the chunk's end, a hypothesis not in an owned record it still has to read is done.
    fn reach_end(&mut self) {
        if matches!(self.phase, Phase::Seeking | Phase::Owned { too_long: true, .. }) {
            self.phase = Phase::Done;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Columns {
        Columns { year: 0, month: 1, dep_time: 2, dep_delay: 3, arr_delay: 4, carrier: 5, origin: 6, count: 7 }
    }

    /// Scans `chunk` of `file` fed `piece` bytes at a time; returns the partials and how
    /// far it read.
    fn scan(file: &[u8], chunk: &Chunk, piece: usize, max_record: usize) -> (ChunkPartials, u64) {
        let mut scanner = ChunkScanner::with_max_record(columns(), chunk, file.len() as u64, max_record);
        let mut pos = scanner.read_from() as usize;
        while pos < file.len() {
            let next = (pos + piece).min(file.len());
            let more = scanner.feed(&file[pos..next]);
            pos = next;
            if !more {
                break;
            }
        }
        (scanner.finish(), pos as u64)
    }

    fn body(rows: usize) -> Vec<u8> {
        (0..rows).map(|i| format!("2013,1,5{i:02},{i},-1,UA,EWR\n")).collect::<String>().into_bytes()
    }

    #[test]
    fn a_middle_chunk_reads_only_a_record_past_its_end_under_either_hypothesis() {
        let file = body(100);
        let chunk = Chunk { index: 3, start: 300, end: 400 };
        let (partials, read) = scan(&file, &chunk, 7, MAX_RECORD_BYTES);
        // No quotes: the odd hypothesis sees no record start, and stops at the chunk's end.
        assert!(read < 400 + 7 + 30, "read to {read}");
        assert_eq!(partials.odd.as_ref().map(|p| p.rows_read), Some(0));
        assert!(!partials.quote_parity);
        assert!(partials.even.rows_read >= 3);
    }

    #[test]
    fn a_record_at_the_chunk_start_is_owned_only_after_a_newline_before_it() {
        let file = b"2013,1,1,1,1,UA,EWR\n2013,1,1,1,1,AA,JFK\n";
        let at_start = scan(file, &Chunk { index: 1, start: 20, end: 21 }, 1, MAX_RECORD_BYTES).0;
        assert_eq!(at_start.even.rows_read, 1);
        let inside = scan(file, &Chunk { index: 1, start: 21, end: 40 }, 1, MAX_RECORD_BYTES).0;
        assert_eq!(inside.even.rows_read, 0);
    }

    #[test]
    fn a_record_too_long_is_rejected_once_and_its_chunk_stops_at_its_end() {
        let mut file = b"2013,1,1,1,1,UA,EWR\n2013,1,1,1,1,".to_vec();
        file.extend(std::iter::repeat_n(b'x', 100));
        file.extend(b",EWR\n2013,1,1,1,1,AA,JFK\n");
        let chunk = Chunk { index: 0, start: 0, end: 30 };
        for piece in [1, 5, 1000] {
            let (partials, read) = scan(&file, &chunk, piece, 50);
            assert_eq!(partials.even.rows_rejected, 1, "piece {piece}");
            assert_eq!(partials.even.rejected_by_reason.get("record is too long"), Some(&1));
            assert_eq!(partials.even.samples[0].offset, 20);
            assert_eq!(partials.even.rows_read, 2);
            assert!(read <= 30 + 50 + piece as u64, "read to {read}");
        }
    }

    #[test]
    fn a_chunk_beyond_the_data_reads_nothing() {
        let mut scanner = ChunkScanner::new(columns(), &Chunk { index: 2, start: 10, end: 10 }, 10);
        assert!(!scanner.feed(b"x"));
        let partials = scanner.finish();
        assert_eq!(partials.even, Partial::default());
    }
}
