//! RFC 4180 syntax: splitting one record into fields, and reading the header record.
//!
//! Quote state toggles on every `"` byte, the same rule the chunk scanner uses to find
//! record ends, so a record is split exactly where it was delimited. Two lenient readings,
//! where RFC 4180 would call the input malformed: a quote inside an unquoted field (`ab"c`)
//! is a literal character, and so is a lone quote inside a quoted field (`"a"b"`); only a
//! field that both starts and ends with `"` is unquoted, with `""` read as `"`.

use thiserror::Error;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a record could not be split into fields.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldError {
    #[error("record is not UTF-8")]
    NotUtf8,
}

/// Why the header record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("the file is empty")]
    Empty,
    /// No record end in the bytes read: the header is longer than the splitter reads.
    #[error("the header record does not end within the bytes read")]
    TooLong,
    #[error("header: {0}")]
    Field(#[from] FieldError),
}

/// The column names and where the data records begin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub names: Vec<String>,
    /// Byte offset of the first data record: just past the header's line end (BOM included).
    pub data_start: u64,
}

/// Reads the header, the first record of the file, from the file's first bytes.
///
/// `is_whole_file` says `prefix` is all of the file: a header without a line end is then
/// complete (a header-only file), where in a longer file it means the prefix was too short.
pub fn read_header(prefix: &[u8], is_whole_file: bool) -> Result<Header, HeaderError> {
    if prefix.is_empty() {
        return Err(HeaderError::Empty);
    }
    let (record, data_start) = match first_record_end(prefix) {
        Some(newline) => (&prefix[..newline], newline + 1),
        None if is_whole_file => (prefix, prefix.len()),
        None => return Err(HeaderError::TooLong),
    };
    let record = record.strip_prefix(BOM).unwrap_or(record);
    let names = split_fields(record)?;
    Ok(Header { names, data_start: data_start as u64 })
}

/// The offset of the first `\n` outside quotes.
fn first_record_end(bytes: &[u8]) -> Option<usize> {
    let mut in_quotes = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => return Some(i),
            _ => {}
        }
    }
    None
}

/// Splits one record (without its `\n`; a trailing `\r` outside quotes is dropped here)
/// into its unquoted fields.
pub fn split_fields(record: &[u8]) -> Result<Vec<String>, FieldError> {
    let mut splitter = FieldSplitter::default();
    let fields = splitter.split(record)?;
    Ok(fields.iter().map(str::to_owned).collect())
}

/// Splits records into fields, reusing its buffers from one record to the next so the
/// mapper's hot path does not allocate per field (or, once warm, per record).
#[derive(Debug, Default)]
pub struct FieldSplitter {
    spans: Vec<Span>,
    /// The unescaped text of quoted fields that contained `""`; other fields borrow the record.
    unescaped: String,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    /// Into `unescaped` rather than the record.
    unescaped: bool,
}

/// The fields of one record, borrowed from the record and the splitter.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    record: &'a str,
    unescaped: &'a str,
    spans: &'a [Span],
}

impl<'a> Fields<'a> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&'a str> {
        self.spans.get(index).map(|span| self.text(*span))
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.spans.iter().map(|span| self.text(*span))
    }

    fn text(&self, span: Span) -> &'a str {
        // Span ends sit at ASCII bytes (`,`, `"`, `\r`) or the ends of whole strings, so
        // they are always char boundaries.
        if span.unescaped { &self.unescaped[span.start..span.end] } else { &self.record[span.start..span.end] }
    }
}

impl FieldSplitter {
    /// Splits `record` (see [`split_fields`]); the fields borrow from both.
    pub fn split<'a>(&'a mut self, record: &'a [u8]) -> Result<Fields<'a>, FieldError> {
        let record = std::str::from_utf8(record).map_err(|_| FieldError::NotUtf8)?;
        self.spans.clear();
        self.unescaped.clear();
        let bytes = record.as_bytes();
        if bytes.contains(&b'"') {
            // An odd count leaves the end inside quotes, where a `\r` is data.
            let quotes = bytes.iter().filter(|&&b| b == b'"').count();
            let len = match bytes.last() {
                Some(b'\r') if quotes % 2 == 0 => bytes.len() - 1,
                _ => bytes.len(),
            };
            self.split_quoted(record, len);
        } else {
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            self.spans.extend(PlainSpans { bytes, start: 0, done: false });
        }
        Ok(Fields { record, unescaped: &self.unescaped, spans: &self.spans })
    }

    fn split_quoted(&mut self, record: &str, len: usize) {
        let bytes = &record.as_bytes()[..len];
        let mut in_quotes = false;
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'"' => in_quotes = !in_quotes,
                b',' if !in_quotes => {
                    self.push_field(record, start, i);
                    start = i + 1;
                }
                _ => {}
            }
        }
        self.push_field(record, start, len);
    }

    fn push_field(&mut self, record: &str, start: usize, end: usize) {
        let raw = &record.as_bytes()[start..end];
        let quoted = raw.len() >= 2 && raw[0] == b'"' && raw[raw.len() - 1] == b'"';
        if !quoted {
            self.spans.push(Span { start, end, unescaped: false });
            return;
        }
        let inner = &record[start + 1..end - 1];
        if !inner.contains("\"\"") {
            self.spans.push(Span { start: start + 1, end: end - 1, unescaped: false });
            return;
        }
        let from = self.unescaped.len();
        for (i, piece) in inner.split("\"\"").enumerate() {
            if i > 0 {
                self.unescaped.push('"');
            }
            self.unescaped.push_str(piece);
        }
        self.spans.push(Span { start: from, end: self.unescaped.len(), unescaped: true });
    }
}

/// The fields of a record without quotes, where every comma separates. An iterator, so
/// `Vec::extend` runs the loop: even the size-optimised build then does not call `push`
/// per field.
struct PlainSpans<'a> {
    bytes: &'a [u8],
    start: usize,
    done: bool,
}

impl Iterator for PlainSpans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.done {
            return None;
        }
        let start = self.start;
        let end = match self.bytes[start..].iter().position(|&b| b == b',') {
            Some(comma) => start + comma,
            None => {
                self.done = true;
                self.bytes.len()
            }
        };
        self.start = end + 1;
        Some(Span { start, end, unescaped: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(record: &str) -> Vec<String> {
        split_fields(record.as_bytes()).unwrap()
    }

    #[test]
    fn plain_fields_split_on_commas() {
        assert_eq!(split("a,b,,c"), ["a", "b", "", "c"]);
        assert_eq!(split(""), [""]);
        assert_eq!(split(","), ["", ""]);
    }

    #[test]
    fn quoted_fields_keep_commas_newlines_and_escaped_quotes() {
        assert_eq!(split(r#""a,b",c"#), ["a,b", "c"]);
        assert_eq!(split("\"line\nbreak\",x"), ["line\nbreak", "x"]);
        assert_eq!(split(r#""say ""hi""","""""#), [r#"say "hi""#, r#"""#]);
        assert_eq!(split(r#""",x"#), ["", "x"]);
    }

    #[test]
    fn a_crlf_line_end_is_dropped_but_a_quoted_cr_is_data() {
        assert_eq!(split("a,b\r"), ["a", "b"]);
        assert_eq!(split("a,\"b\"\r"), ["a", "b"]);
        assert_eq!(split("a,\"b\r"), ["a", "\"b\r"]);
        assert_eq!(split("\"a\r\",b"), ["a\r", "b"]);
        assert_eq!(split("\r"), [""]);
    }

    #[test]
    fn stray_quotes_are_read_leniently_as_literals() {
        assert_eq!(split(r#"ab"c,d"#), [r#"ab"c,d"#]);
        assert_eq!(split(r#"ab"c",d"#), [r#"ab"c""#, "d"]);
        assert_eq!(split(r#""a"b"c",d"#), [r#"a"b"c"#, "d"]);
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert_eq!(split_fields(b"a,\xFF"), Err(FieldError::NotUtf8));
        assert_eq!(split("é,ü"), ["é", "ü"]);
    }

    #[test]
    fn the_splitter_reuses_its_buffers_across_records() {
        let mut splitter = FieldSplitter::default();
        let first: Vec<String> = splitter.split(br#""a""b",c"#).unwrap().iter().map(String::from).collect();
        let second = splitter.split(b"d,e,f").unwrap();
        assert_eq!(first, [r#"a"b"#, "c"]);
        assert_eq!(second.len(), 3);
        assert_eq!(second.get(2), Some("f"));
        assert_eq!(second.get(3), None);
    }

    #[test]
    fn the_header_is_the_first_record_and_data_starts_after_its_line_end() {
        let header = read_header(b"year,\"a\nb\",c\r\n1,2,3\n", false).unwrap();
        assert_eq!(header.names, ["year", "a\nb", "c"]);
        assert_eq!(header.data_start, 14);
    }

    #[test]
    fn a_bom_is_stripped_from_the_first_name_but_counted_in_data_start() {
        let header = read_header(b"\xEF\xBB\xBFyear,month\n2013,1\n", false).unwrap();
        assert_eq!(header.names, ["year", "month"]);
        assert_eq!(header.data_start, 14);
    }

    #[test]
    fn header_edge_cases() {
        assert_eq!(read_header(b"", true), Err(HeaderError::Empty));
        assert_eq!(read_header(b"year,month", false), Err(HeaderError::TooLong));
        assert_eq!(read_header(b"year,\"mo\nnth", false), Err(HeaderError::TooLong));
        let whole = read_header(b"year,month", true).unwrap();
        assert_eq!((whole.names, whole.data_start), (vec!["year".to_owned(), "month".to_owned()], 10));
        assert_eq!(read_header(b"\xFF\n", false), Err(HeaderError::Field(FieldError::NotUtf8)));
    }
}
