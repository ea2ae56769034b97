//! `archiving`: what archiving an expired item and rolling it up cost, in process: the
//! archiver's work per stream batch (each old image to a JSON Lines row, the run
//! gzip-compressed as its object) and the roll-up's per row (each line parsed and
//! counted), on alert items shaped as the alerts table writes them. Prints rows per
//! second, bytes per row raw and compressed, and the estimated AWS cost per million
//! archived alerts; asserts nothing.
//!
//! Options:
//!   --rows N      rows per batch (default 5000: about the 6 MB a stream batch may hold)
//!   --batches N   batches measured (default 20)

use std::io::Write;
use std::time::Instant;

use domain::archive::{ArchiveRow, ArchivedTable, DailyReport, RollupDay};
use serde_json::{Value, json};

/// Lambda arm64 price per GB-second, and the archiver's memory (GB), which buys it
/// 128/1769 of a core (Lambda gives a full vCPU at 1,769 MB); a Graviton core assumed as
/// fast as this machine's.
const GB_SECOND: f64 = 0.0000133334;
const ARCHIVER_GB: f64 = 0.125;
const CPU_SHARE: f64 = 128.0 / 1769.0;
const REQUEST: f64 = 0.20 / 1e6;
/// S3 PUT / GET per request; an S3 write of a few hundred KB, assumed (no AWS account here).
const S3_PUT: f64 = 0.005 / 1000.0;
const S3_PUT_SECONDS: f64 = 0.05;

/// Pseudo-random hex digits (SplitMix64), so ids compress as badly as real UUIDs do.
fn hex(seed: u64, digits: usize) -> String {
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut out = String::new();
    while out.len() < digits {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    out.truncate(digits);
    out
}

fn image(i: usize) -> Value {
    let r = hex(i as u64, 28);
    let id = format!("0193{}-{}-7{}-8{}-{}", &r[..4], &r[4..8], &r[8..11], &r[11..14], &r[14..26]);
    let kinds = ["delay", "gateChange", "cancellation"];
    json!({
        "pk": {"S": format!("FLIGHT#UA{}-2026-11-24", 1 + i % 3000)}, "sk": {"S": format!("ALERT#{id}")},
        "alertId": {"S": id}, "flightId": {"S": format!("UA{}-2026-11-24", 1 + i % 3000)},
        "type": {"S": kinds[i % 3]}, "reason": {"S": "Snow at origin"},
        "message": {"S": format!("UA{} SFO-JFK 24 Nov: delayed 90 min, now departs 09:30. Reason: Snow at origin", 1 + i % 3000)},
        "issuedAt": {"S": "2026-11-24T10:00:00.123Z"}, "correlationId": {"S": hex(i as u64 + (1 << 40), 32)},
        "expiresAt": {"N": (1_766_570_400 + i).to_string()}, "minutes": {"N": "90"},
        "newDeparture": {"S": "2026-11-24T17:30:00Z"}, "carrier": {"S": "UA"}, "origin": {"S": "SFO"}, "destination": {"S": "JFK"}
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn main() {
    let mut rows = 5000usize;
    let mut batches = 20usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<usize>().ok()).filter(|v| *v > 0);
        match (arg.as_str(), value) {
            ("--rows", Some(v)) => rows = v,
            ("--batches", Some(v)) => batches = v,
            _ => {
                eprintln!("usage: archiving [--rows N] [--batches N]");
                std::process::exit(2);
            }
        }
    }
    let images: Vec<Value> = (0..rows).map(image).collect();

    let (mut archive_seconds, mut raw, mut packed) = (0.0, 0usize, 0usize);
    let mut objects = Vec::new();
    for batch in 0..batches {
        let started = Instant::now();
        let mut lines = String::new();
        for (i, old) in images.iter().enumerate() {
            let row = ArchiveRow::new(
                ArchivedTable::Alerts,
                &format!("{}", 1_000_000 * batch + i),
                "2026-12-24T10:00:00Z".into(),
                old,
            )
            .expect("bench images are valid");
            lines.push_str(&row.to_line());
        }
        let object = gzip(lines.as_bytes());
        archive_seconds += started.elapsed().as_secs_f64();
        raw += lines.len();
        packed += object.len();
        objects.push(lines);
    }
    let total = (rows * batches) as f64;

    let started = Instant::now();
    let mut report = DailyReport::default();
    for lines in &objects {
        for line in lines.lines() {
            let row: Value = serde_json::from_str(line).expect("the bench's own lines");
            report.add(ArchivedTable::Alerts, &row).expect("rows with sequence numbers");
        }
    }
    let bytes = report.to_json(RollupDay(time::macros::date!(2026 - 12 - 24)));
    let rollup_seconds = started.elapsed().as_secs_f64();

    let per_batch = archive_seconds / batches as f64;
    let batches_per_million = 1e6 / rows as f64;
    let archiver_cost =
        batches_per_million * (REQUEST + S3_PUT + (per_batch / CPU_SHARE + S3_PUT_SECONDS) * ARCHIVER_GB * GB_SECOND);
    println!("archiver: {rows} rows per batch, {batches} batches");
    println!(
        "  {:.0} rows/s on one core ({:.1} ms per batch; {:.0} ms at 128 MB's share of a core)",
        total / archive_seconds,
        per_batch * 1e3,
        per_batch / CPU_SHARE * 1e3
    );
    println!(
        "  {:.0} bytes per row as JSON, {:.1} gzip-compressed ({:.1}×); an object of {:.0} KB",
        raw as f64 / total,
        packed as f64 / total,
        raw as f64 / packed as f64,
        packed as f64 / batches as f64 / 1e3
    );
    println!("  about {:.1} million alerts per compressed GB", 1e9 / (packed as f64 / total) / 1e6);
    println!(
        "  ${archiver_cost:.4} per million alerts archived (Lambda arm64 128 MB, one S3 PUT per batch of {rows}, {:.0} ms assumed per PUT)",
        S3_PUT_SECONDS * 1e3
    );
    println!(
        "roll-up: {:.0} rows/s parsed and counted on one core ({} bytes of report)",
        total / rollup_seconds,
        bytes.len()
    );
}
