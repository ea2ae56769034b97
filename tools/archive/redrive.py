"""Brings parked records back into the archive.

    scripts/redrive-archive                                    # the running local environment
    scripts/redrive-archive --queue-url URL --function NAME    # a deployed stack

When the archive cannot be written for 20 hours (S3 refusing, a broken bucket policy), the
archiver parks the expired items' stream records, whole, in ArchiveFailuresQueue before
the stream drops them. Once writes work again, this reads every parked record from the
queue (each once, however often it was parked), hands them to the archiver in sequence
order, as a stream batch, and deletes their messages once the archiver has written them.
The archive's object keys come from the records' sequence numbers, so running it again
doubles nothing. Other messages in the queue (records that can never be archived, and
batches the stream dropped, which carry only sequence numbers) are left for a person,
each with its reason.

On AWS it uses the usual credentials and region; the function is the stack's
ArchiverFunction and the queue ArchiveFailuresQueue (`aws cloudformation
describe-stack-resources`). Locally it finds both through .local/env.json.
"""

import argparse
import json
import os
import pathlib
import sys

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Records per invocation: a few MB of stream records, well inside the 6 MB payload limit.
BATCH_RECORDS = 500
BATCH_BYTES = 4 * 1024 * 1024
# Received messages stay hidden this long while the redrive runs.
VISIBILITY_SECONDS = 900


def clients(args):
    if args.queue_url:
        if not args.function:
            sys.exit("redrive-archive: --queue-url needs --function (the stack's ArchiverFunction)")
        return boto3.client("sqs"), boto3.client("lambda"), args.queue_url, args.function
    state = ROOT / os.environ.get("LOCAL_ENV_STATE_DIR", ".local") / "env.json"
    if not state.exists():
        sys.exit(f"redrive-archive: {state} not found; start the application first (scripts/run-local), "
                 "or name a deployed stack's queue and function (--queue-url, --function)")
    env = json.loads(state.read_text())
    local = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    sqs = boto3.client("sqs", endpoint_url=env["moto"], **local)
    lam = boto3.client("lambda", endpoint_url=env["lambda"], **local)
    return sqs, lam, env["resources"]["ArchiveFailuresQueue"]["reference"], "archiver"


def receive_all(sqs, queue_url):
    """Every message now in the queue, hidden while the redrive runs."""
    messages, empty = {}, 0
    while empty < 2:
        out = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  VisibilityTimeout=VISIBILITY_SECONDS)
        batch = out.get("Messages", [])
        empty = 0 if batch else empty + 1
        for message in batch:
            messages[message["MessageId"]] = message
    return list(messages.values())


def parked_record(message):
    """The stream record a message parked, or None for any other message."""
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return None
    record = body.get("record") if isinstance(body, dict) and body.get("parked") is True else None
    sequence = record.get("dynamodb", {}).get("SequenceNumber") if isinstance(record, dict) else None
    return record if isinstance(sequence, str) and sequence.isdigit() else None


def batches(records):
    batch, size = [], 0
    for record in records:
        length = len(json.dumps(record))
        if batch and (len(batch) == BATCH_RECORDS or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += length
    if batch:
        yield batch


def delete(sqs, queue_url, messages):
    for i in range(0, len(messages), 10):
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages[i:i + 10])]
        out = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        if out.get("Failed"):
            raise RuntimeError(f"SQS refused to delete {len(out['Failed'])} messages: {out['Failed'][0]}")


def release(sqs, queue_url, messages):
    """Makes messages visible again at once, for a person or the next redrive."""
    for message in messages:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def main() -> int:
    parser = argparse.ArgumentParser(description="Brings parked records back into the archive.")
    parser.add_argument("--queue-url", help="the stack's ArchiveFailuresQueue (default: the local environment's)")
    parser.add_argument("--function", help="the stack's ArchiverFunction")
    args = parser.parse_args()
    sqs, lam, queue_url, function = clients(args)

    messages = receive_all(sqs, queue_url)
    others = [m for m in messages if parked_record(m) is None]
    # Each record once, by stream and sequence number, oldest first: the order the stream had.
    by_record = {}
    for message in messages:
        record = parked_record(message)
        if record is not None:
            key = (record.get("eventSourceARN", ""), record["dynamodb"]["SequenceNumber"])
            by_record.setdefault(key, (record, []))[1].append(message)
    ordered = [by_record[key] for key in sorted(by_record, key=lambda k: (k[0], int(k[1])))]
    records = [record for record, _ in ordered]

    done = 0
    try:
        for batch in batches(records):
            answer = lam.invoke(FunctionName=function, Payload=json.dumps({"Records": batch}).encode())
            result = json.loads(answer["Payload"].read() or b"null")
            if answer.get("FunctionError") or not isinstance(result, dict) or result.get("batchItemFailures"):
                raise RuntimeError(f"the archiver did not archive them: {json.dumps(result)}")
            delete(sqs, queue_url, [m for _, ms in ordered[done:done + len(batch)] for m in ms])
            done += len(batch)
    except Exception as failure:  # noqa: BLE001 - reported, and every message kept
        release(sqs, queue_url, [m for _, ms in ordered[done:] for m in ms] + others)
        print(f"redrive-archive: {done} of {len(records)} parked records archived; the rest stay parked. "
              f"{failure}", file=sys.stderr)
        return 1
    release(sqs, queue_url, others)
    print(f"{done} parked records archived from {sum(len(ms) for _, ms in ordered)} messages; "
          f"{len(others)} other messages left in the queue (each says why it is there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
