//! Routing, the two operations, and jobs as the API shows them.

use adapters::analytics::jobs_table::{Job, JobsTable};
use adapters::http::{dependency_failed, json, no_such_operation, path_parameter, query_parameter, serve};
use adapters::problem::Problem;
use domain::Invalid;
use domain::analytics::job::JobId;
use domain::pagination::{Cursor, page_size};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

pub async fn handle(jobs: &JobsTable, req: Request) -> Result<Response<Body>, std::convert::Infallible> {
    serve(req, |req, op| async move {
        match (op.method.as_str(), op.resource.as_str()) {
            ("GET", "/jobs") => list(jobs, &req, &op.correlation_id).await,
            ("GET", "/jobs/{jobId}") => get(jobs, &req, &op.correlation_id).await,
            _ => Err(no_such_operation(&op)),
        }
    })
    .await
}

/// The listing's cursor scope: there is one listing of jobs.
const SCOPE: &str = "jobs";

async fn get(jobs: &JobsTable, req: &Request, correlation: &str) -> Result<Response<Body>, Problem> {
    let raw = path_parameter(req, "jobId").unwrap_or_default();
    let not_found = || Problem::not_found(format!("no job {raw}"));
    let id = JobId::parse(&raw).ok_or_else(not_found)?;
    let job = jobs.get(&id).await.map_err(dependency_failed(correlation))?.ok_or_else(not_found)?;
    Ok(json(StatusCode::OK, &JobView::from(&job)))
}

async fn list(jobs: &JobsTable, req: &Request, correlation: &str) -> Result<Response<Body>, Problem> {
    let limit =
        page_size(query_parameter(req, "limit").as_deref()).map_err(|e| Problem::invalid(Invalid::one("limit", e)))?;
    let cursor = query_parameter(req, "cursor")
        .map(|c| Cursor::decode(&c, SCOPE).map_err(|e| Problem::invalid(Invalid::one("cursor", e))))
        .transpose()?;
    let after = cursor.as_ref().map(|c| c.position.as_str());
    // A cursor this listing wrote holds `createdAt|JOB#<id>`; anything else is refused.
    let ours = |a: &str| a.split_once('|').and_then(|(_, pk)| pk.strip_prefix("JOB#")).and_then(JobId::parse).is_some();
    if after.is_some_and(|a| !ours(a)) {
        return Err(Problem::invalid(Invalid::one("cursor", "is not a cursor returned by this listing")));
    }
    let page = jobs.list(limit, after).await.map_err(dependency_failed(correlation))?;
    let view = JobPage {
        items: page.jobs.iter().map(JobView::from).collect(),
        next_cursor: page.next.map(|position| Cursor { scope: SCOPE.into(), position }.encode()),
    };
    Ok(json(StatusCode::OK, &view))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobPage {
    items: Vec<JobView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobView {
    job_id: String,
    status: &'static str,
    input: InputView,
    progress: Progress,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<Rows>,
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<ResultsView>,
}

#[derive(Serialize)]
struct InputView {
    bucket: String,
    key: String,
    size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    chunks_done: u32,
    chunks_total: u32,
}

#[derive(Serialize)]
struct Rows {
    read: u64,
    rejected: u64,
}

#[derive(Serialize)]
struct ResultsView {
    bucket: String,
    json: String,
    csv: String,
    summary: String,
}

impl From<&Job> for JobView {
    fn from(job: &Job) -> Self {
        Self {
            job_id: job.id.to_string(),
            status: job.status.as_str(),
            input: InputView { bucket: job.input.bucket.clone(), key: job.input.key.clone(), size: job.input.size },
            progress: Progress {
                chunks_done: job.chunks_total.saturating_sub(job.chunks_left),
                chunks_total: job.chunks_total,
            },
            created_at: job.created_at.clone(),
            finished_at: job.finished_at.clone(),
            failure: job.failure.clone(),
            rows: match (job.rows_read, job.rows_rejected) {
                (Some(read), Some(rejected)) => Some(Rows { read, rejected }),
                _ => None,
            },
            results: job.results.as_ref().map(|r| ResultsView {
                bucket: r.bucket.clone(),
                json: r.json.clone(),
                csv: r.csv.clone(),
                summary: r.summary.clone(),
            }),
        }
    }
}
