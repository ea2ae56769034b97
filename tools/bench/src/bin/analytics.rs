//! `analytics`: the map/reduce figures. (1) The mapper's throughput per core on the real
//! flights data, in process, next to DuckDB's single-threaded time for the same query on
//! the same file; (2) the whole local pipeline — upload to report — on flights.csv and on
//! a 10× concatenation, with each function's peak memory; (3) the estimated AWS cost per
//! GB, from the measured throughput and AWS's list prices. Prints figures; asserts none.
//!
//! Options:
//!   --times N         the concatenation's copies (default 10)
//!   --runs N          in-process runs, the median reported (default 5)
//!   --chunk-mib N     chunk size for the pipeline runs (default 8: several mappers locally)
//!   --no-pipeline     the in-process figures and the cost estimate only
//!   --bin-dir DIR     the function binaries (default target/release)
//!   --local-env PATH  the local environment's binary (default target/debug/local-env)

#![allow(dead_code)] // `local` serves several binaries

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use domain::analytics::{Chunk, ChunkScanner, Columns, plan, read_header};
use serde_json::Value;

#[path = "../local.rs"]
mod local;

struct Options {
    times: u32,
    runs: usize,
    chunk_mib: u64,
    binaries: local::Binaries,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options { times: 10, runs: 5, chunk_mib: 8, binaries: local::Binaries::default() };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--times" => o.times = value()?.parse().ok().filter(|n| (2..=50).contains(n)).ok_or("2 to 50 copies")?,
            "--runs" => o.runs = value()?.parse().ok().filter(|n| (1..=50).contains(n)).ok_or("1 to 50 runs")?,
            "--no-pipeline" => {}
            "--chunk-mib" => o.chunk_mib = value()?.parse().ok().filter(|n| *n >= 1).ok_or("a whole number of MiB")?,
            other => {
                if !o.binaries.take(other, &mut value)? {
                    return Err(format!("unknown option {other}"));
                }
            }
        }
    }
    Ok(o)
}

fn python() -> PathBuf {
    PathBuf::from(".venv/bin/python")
}

/// flights.csv, or its concatenation, from tools/analytics/flights_csv.py.
fn flights(times: u32) -> Result<PathBuf, String> {
    let out = Command::new(python())
        .args(["tools/analytics/flights_csv.py", "--times", &times.to_string()])
        .output()
        .map_err(|e| format!("{e} (run scripts/bootstrap first)"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One mapper's work over `data` in chunks of `chunk_bytes`, one after another on this
/// thread; returns the seconds and the largest partial result's stored size.
fn map_in_process(data: &[u8], chunk_bytes: u64) -> Result<(f64, usize), String> {
    let header = read_header(&data[..data.len().min(64 * 1024)], data.len() <= 64 * 1024).map_err(|e| e.to_string())?;
    let columns = Columns::from_header(&header.names).map_err(|e| e.to_string())?;
    let size = data.len() as u64;
    let started = Instant::now();
    let mut largest = 0;
    for chunk in plan(size, header.data_start, chunk_bytes, 10_000) {
        let partials = scan(data, &columns, &chunk);
        let json = serde_json::to_string(&partials).map_err(|e| e.to_string())?;
        largest = largest.max(compressed_len(json.as_bytes()));
    }
    Ok((started.elapsed().as_secs_f64(), largest))
}

/// The size the jobs table stores a partial result at (DEFLATE, as adapters' jobs table).
fn compressed_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().map(|v| v.len()).unwrap_or(0)
}

/// A chunk fed in 64 KiB pieces, as a ranged GET delivers it.
fn scan(data: &[u8], columns: &Columns, chunk: &Chunk) -> domain::analytics::ChunkPartials {
    let mut scanner = ChunkScanner::new(columns.clone(), chunk, data.len() as u64);
    let from = scanner.read_from() as usize;
    for piece in data[from..].chunks(64 * 1024) {
        if !scanner.feed(piece) {
            break;
        }
    }
    scanner.finish()
}

fn duckdb_seconds(file: &Path) -> Result<f64, String> {
    let out = Command::new(python())
        .args(["tools/analytics/duckdb_report.py", "--threads", "1", "--time"])
        .arg(file)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    String::from_utf8_lossy(&out.stderr).trim().parse().map_err(|_| "DuckDB printed no time".to_owned())
}

/// Uploads a file to the local input bucket and waits for its job; the seconds it took.
async fn pipeline(env: &local::LocalEnv, file: &Path, chunk_bytes: u64) -> Result<(f64, Value), String> {
    let config = local_env::provision::emulator_config(env.moto()).await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let bucket = env.ready["resources"]["AnalyticsInputBucket"]["reference"].as_str().unwrap_or_default().to_owned();
    let key = format!("input/bench-{}.csv", uuid::Uuid::new_v4().simple());
    let body = aws_sdk_s3::primitives::ByteStream::from_path(file).await.map_err(|e| e.to_string())?;
    let http = env.client()?;
    let started = Instant::now();
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .metadata("chunk-bytes", chunk_bytes.to_string())
        .body(body)
        .send()
        .await
        .map_err(|e| format!("upload: {e}"))?;
    loop {
        let page: Value = http
            .get(env.api("/jobs?limit=100"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let job = page["items"].as_array().and_then(|jobs| jobs.iter().find(|j| j["input"]["key"] == key.as_str()));
        if let Some(job) = job {
            match job["status"].as_str() {
                Some("done") => return Ok((started.elapsed().as_secs_f64(), job.clone())),
                Some("failed") => return Err(format!("the job failed: {}", job["failure"])),
                _ => {}
            }
        }
        if started.elapsed() > Duration::from_secs(900) {
            return Err("no result after 15 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// AWS list prices (us-east-1, arm64), per unit.
const LAMBDA_GB_SECOND: f64 = 0.0000133334;
const LAMBDA_REQUEST: f64 = 0.2 / 1e6;
const SQS_REQUEST: f64 = 0.4 / 1e6;
const DYNAMODB_WRU: f64 = 0.625 / 1e6;
const DYNAMODB_RRU: f64 = 0.125 / 1e6;
const S3_GET: f64 = 0.4 / 1e6;
/// One S3 GET stream's throughput assumed inside Lambda (not measured here: no AWS).
const S3_STREAM_MB_S: f64 = 90.0;
/// Lambda's CPU share: one full vCPU at 1,769 MB, proportionally less below.
const MB_PER_VCPU: f64 = 1769.0;

/// The estimated cost of mapping one GB (2^30 bytes) at `memory` MB with `chunk_mib` chunks,
/// from the measured per-core throughput and the largest partial's size.
fn cost_per_gb(memory: f64, chunk_mib: f64, core_mb_s: f64, partial_kb: f64) -> (f64, f64) {
    let mb = 1024.0;
    let throughput = (core_mb_s * (memory / MB_PER_VCPU).min(1.0)).min(S3_STREAM_MB_S);
    let chunks = mb / chunk_mib;
    // Per chunk, besides reading: two reads (job, chunk marker), the partial's put (1 WRU
    // per KB) and the transaction (2 WRU for each of two small items), ~40 ms of calls; SQS
    // send (1/10), receive, delete; one or two GETs.
    let seconds = mb / throughput + chunks * 0.04;
    let lambda = seconds * memory / 1024.0 * LAMBDA_GB_SECOND + chunks * LAMBDA_REQUEST;
    let dynamo = chunks * ((partial_kb.ceil() + 4.0) * DYNAMODB_WRU + 2.0 * DYNAMODB_RRU);
    let other = chunks * (2.1 * SQS_REQUEST + 1.5 * S3_GET);
    (lambda + dynamo + other, seconds / chunks)
}

async fn run(o: Options) -> Result<(), String> {
    let single = flights(1)?;
    let data = std::fs::read(&single).map_err(|e| e.to_string())?;
    let mb = data.len() as f64 / 1e6;
    println!("flights.csv: {mb:.1} MB, {} lines", data.iter().filter(|b| **b == b'\n').count());

    let mut ours = Vec::new();
    let mut largest = 0;
    for _ in 0..o.runs {
        let (seconds, partial) = map_in_process(&data, 8 << 20)?;
        ours.push(seconds);
        largest = largest.max(partial);
    }
    let mut whole = Vec::new();
    let mut one_partial = 0;
    for _ in 0..o.runs {
        let (seconds, partial) = map_in_process(&data, u64::MAX / 2)?;
        whole.push(seconds);
        one_partial = partial;
    }
    let mut duck = Vec::new();
    for _ in 0..o.runs {
        duck.push(duckdb_seconds(&single)?);
    }
    let (ours, whole, duck) = (median(&mut ours), median(&mut whole), median(&mut duck));
    let core_mb_s = mb / whole;
    println!("\n== mapper vs DuckDB, one core, flights.csv (median of {})", o.runs);
    println!("mapper, one chunk          {:>7.1} ms  {:>6.1} MB/s", whole * 1000.0, core_mb_s);
    println!("mapper, 8 MiB chunks       {:>7.1} ms  {:>6.1} MB/s", ours * 1000.0, mb / ours);
    println!("DuckDB, threads = 1        {:>7.1} ms  {:>6.1} MB/s", duck * 1000.0, mb / duck);
    println!(
        "partial result (stored)    {:.1} KB for the whole file, at most {:.1} KB per 8 MiB chunk",
        one_partial as f64 / 1e3,
        largest as f64 / 1e3
    );
    println!("\n== estimated AWS cost per GB mapped (list prices, arm64; S3 read at {S3_STREAM_MB_S} MB/s assumed)");
    println!("reference (awslabs/lambda-refarch-mapreduce): $0.000900 per GB");
    let partial_kb = one_partial as f64 / 1e3;
    for chunk_mib in [8.0, 64.0, 256.0, 512.0, 1024.0] {
        for memory in [256.0, 512.0, 1769.0] {
            let (cost, per_chunk) = cost_per_gb(memory, chunk_mib, core_mb_s, partial_kb);
            println!(
                "{chunk_mib:>5} MiB chunks, {memory:>6} MB: ${cost:.6} per GB ({:.0}x below), {per_chunk:.2} s per chunk",
                0.0009 / cost
            );
        }
    }
    if std::env::args().any(|a| a == "--no-pipeline") {
        return Ok(());
    }

    println!("\n== the local pipeline, upload to report ({} MiB chunks, release binaries)", o.chunk_mib);
    let env = local::LocalEnv::start(&o.binaries, &[])?;
    for times in [1, o.times] {
        let file = flights(times)?;
        let size = std::fs::metadata(&file).map_err(|e| e.to_string())?.len() as f64 / 1e6;
        let (seconds, job) = pipeline(&env, &file, o.chunk_mib << 20).await?;
        let at = |field: &str| {
            time::OffsetDateTime::parse(
                job[field].as_str().unwrap_or_default(),
                &time::format_description::well_known::Rfc3339,
            )
            .ok()
        };
        let job_seconds = match (at("createdAt"), at("finishedAt")) {
            (Some(created), Some(finished)) => (finished - created).as_seconds_f64(),
            _ => f64::NAN,
        };
        println!(
            "{:<18} {size:>7.1} MB  upload to moto + job {seconds:>6.1} s; job (split to report) {job_seconds:>5.1} s, {:>6.1} MB/s; {} chunks",
            file.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
            size / job_seconds,
            job["progress"]["chunksTotal"]
        );
    }
    let log = env.invocations().await?;
    for function in ["splitter", "mapper", "reducer"] {
        let mine: Vec<&Value> = log.iter().filter(|i| i["function"] == function && i["outcome"] == "ok").collect();
        let peak = mine.iter().filter_map(|i| i["peakMemoryMiB"].as_f64()).fold(0.0, f64::max);
        let mut durations: Vec<f64> = mine.iter().filter_map(|i| i["durationMs"].as_f64()).collect();
        println!(
            "{function:<10} {:>5} invocations, median {:>7.1} ms, peak memory {peak:>6.1} MiB",
            mine.len(),
            median(&mut durations)
        );
    }

    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("analytics: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("analytics: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("analytics: {e}");
            ExitCode::FAILURE
        }
    }
}
