//! The map/reduce storage against moto, on the jobs table and buckets provisioned from the
//! template: a chunk counted once however often it is recorded, the reducer's claim held
//! by one at a time and taken over once lapsed, jobs listed newest first, and ranged reads
//! pinned to the file a job started with.

use adapters::analytics::input_file::{InputFiles, is_gone_or_replaced};
use adapters::analytics::jobs_table::{ChunkRecorded, ChunkStats, Claim, JobsTable, NewJob, ResultKeys};
use aws_sdk_s3::primitives::ByteStream;
use domain::analytics::job::{InputFile, JobId, JobStatus};

struct Setup {
    jobs: JobsTable,
    s3: aws_sdk_s3::Client,
    input_bucket: String,
}

async fn setup() -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    Setup {
        jobs: JobsTable::new(aws_sdk_dynamodb::Client::new(&config), &resources.get("JobsTable").unwrap().reference),
        s3: aws_sdk_s3::Client::new(&config),
        input_bucket: resources.get("AnalyticsInputBucket").unwrap().reference.clone(),
    }
}

fn new_job(chunks: u32) -> NewJob {
    let id = JobId::for_upload("bucket", "input/file.csv", &uuid::Uuid::new_v4().to_string());
    NewJob {
        id,
        input: InputFile { bucket: "bucket".into(), key: "input/file.csv".into(), etag: "\"e\"".into(), size: 100 },
        chunk_bytes: 50,
        chunks_total: chunks,
        data_start: 4,
        columns: None,
        failure: None,
    }
}

const STATS: ChunkStats = ChunkStats { bytes_read: 51, millis: 3 };

#[tokio::test]
async fn a_job_is_created_once_and_each_chunk_counted_once() {
    let Setup { jobs, .. } = setup().await;
    let job = new_job(2);
    let (created, new) = jobs.create(&job).await.unwrap();
    assert!(new);
    assert_eq!((created.status, created.chunks_left), (JobStatus::Mapping, 2));
    let (again, new) = jobs.create(&job).await.unwrap();
    assert!(!new, "a redelivered upload finds its job");
    assert_eq!(again, created);

    assert_eq!(jobs.record_chunk(&job.id, 0, "{\"p\":0}", STATS).await.unwrap(), ChunkRecorded::New);
    assert_eq!(jobs.record_chunk(&job.id, 0, "{\"p\":0}", STATS).await.unwrap(), ChunkRecorded::Duplicate);
    assert!(jobs.has_chunk(&job.id, 0).await.unwrap());
    assert!(!jobs.has_chunk(&job.id, 1).await.unwrap());
    assert_eq!(jobs.get(&job.id).await.unwrap().unwrap().chunks_left, 1);
    // Not every chunk is in: nobody can claim the job yet.
    assert_eq!(jobs.claim(&job.id, "r1", 0, 1).await.unwrap(), Claim::Settled(JobStatus::Mapping));

    assert_eq!(jobs.record_chunk(&job.id, 1, "{\"p\":1}", STATS).await.unwrap(), ChunkRecorded::New);
    let stored = jobs.chunks(&job.id).await.unwrap();
    let partials: Vec<(u32, String)> = stored.iter().map(|c| (c.index, c.partial().unwrap())).collect();
    assert_eq!(partials, [(0, "{\"p\":0}".to_owned()), (1, "{\"p\":1}".to_owned())]);
    assert_eq!(stored[0].stats, STATS);
    assert_eq!(jobs.get(&job.id).await.unwrap().unwrap().chunks_left, 0);
}

#[tokio::test]
async fn one_reducer_holds_a_job_until_its_claim_lapses_and_only_the_holder_finishes_it() {
    let Setup { jobs, .. } = setup().await;
    let job = new_job(1);
    jobs.create(&job).await.unwrap();
    jobs.record_chunk(&job.id, 0, "{}", STATS).await.unwrap();

    let Claim::Claimed(claimed) = jobs.claim(&job.id, "first", 1_000, 5_000).await.unwrap() else {
        panic!("not claimed")
    };
    assert_eq!(claimed.status, JobStatus::Reducing);
    assert_eq!(jobs.claim(&job.id, "second", 2_000, 9_000).await.unwrap(), Claim::HeldUntil(5_000));
    // The first holder is gone once its claim lapses: the second takes over ...
    assert!(matches!(jobs.claim(&job.id, "second", 6_000, 9_000).await.unwrap(), Claim::Claimed(_)));
    let keys = ResultKeys { bucket: "b".into(), json: "j".into(), csv: "c".into(), summary: "s".into() };
    // ... and the first can no longer record the job done.
    assert!(!jobs.finish(&job.id, "first", &keys, (10, 1)).await.unwrap());
    assert!(jobs.finish(&job.id, "second", &keys, (10, 1)).await.unwrap());
    let done = jobs.get(&job.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.results, done.rows_read, done.rows_rejected),
        (JobStatus::Done, Some(keys), Some(10), Some(1))
    );
    assert_eq!(done.claim, None);
    assert_eq!(jobs.claim(&job.id, "third", 99_000, 100_000).await.unwrap(), Claim::Settled(JobStatus::Done));
    // A done job cannot be failed afterwards.
    assert!(!jobs.fail(&job.id, "late", None).await.unwrap());
}

#[tokio::test]
async fn a_failed_job_takes_no_more_chunks_and_names_the_chunk_that_failed_it() {
    let Setup { jobs, .. } = setup().await;
    let job = new_job(3);
    jobs.create(&job).await.unwrap();
    assert!(jobs.fail(&job.id, "chunk 1 failed", Some(1)).await.unwrap());
    assert!(!jobs.fail(&job.id, "again", Some(2)).await.unwrap(), "the first failure stays");
    assert_eq!(jobs.record_chunk(&job.id, 0, "{}", STATS).await.unwrap(), ChunkRecorded::JobClosed);
    let failed = jobs.get(&job.id).await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.failure.as_deref(), failed.failed_chunk),
        (JobStatus::Failed, Some("chunk 1 failed"), Some(1))
    );
    assert!(failed.finished_at.is_some());
    assert_eq!(failed.chunks_left, 3);
}

#[tokio::test]
async fn jobs_are_listed_newest_first_page_by_page() {
    let Setup { jobs, .. } = setup().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job = new_job(1);
        jobs.create(&job).await.unwrap();
        ids.push(job.id);
    }
    // Other tests add jobs to the same table: follow the pages until ours are all seen.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = jobs.list(2, after.as_deref()).await.unwrap();
        assert!(page.jobs.len() <= 2);
        seen.extend(page.jobs.iter().filter(|j| ids.contains(&j.id)).map(|j| j.id.clone()));
        let created: Vec<&str> = page.jobs.iter().map(|j| j.created_at.as_str()).collect();
        assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first: {created:?}");
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    // Each once (jobs created in the same millisecond may come in either order).
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
}

#[tokio::test]
async fn ranged_reads_stream_the_file_a_job_started_with_and_refuse_a_replaced_one() {
    let Setup { s3, input_bucket, .. } = setup().await;
    let files = InputFiles::new(s3.clone());
    let key = format!("input/{}.csv", uuid::Uuid::new_v4().simple());
    let body = b"a,b\n1,2\n3,4\n".to_vec();
    s3.put_object()
        .bucket(&input_bucket)
        .key(&key)
        .metadata("chunk-bytes", "3")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let facts = files.facts(&input_bucket, &key).await.unwrap();
    assert_eq!((facts.size, facts.chunk_bytes), (body.len() as u64, Some(3)));
    let file = InputFile { bucket: input_bucket.clone(), key: key.clone(), etag: facts.etag.clone(), size: facts.size };
    let mut got = Vec::new();
    let read = files
        .read_range(&file, 4, 8, |piece| {
            got.extend_from_slice(piece);
            true
        })
        .await
        .unwrap();
    assert_eq!((read, got.as_slice()), (4, b"1,2\n".as_slice()));

    s3.put_object().bucket(&input_bucket).key(&key).body(ByteStream::from(b"x,y\n".to_vec())).send().await.unwrap();
    let err = files.read_range(&file, 0, 4, |_| true).await.unwrap_err();
    assert!(is_gone_or_replaced(&err), "{err}");
}

#[tokio::test]
async fn a_chunk_fails_its_job_only_if_it_was_not_counted_and_the_job_is_still_mapping() {
    let Setup { jobs, .. } = setup().await;
    let job = new_job(2);
    jobs.create(&job).await.unwrap();
    // Counted after all (an attempt whose answer was lost): the job is not failed for it.
    jobs.record_chunk(&job.id, 0, "{}", STATS).await.unwrap();
    assert!(!jobs.fail_chunk(&job.id, 0, "lost answer").await.unwrap());
    assert_eq!(jobs.get(&job.id).await.unwrap().unwrap().status, JobStatus::Mapping);
    // Not counted: the job fails, naming the chunk.
    assert!(jobs.fail_chunk(&job.id, 1, "chunk 1 failed").await.unwrap());
    let failed = jobs.get(&job.id).await.unwrap().unwrap();
    assert_eq!((failed.status, failed.failed_chunk), (JobStatus::Failed, Some(1)));

    // A job past mapping (its chunks all in) is never failed by a mapper.
    let whole = new_job(1);
    jobs.create(&whole).await.unwrap();
    jobs.record_chunk(&whole.id, 0, "{}", STATS).await.unwrap();
    assert!(matches!(jobs.claim(&whole.id, "r", 0, u64::MAX).await.unwrap(), Claim::Claimed(_)));
    assert!(!jobs.fail_chunk(&whole.id, 7, "late duplicate").await.unwrap());
    assert_eq!(jobs.get(&whole.id).await.unwrap().unwrap().status, JobStatus::Reducing);
}

#[tokio::test]
async fn chunk_items_expire_after_the_configured_retention() {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let (dynamo, name) =
        (aws_sdk_dynamodb::Client::new(&config), resources.get("JobsTable").unwrap().reference.clone());
    let jobs = JobsTable::new(dynamo.clone(), &name).with_chunk_retention(time::Duration::days(2));
    let (job, _) = jobs.create(&new_job(2)).await.unwrap();
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    jobs.record_chunk(&job.id, 0, "{}", STATS).await.unwrap();
    let after = time::OffsetDateTime::now_utc().unix_timestamp();
    let two_days = time::Duration::days(2).whole_seconds();
    for sk in ["PARTIAL#000000", "CHUNK#000000"] {
        let item = dynamo
            .get_item()
            .table_name(&name)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{}", job.id)))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("{sk} is stored"));
        let expires: i64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
        assert!((before + two_days..=after + two_days).contains(&expires), "{sk} expires at {expires}");
    }

    // Its TTL passed (DynamoDB has not deleted it yet): the partial is gone for the reducer,
    // while the chunk still counts as counted.
    assert_eq!(jobs.chunk_page(&job.id, None).await.unwrap().chunks.len(), 1);
    dynamo
        .update_item()
        .table_name(&name)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{}", job.id)))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("PARTIAL#000000".into()))
        .update_expression("SET expiresAt = :past")
        .expression_attribute_values(":past", aws_sdk_dynamodb::types::AttributeValue::N((before - 1).to_string()))
        .send()
        .await
        .unwrap();
    assert!(jobs.chunk_page(&job.id, None).await.unwrap().chunks.is_empty());
    assert!(jobs.has_chunk(&job.id, 0).await.unwrap());
}
