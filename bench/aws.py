#!/usr/bin/env python3
"""The AWS backends against moto: `sentiflow run --once` on dynamodb:// sqs:// s3://, and the
latency of the calls the pipeline makes.

What it measures (issue 6, docs/PERFORMANCE.md "AWS backends against moto"):
  - items/s end to end: for each N of --sizes, a fresh moto_server on a free port of 127.0.0.1,
    a DynamoDB table of N items and a bucket (created and filled with boto3, not timed), then the
    timed `sentiflow run FILE --once --no-progress` (it creates its SQS queue and dead-letter
    queue itself, as a user's first run does). items/s = N / wall seconds of the command. The run
    summary must say at least N processed (at least once: a duplicate delivery is processed
    again, and counted), and every item must be in the bucket, or the script fails.
  - per-call latency, with boto3 against another fresh moto, of the calls the pipeline makes:
    Scan (one page, Limit = the pipeline's page_size), BatchWriteItem (25 items);
    SendMessageBatch, ReceiveMessage and DeleteMessageBatch (10 messages each, WaitTimeSeconds 0)
    on a queue kept at several depths (messages waiting); PutObject (one result object of 10
    records); GetQueueUrl as the floor (HTTP, boto3 and moto's routing, no work). boto3 runs with
    retries off, so each figure is one call.

moto is the limit, not sentiflow: moto_server is one Python process that does each call's work
in Python, and its SQS slows with the number of messages in a queue (ReceiveMessage looks at
every message). So depths stay moderate (default sizes 500, 1,000 and 2,000 items) and the table
shows how the figures scale. moto runs with its auth OFF: in auth mode it refuses correct
signatures for S3 keys holding ':' or '=' (docs/AWS.md), and every result key holds both
(`run=2026-…T06:00:00Z/`); signing itself is proven against moto in auth mode by the tests.

Usage: python3 bench/aws.py --sentiflow build/sentiflow [--sizes 500,1000,2000] [--depths 0,1000,2000]
           [--repeats 30] [--workers 2] [--quick] [--work-dir DIR] [--keep]
--quick: sizes 200,500, depths 0,500, 10 repeats (about 20 s).
Needs boto3 and moto_server (pip install 'moto[server]'); the texts are VADER's corpora, as in
bench/pipeline.py.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import BenchError, corpus_texts, parse_summary  # noqa: E402  (the local benchmark's texts)

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

REGION = "us-east-1"
PAGE_SIZE = 1000
BATCH_SIZE = 10  # SQS's most per ReceiveMessage: the consumer's batch on sqs://


# ---------------------------------------------------------------------------------------------
# moto


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """moto_server on a free loopback port, in its own process group, auth off; stopped on exit."""

    def __init__(self, log_path):
        program = shutil.which("moto_server")
        if program is None:
            raise BenchError("moto_server is not on the PATH (pip install 'moto[server]')")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "INITIAL_NO_AUTH_ACTION_COUNT"}
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([program, "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:  # a script, not a test: polling the port until moto answers is the way
            if self.proc.poll() is not None:
                raise BenchError(f"moto_server exited at start (see {log_path})")
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise BenchError("moto_server did not answer within 60 s")
                time.sleep(0.1)

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="bench",
                            aws_secret_access_key="bench",
                            config=Config(retries={"mode": "standard", "max_attempts": 1}))

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


# ---------------------------------------------------------------------------------------------
# Resources


def items_of(n, texts):
    width = max(6, len(str(n)))
    return [{"id": {"S": f"item-{i:0{width}d}"}, "text": {"S": texts[(i * 7919) % len(texts)]}, "n": {"N": str(i)}}
            for i in range(1, n + 1)]


def create_table(ddb, name):
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])


def timed(f, samples):
    t0 = time.perf_counter()
    answer = f()
    samples.append((time.perf_counter() - t0) * 1000)
    return answer


def fill_table(ddb, name, items, samples=None):
    """BatchWriteItem, 25 items a call; the calls' milliseconds go to `samples`."""
    samples = [] if samples is None else samples
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        while requests:
            answer = timed(lambda: ddb.batch_write_item(RequestItems={name: requests}), samples)
            requests = answer.get("UnprocessedItems", {}).get(name, [])
    return samples


# ---------------------------------------------------------------------------------------------
# End to end


def pipeline_file(directory, n, endpoint, workers):
    path = os.path.join(directory, "pipeline.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "name: bench-aws\n"
            "state_dir: state\n"
            f"source: {{table: \"dynamodb://bench-{n}\", key: id, text: text, page_size: {PAGE_SIZE}}}\n"
            f"queue: {{url: \"sqs://bench-aws-{n}\", visibility_timeout: 60s, max_receive_count: 3}}\n"
            f"consumer: {{batch_size: {BATCH_SIZE}, concurrency: {{min: {workers}, max: {workers}}}}}\n"
            "sentiment: {engine: vader}\n"
            f"sink: {{store: \"s3://bench-{n}/results/\", format: jsonl}}\n"
            f"aws: {{region: {REGION}, endpoint_url: \"{endpoint}\"}}\n"
        )
    return path


def sentiflow_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION=REGION, AWS_PAGER="")
    return env


def measure_run(args, n, texts):
    directory = os.path.join(args.work_dir, f"run-{n}")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    with Moto(os.path.join(directory, "moto.log")) as moto:
        ddb, s3 = moto.client("dynamodb"), moto.client("s3")
        create_table(ddb, f"bench-{n}")
        fill_table(ddb, f"bench-{n}", items_of(n, texts))
        s3.create_bucket(Bucket=f"bench-{n}")
        pipeline = pipeline_file(directory, n, moto.endpoint, args.workers)
        argv = [args.sentiflow, "--log-level", "warn", "run", pipeline, "--once", "--no-progress"]
        t0 = time.perf_counter()
        done = subprocess.run(argv, cwd=directory, env=sentiflow_env(), capture_output=True, text=True,
                              timeout=max(600, n))
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise BenchError(f"run of {n} items exited {done.returncode}:\n{done.stdout}\n{done.stderr[-3000:]}")
        # At least once: a message moto hands to both workers is processed twice (counted here).
        processed = parse_summary(done.stdout)["processed"]
        if processed is None or processed < n:
            raise BenchError(f"run of {n} items processed {processed}:\n{done.stdout}")
        # Every item in the bucket once (raw objects are at least once: count distinct keys).
        keys, records = set(), 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=f"bench-{n}", Prefix="results/run="):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=f"bench-{n}", Key=obj["Key"])["Body"].read().decode()
                for line in body.splitlines():
                    keys.add(json.loads(line)["key"])
                    records += 1
        if len(keys) != n:
            raise BenchError(f"run of {n} items: {len(keys)} distinct keys in the bucket")
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    return {"items": n, "seconds": seconds, "items_per_s": n / seconds, "processed": processed,
            "records_in_bucket": records, "summary": done.stdout}


# ---------------------------------------------------------------------------------------------
# Per-call latency


def stats(samples):
    ordered = sorted(samples)
    return {"calls": len(ordered), "median_ms": statistics.median(ordered),
            "p90_ms": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], "mean_ms": statistics.fmean(ordered)}


def message_body(i, text):
    return json.dumps({"v": 1, "run": "2026-11-26T06:00:00Z", "key": f"item-{i:06d}",
                       "item": {"id": f"item-{i:06d}", "text": text, "n": i}}, ensure_ascii=False)


def measure_sqs_at_depth(sqs, depth, repeats, texts, label):
    """A new queue holding `depth` messages, then `repeats` rounds of SendMessageBatch (10),
    ReceiveMessage (10, WaitTimeSeconds 0) and DeleteMessageBatch of what was received, each
    timed: the queue stays at `depth` waiting messages throughout, as under a steady pipeline."""
    url = sqs.create_queue(QueueName=f"latency-{label}", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]

    def batch(start):
        return [{"Id": str(k), "MessageBody": message_body(start + k, texts[(start + k) % len(texts)])}
                for k in range(BATCH_SIZE)]

    for start in range(0, depth, BATCH_SIZE):
        sqs.send_message_batch(QueueUrl=url, Entries=batch(start))
    send, receive, delete = [], [], []
    for r in range(repeats):
        entries = batch(depth + r * BATCH_SIZE)
        timed(lambda: sqs.send_message_batch(QueueUrl=url, Entries=entries), send)
        messages = timed(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH_SIZE, WaitTimeSeconds=0,
                                                     AttributeNames=["ApproximateReceiveCount"]), receive)
        handles = [{"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(messages["Messages"])]
        timed(lambda: sqs.delete_message_batch(QueueUrl=url, Entries=handles), delete)
    return {"SendMessageBatch": stats(send), "ReceiveMessage": stats(receive), "DeleteMessageBatch": stats(delete)}


def measure_latency(args, texts):
    directory = os.path.join(args.work_dir, "latency")
    os.makedirs(directory, exist_ok=True)
    results = {}
    with Moto(os.path.join(directory, "moto.log")) as moto:
        ddb, sqs, s3 = moto.client("dynamodb"), moto.client("sqs"), moto.client("s3")
        floor = []
        sqs.create_queue(QueueName="floor")
        for _ in range(args.repeats):
            timed(lambda: sqs.get_queue_url(QueueName="floor"), floor)
        results["GetQueueUrl (floor)"] = {"": stats(floor)}

        n = max(args.sizes)
        create_table(ddb, "latency")
        batch = fill_table(ddb, "latency", items_of(n, texts))
        results["BatchWriteItem, 25 items"] = {f"table of {n:,}": stats(batch)}
        scan = []  # the first page, again and again: a full page wherever the table is large enough
        for _ in range(args.repeats):
            timed(lambda: ddb.scan(TableName="latency", Limit=PAGE_SIZE, ConsistentRead=True), scan)
        results[f"Scan, one page of {min(n, PAGE_SIZE):,} items"] = {f"table of {n:,}": stats(scan)}

        for depth in args.depths:
            by_call = measure_sqs_at_depth(sqs, depth, args.repeats, texts, str(depth))
            for call, s in by_call.items():
                results.setdefault(f"{call}, 10 messages", {})[f"depth {depth:,}"] = s

        s3.create_bucket(Bucket="latency")
        body = "\n".join(json.dumps({"schema": 1, "run": "2026-11-26T06:00:00Z", "key": f"item-{i:06d}",
                                     "text": texts[i], "sentiment": "POSITIVE", "item": {"id": f"item-{i:06d}"}})
                         for i in range(BATCH_SIZE)).encode()
        put = []
        for i in range(args.repeats):
            timed(lambda: s3.put_object(Bucket="latency", Key=f"results/object-{i}.jsonl", Body=body), put)
        results[f"PutObject, {len(body):,} bytes"] = {"": stats(put)}
    return results


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentiflow", required=True, help="the sentiflow binary")
    parser.add_argument("--sizes", default="500,1000,2000", help="items per end-to-end run")
    parser.add_argument("--depths", default="0,1000,2000", help="SQS queue depths for the latencies")
    parser.add_argument("--repeats", type=int, default=30, help="calls timed per latency figure")
    parser.add_argument("--workers", type=int, default=2, help="the consumer's concurrency")
    parser.add_argument("--quick", action="store_true", help="sizes 200,500, depths 0,500, 10 repeats")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--keep", action="store_true", help="keep each run's folder (pipeline, state, moto log)")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.depths, args.repeats = "200,500", "0,500", 10
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.depths = [int(d) for d in args.depths.split(",")]
    args.sentiflow = os.path.abspath(args.sentiflow)
    args.work_dir = os.path.abspath(args.work_dir or tempfile.mkdtemp(prefix="sentiflow-bench-aws-"))
    os.makedirs(args.work_dir, exist_ok=True)
    texts = corpus_texts()

    import moto  # only for its version, in the report
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; moto {moto.__version__} (auth off), "
          f"boto3 {boto3.__version__}; work dir {args.work_dir}", flush=True)
    runs = []
    for n in args.sizes:
        print(f"end to end: {n:,} items ...", flush=True)
        runs.append(measure_run(args, n, texts))
        print(f"  {runs[-1]['seconds']:.2f} s, {runs[-1]['items_per_s']:,.0f} items/s", flush=True)
    print("per-call latency ...", flush=True)
    latency = measure_latency(args, texts)

    print(f"\n`sentiflow run --once`, dynamodb:// → sqs:// → vader → s3://, {args.workers} workers, "
          f"batches of {BATCH_SIZE}, pages of {PAGE_SIZE:,}")
    print(f"| {'items':>6} | {'seconds':>8} | {'items/s':>8} | {'processed':>9} |")
    print(f"|{'-' * 8}|{'-' * 10}|{'-' * 10}|{'-' * 11}|")
    for r in runs:
        print(f"| {r['items']:>6,} | {r['seconds']:>8.2f} | {r['items_per_s']:>8,.0f} | {r['processed']:>9,} |")
    print("\nper call (boto3 → moto, one attempt each)")
    print(f"| {'call':<34} | {'where':<16} | {'calls':>5} | {'median ms':>9} | {'p90 ms':>7} |")
    print(f"|{'-' * 36}|{'-' * 18}|{'-' * 7}|{'-' * 11}|{'-' * 9}|")
    for call, by_where in latency.items():
        for where, s in by_where.items():
            print(f"| {call:<34} | {where:<16} | {s['calls']:>5} | {s['median_ms']:>9.1f} | {s['p90_ms']:>7.1f} |")
    out = os.path.join(args.work_dir, "aws-bench.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"runs": runs, "latency": latency, "workers": args.workers}, f, indent=2)
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
