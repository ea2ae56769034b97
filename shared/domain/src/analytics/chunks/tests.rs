//! The whole pipeline (header, plan, a scanner per chunk, combine) against a single pass
//! over the file: any chunking, fed in any pieces, gives the same partial.

use proptest::prelude::*;

use super::*;
use crate::analytics::csv::{FieldSplitter, read_header};
use crate::analytics::report::{Columns, GroupKey, Partial};

const HEADER: &str = "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,\
                      carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour";

/// Plans `file` in chunks of `chunk_bytes` and reads each with its own scanner, fed from
/// `read_from` in pieces of the sizes in `pieces` (cycled) until it needs no more.
fn chunked(file: &[u8], chunk_bytes: u64, pieces: &[usize]) -> Partial {
    let header = read_header(file, true).unwrap();
    let columns = Columns::from_header(&header.names).unwrap();
    let size = file.len() as u64;
    let partials = plan(size, header.data_start, chunk_bytes, u32::MAX).into_iter().map(|chunk| {
        let mut scanner = ChunkScanner::new(columns.clone(), &chunk, size);
        let mut pos = scanner.read_from() as usize;
        for &piece in pieces.iter().cycle() {
            let next = (pos + piece).min(file.len());
            if pos == next || !scanner.feed(&file[pos..next]) {
                break;
            }
            pos = next;
        }
        scanner.finish()
    });
    combine(partials).unwrap()
}

/// An independent single pass: records cut at each `\n` outside quotes.
fn single_pass(file: &[u8]) -> Partial {
    let header = read_header(file, true).unwrap();
    let columns = Columns::from_header(&header.names).unwrap();
    let (mut partial, mut splitter) = (Partial::default(), FieldSplitter::default());
    let data_start = header.data_start as usize;
    let mut start = data_start;
    let mut in_quotes = false;
    for (i, &byte) in file.iter().enumerate().skip(data_start) {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                partial.add_line(&columns, &mut splitter, &file[start..i], start as u64);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < file.len() {
        partial.add_line(&columns, &mut splitter, &file[start..], start as u64);
    }
    partial
}

fn record(fields: [&str; 7]) -> String {
    let [year, month, dep_time, dep_delay, arr_delay, carrier, origin] = fields;
    format!(
        "{year},{month},1,{dep_time},515,{dep_delay},830,819,{arr_delay},{carrier},1545,N14228,{origin},IAH,\
         227,1400,5,15,2013-01-01 05:00:00"
    )
}

fn key(carrier: &str, origin: &str, year: i32, month: u8) -> GroupKey {
    GroupKey { carrier: carrier.into(), origin: origin.into(), year, month }
}

#[test]
fn chunks_of_one_byte_find_records_around_quoted_newlines() {
    let file = format!(
        "{HEADER}\r\n{}\r\n{}\n{}\n",
        record(["2013", "1", "517", "2", "11", "\"U\nA\"", "EWR"]),
        record(["2013", "1", "NA", "NA", "NA", "\"U\nA\"", "EWR"]),
        record(["2013", "1", "600", "30", "-5", "\"U\"\"A,\r\n\"", "\"EWR\""]),
    );
    let whole = single_pass(file.as_bytes());
    assert_eq!(whole.rows_read, 3);
    assert_eq!(whole.groups[&key("U\nA", "EWR", 2013, 1)].flights, 2);
    assert_eq!(whole.groups[&key("U\nA", "EWR", 2013, 1)].cancelled, 1);
    assert_eq!(whole.groups[&key("U\"A,\r\n", "EWR", 2013, 1)].dep_over_15, 1);
    for pieces in [[1], [3], [1000]] {
        assert_eq!(chunked(file.as_bytes(), 1, &pieces), whole);
        assert_eq!(chunked(file.as_bytes(), 7, &pieces), whole);
    }
}

#[test]
fn a_header_only_file_has_no_chunks_and_an_empty_partial() {
    for file in [format!("{HEADER}\n"), HEADER.to_owned(), format!("{HEADER}\r\n")] {
        let header = read_header(file.as_bytes(), true).unwrap();
        assert!(plan(file.len() as u64, header.data_start, 1, 10).is_empty());
        assert_eq!(chunked(file.as_bytes(), 1, &[1]), Partial::default());
    }
}

#[test]
fn the_last_record_needs_no_line_end() {
    let file = format!(
        "{HEADER}\n{}\n{}",
        record(["2013", "2", "1", "1", "1", "UA", "EWR"]),
        record(["2013", "2", "1", "1", "1", "UA", "\"J\nFK\""])
    );
    let whole = chunked(file.as_bytes(), u64::MAX, &[4096]);
    assert_eq!(whole.rows_read, 2);
    assert_eq!(whole.groups[&key("UA", "J\nFK", 2013, 2)].flights, 1);
    assert_eq!(whole, single_pass(file.as_bytes()));
    for chunk_bytes in [1, 2, 50, 200] {
        assert_eq!(chunked(file.as_bytes(), chunk_bytes, &[1, 5]), whole, "{chunk_bytes}");
    }
}

/// A field's text, quoted when it must be (and sometimes when it need not be).
fn field(text: &str, quote: bool) -> String {
    if quote || text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(values).prop_map(str::to_owned)
}

fn delay() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (-30i32..90).prop_map(|d| d.to_string()),
        3 => one_of(&["NA", "", "2.5", "-0.25", "15", "16"]),
        1 => one_of(&["late", "inf"]),
    ]
}

/// A record's fields in the flights layout, quoted as written.
fn row() -> impl Strategy<Value = Vec<String>> {
    (
        prop_oneof![8 => Just("2013".to_owned()), 1 => one_of(&["2014", "NA", "20x3"])],
        prop_oneof![8 => (1u8..=12).prop_map(|m| m.to_string()), 1 => one_of(&["13", "NA"])],
        one_of(&["517", "NA", "", "5\n17"]),
        delay(),
        delay(),
        one_of(&["UA", "AA", "B6", "A,A", "Q\"Q", "N\nL", "C\r\nR", "NA", ""]),
        one_of(&["EWR", "JFK", "L,\"GA\"", "\nLGA\n"]),
        one_of(&["N14228", "N,1", "\"q\"", "x\ny", "a\"\"b"]),
        proptest::collection::vec(any::<bool>(), 19),
    )
        .prop_map(|(year, month, dep_time, dep, arr, carrier, origin, tailnum, quote)| {
            let values = [
                year.as_str(),
                &month,
                "1",
                &dep_time,
                "515",
                &dep,
                "830",
                "819",
                &arr,
                &carrier,
                "1545",
                &tailnum,
                &origin,
                "IAH",
                "227",
                "1400",
                "5",
                "15",
                "2013-01-01 05:00:00",
            ];
            values.iter().zip(quote).map(|(value, quote)| field(value, quote)).collect()
        })
}

/// One line of a file: a record, sometimes malformed, or blank.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => row().prop_map(|fields| fields.join(",")),
        1 => row().prop_map(|fields| fields[..fields.len() - 2].join(",")),
        1 => row().prop_map(|fields| format!("{},extra", fields.join(","))),
        1 => row().prop_map(|mut fields| {
            // A stray quote: the rest of the file, to the next quote, is one field.
            fields[10] = "15\"45".to_owned();
            fields.join(",")
        }),
        1 => Just(String::new()),
    ]
}

fn file() -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec((line(), any::<bool>()), 0..14), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(lines, crlf_header, bom, final_newline)| {
            let mut file = String::new();
            if bom {
                file.push('\u{FEFF}');
            }
            file.push_str(HEADER);
            file.push_str(if crlf_header { "\r\n" } else { "\n" });
            let count = lines.len();
            for (i, (line, crlf)) in lines.into_iter().enumerate() {
                file.push_str(&line);
                if i + 1 < count || final_newline {
                    file.push_str(if crlf { "\r\n" } else { "\n" });
                }
            }
            file.into_bytes()
        },
    )
}

proptest! {
    #[test]
    fn any_chunking_fed_in_any_pieces_reads_the_whole_file_once(
        file in file(),
        chunk_seed in any::<u64>(),
        pieces in proptest::collection::vec(1usize..=16, 1..4),
    ) {
        let whole = chunked(&file, u64::MAX, &[file.len().max(1)]);
        prop_assert_eq!(&whole, &single_pass(&file));
        let chunk_bytes = 1 + chunk_seed % (file.len() as u64 + 1);
        prop_assert_eq!(&chunked(&file, chunk_bytes, &pieces), &whole, "chunks of {}", chunk_bytes);
        prop_assert_eq!(&chunked(&file, 1, &pieces), &whole, "chunks of 1");
    }
}
