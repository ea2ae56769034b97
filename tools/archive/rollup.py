"""Runs the daily roll-up in the running local environment, now, and prints its report.

    scripts/rollup [DAY]
    scripts/rollup --archive      # list the archive instead: each object and its rows

DAY is YYYY-MM-DD; without it, yesterday by the environment's clock (which
`scripts/local advance` moves), as the 00:30 UTC schedule would. The roll-up function is
invoked synchronously through the environment's Lambda Invoke API; the report it wrote
(or found already written: running it twice writes it once) is read from the results
bucket. The environment is found through .local/env.json (written by scripts/run-local).
"""

import datetime
import gzip
import json
import os
import pathlib
import sys
import urllib.request

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    with urllib.request.urlopen(request, timeout=330) as answer:
        return answer.headers, json.load(answer)


def s3_client(env):
    return boto3.client(
        "s3", endpoint_url=env["moto"], region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


def list_archive(env) -> int:
    s3 = s3_client(env)
    bucket = env["resources"]["ArchiveBucket"]["reference"]
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])]
    for key in keys:
        lines = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode().splitlines()
        print(f"s3://{bucket}/{key}: {len(lines)} rows")
        for line in lines[:3]:
            print("  " + line[:160])
    if not keys:
        print(f"s3://{bucket}/ is empty: nothing has expired yet (scripts/local advance 31d; scripts/local sweep)")
    return 0


def main() -> int:
    state = ROOT / os.environ.get("LOCAL_ENV_STATE_DIR", ".local") / "env.json"
    if not state.exists():
        sys.exit(f"rollup: {state} not found; start the application first: scripts/run-local")
    env = json.loads(state.read_text())
    if sys.argv[1:] == ["--archive"]:
        return list_archive(env)
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help")):
        print(__doc__.strip())
        return 0 if len(sys.argv) == 2 else 2
    if len(sys.argv) == 2:
        day = sys.argv[1]
        try:
            datetime.date.fromisoformat(day)
        except ValueError:
            sys.exit(f"rollup: {day!r} is not a day (YYYY-MM-DD)")
    else:
        _, status = call(env["control"] + "/status")
        now = datetime.datetime.fromisoformat(status["clock"]["now"].replace("Z", "+00:00"))
        day = (now.astimezone(datetime.timezone.utc) - datetime.timedelta(days=1)).date().isoformat()
    headers, result = call(env["lambda"] + "/2015-03-31/functions/rollup/invocations", {"day": day})
    if headers.get("X-Amz-Function-Error"):
        print(f"rollup: the roll-up of {day} failed: {json.dumps(result)}", file=sys.stderr)
        return 1
    s3 = s3_client(env)
    for done in result["days"]:
        print(f"roll-up of {done['day']}: {done['archiveObjects']} archive objects read, report {done['written']}: {done['report']}")
        bucket, key = done["report"].removeprefix("s3://").split("/", 1)
        print(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
