#!/usr/bin/env python3
"""The Lambda package's figures (docs/PERFORMANCE.md, "Lambda"): zip size, cold start, warm overhead.

What it measures:
  - zip size: `sentiflow package examples/aws.yaml` (the deployable zip) in bytes;
  - cold start: from just before the process starts (fork/exec of the unzipped `bootstrap`, with
    Lambda's environment only) to the first GET /2018-06-01/runtime/invocation/next at a Runtime
    API server in this script — the launcher, the bundled loader and its ~43 libraries, the
    pipeline file, the handler's clients; median of --starts starts. Twice: a consumer on local
    parts (no network at all), and the deployable zip of examples/aws.yaml, consumer and
    producer, whose initialisation makes its AWS calls (DescribeTable of the state and source
    tables, GetQueueUrl, GetQueueAttributes) against a moto_server this script starts
    (AWS_ENDPOINT_URL, plain HTTP on 127.0.0.1, auth off: no TLS handshake and no network
    distance, which AWS adds); the number of requests moto saw per start is printed too.
    Needs boto3 and moto_server (bench/aws.py's); without them, or with --no-moto, that part is
    skipped with a message;
  - warm overhead: one process answers --invocations events in a row. Per invocation the server
    takes the time from handing the event out (the `next` response written) to the answer's POST,
    and the whole cycle from one `next` to the following one. With an empty SQS event the work
    is nil, so the cycle is the runtime's own cost (HTTP both ways, JSON, the EMF line, the log
    line); with one record per event the handler's own time (sentiflow_batch_seconds_sum of the
    EMF line it prints for that invocation) is subtracted from each cycle; what remains also holds
    the run state's count update (a SQLite commit here, an UpdateItem on AWS), handler work outside
    that timer. Goals: cold start < 50 ms, overhead < 1 ms.
The server is http.server with keep-alive and TCP_NODELAY; its own floor is measured too: a
Python client doing the same GET/POST loop against it (the "null runtime" line).

Usage: python3 bench/lambda.py --sentiflow build/sentiflow [--starts 20] [--invocations 1000]
           [--work-dir DIR] [--keep] [--no-moto]
Python 3 standard library only, but for the moto part. Exit status 1 when a run fails (a wrong
answer, no answer, an init error).
"""

import argparse
import http.client
import http.server
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL_COLD_MS = 50.0
GOAL_OVERHEAD_MS = 1.0
PIPELINE = """name: lambdabench
state_dir: state
source: {table: local://items, key: id, text: text}
queue: {url: local://lambdabench, visibility_timeout: 60s}
sink: {store: out/}
"""


class BenchError(Exception):
    pass


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def unzip(zip_path, root):
    """As Lambda does: the files with the Unix modes of their external attributes."""
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            target = z.extract(info, root)
            os.chmod(target, (info.external_attr >> 16) & 0o7777)


class Api(http.server.ThreadingHTTPServer):
    """A Runtime API: hands out queued events, records when each `next` came and each answer."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Condition()
        self.events = []          # bodies still to hand out
        self.next_times = []      # monotonic ns of every `next`
        self.out_times = {}       # request id -> ns when its event was written
        self.answer_times = {}    # request id -> ns when its answer came
        self.answers = {}         # request id -> body
        self.errors = []
        self.counter = 0
        self.generation = 0       # a `next` of an earlier, killed process never takes a later event

    @property
    def address(self):
        return f"127.0.0.1:{self.server_address[1]}"

    def reset(self):
        with self.lock:
            self.events, self.next_times, self.out_times, self.answer_times, self.answers = [], [], {}, {}, {}
            self.errors = []
            self.counter = 0
            self.generation += 1
            self.lock.notify_all()

    def queue(self, bodies):
        with self.lock:
            self.events.extend(bodies)
            self.lock.notify_all()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Lambda's API

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Content-Type: application/json"]
        head += [f"{k}: {v}" for k, v in headers]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)  # one write

    def do_GET(self):
        api = self.server
        if self.path != "/2018-06-01/runtime/invocation/next":
            return self.reply(404)
        now = time.monotonic_ns()
        with api.lock:
            generation = api.generation
            api.next_times.append(now)
            api.lock.notify_all()
            while not api.events:
                if not api.lock.wait(timeout=60) or generation != api.generation:
                    return self.reply(500)
            body = api.events.pop(0)
            api.counter += 1
            rid = f"req-{api.counter}"
            api.out_times[rid] = time.monotonic_ns()  # handed out: the write below starts now
        deadline = int(time.time() * 1000) + 60_000
        self.reply(200, body.encode(), [("Lambda-Runtime-Aws-Request-Id", rid),
                                        ("Lambda-Runtime-Deadline-Ms", deadline),
                                        ("Lambda-Runtime-Invoked-Function-Arn",
                                         "arn:aws:lambda:us-east-1:000000000000:function:lambdabench")])

    def do_POST(self):
        api = self.server
        now = time.monotonic_ns()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        parts = self.path.split("/")
        with api.lock:
            if len(parts) == 6 and parts[3] == "invocation" and parts[5] == "response":
                api.answer_times[parts[4]] = now
                api.answers[parts[4]] = body
            else:
                api.errors.append((self.path, body))
            api.lock.notify_all()
        self.reply(202, b'{"status":"OK"}')


def lambda_env(api, root):
    return {"AWS_LAMBDA_RUNTIME_API": api.address, "_HANDLER": "consumer", "LAMBDA_TASK_ROOT": root,
            "AWS_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": "lambdabench-consumer",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "TZ": ":UTC", "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin", "SENTIFLOW_RUN_STATE": "local"}


# examples/aws.yaml's resources, as the SAM template names them (RESULTS_BUCKET unset).
AWS_EXAMPLE = {"source": "companies", "key": "name", "state": "fang-sentiment-state",
               "queue": "fang-sentiment-producer", "dead_letter": "fang-sentiment-dlq",
               "bucket": "fang-sentiment-results", "name": "fang-sentiment"}


# One line of moto's (werkzeug's) request log: "POST / HTTP/1.1" 200 -
REQUEST_LINE = re.compile(rb'"[A-Z]+ \S+ HTTP/1\.[01]" \d{3} ')


def aws_env(api, root, handler, endpoint):
    """What the template's function gets on Lambda, with moto as every service's endpoint."""
    env = lambda_env(api, root)
    del env["SENTIFLOW_RUN_STATE"]  # the run state in the DynamoDB table, as deployed
    env.update({"_HANDLER": handler, "AWS_LAMBDA_FUNCTION_NAME": f"{AWS_EXAMPLE['name']}-{handler}",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
                "SENTIFLOW_STATE_TABLE": AWS_EXAMPLE["state"]})
    return env


def aws_cold_starts(api, root, n, work):
    """Cold starts of the deployable zip (examples/aws.yaml) against a moto_server of its own:
    {handler: (times in ms, requests moto saw per start)}, or None when moto is not available."""
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import aws as aws_bench  # bench/aws.py: its moto_server wrapper (needs boto3)
    except ImportError as e:
        print(f"lambda.py: no cold start against moto ({e}); pip install boto3 'moto[server]'", file=sys.stderr)
        return None
    if shutil.which("moto_server") is None:
        print("lambda.py: no cold start against moto: moto_server is not on the PATH", file=sys.stderr)
        return None
    moto_log = os.path.join(work, "moto.log")
    out = {}
    with aws_bench.Moto(moto_log) as moto:
        ddb = moto.client("dynamodb")
        for table, keys in ((AWS_EXAMPLE["source"], [(AWS_EXAMPLE["key"], "HASH")]),
                            (AWS_EXAMPLE["state"], [("pk", "HASH"), ("sk", "RANGE")])):
            ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
                             KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys])
        sqs = moto.client("sqs")
        dlq = sqs.create_queue(QueueName=AWS_EXAMPLE["dead_letter"])["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.create_queue(QueueName=AWS_EXAMPLE["queue"],
                         Attributes={"VisibilityTimeout": "300", "RedrivePolicy": json.dumps(
                             {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})
        moto.client("s3").create_bucket(Bucket=AWS_EXAMPLE["bucket"])

        def requests_so_far():
            moto.log.flush()
            with open(moto_log, "rb") as f:
                return sum(1 for line in f if REQUEST_LINE.search(line))

        for handler in ("consumer", "producer"):
            times, requests = [], []
            with open(os.path.join(work, f"cold-aws-{handler}.log"), "w") as log:
                for _ in range(n):
                    api.reset()
                    before = requests_so_far()
                    t0 = time.monotonic_ns()
                    proc = subprocess.Popen([os.path.join(root, "bootstrap")],
                                            env=aws_env(api, root, handler, moto.endpoint),
                                            stdout=log, stderr=log, cwd=root)
                    try:
                        wait(api, lambda a: a.next_times or a.errors, f"the {handler}'s first next")
                        if api.errors:
                            raise BenchError(f"the {handler} failed to start: {api.errors}")
                        times.append((api.next_times[0] - t0) / 1e6)
                    finally:
                        proc.kill()
                        proc.wait()
                    requests.append(requests_so_far() - before)
            out[handler] = (times, requests)
    return out


def wait(api, condition, what, limit=60):
    with api.lock:
        if not api.lock.wait_for(lambda: condition(api), timeout=limit):
            raise BenchError(f"timed out waiting for {what}; errors: {api.errors}")


def cold_starts(api, root, n, log):
    times = []
    for _ in range(n):
        api.reset()
        t0 = time.monotonic_ns()
        proc = subprocess.Popen([os.path.join(root, "bootstrap")], env=lambda_env(api, root),
                                stdout=log, stderr=log, cwd=root)
        try:
            wait(api, lambda a: a.next_times, "the first next")
            times.append((api.next_times[0] - t0) / 1e6)
        finally:
            proc.kill()
            proc.wait()
    return times


def sqs_event(records):
    rs = []
    for i, text in enumerate(records):
        body = json.dumps({"v": 1, "run": "manual-20261126T000000.000Z", "key": f"k{i}", "item": {"id": f"k{i}", "text": text}})
        rs.append({"messageId": f"m{i}", "receiptHandle": f"h{i}", "body": body,
                   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000)),
                                  "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000))},
                   "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:lambdabench", "awsRegion": "us-east-1"})
    return json.dumps({"Records": rs})


def warm(api, root, n, event, log_path):
    """n invocations of `event` in one process: per-invocation cycle and answer times (ms), and
    the handler's own seconds from its EMF lines."""
    api.reset()
    with open(log_path, "w") as err, tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([os.path.join(root, "bootstrap")], env=lambda_env(api, root),
                                stdout=out, stderr=err, cwd=root)
        try:
            wait(api, lambda a: a.next_times, "the first next")
            api.queue([event] * (n + 1))  # the first one warms up and is not counted
            wait(api, lambda a: len(a.answer_times) >= n + 1 and len(a.next_times) >= n + 2, f"{n + 1} answers", 30 + n // 10)
        finally:
            proc.kill()
            proc.wait()
        out.seek(0)
        works = []  # the handler's own ms per invocation, from its one EMF line each, in order
        for line in out:
            if '"_aws"' in line:
                works.append(json.loads(line).get("sentiflow_batch_seconds_sum", 0.0) * 1000.0)
    expected = None
    for rid, body in api.answers.items():
        answer = json.loads(body)
        if answer.get("batchItemFailures") != []:
            raise BenchError(f"{rid}: {body}")
        expected = body
    if len(api.answers) != n + 1 or expected is None:
        raise BenchError(f"{len(api.answers)} answers for {n + 1} events")
    # The k-th `next` (from 0) takes req-(k+1); skip the warm-up invocation req-1.
    cycles = [(b - a) / 1e6 for a, b in zip(api.next_times[1:-1], api.next_times[2:])]
    answers = [(api.answer_times[f"req-{i}"] - api.out_times[f"req-{i}"]) / 1e6 for i in range(2, n + 2)]
    work = works[1:] if len(works) == n + 1 else [0.0] * n  # no EMF line where nothing changed (empty events)
    beyond = [c - w for c, w in zip(cycles, work)]
    return cycles, answers, statistics.mean(work), beyond


def null_runtime(api, n):
    """The server's own floor: a Python client doing the loop with one kept-alive connection."""
    api.reset()
    api.queue(['{"Records": []}'] * n)
    conn = http.client.HTTPConnection(api.address)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(n):
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        r = conn.getresponse()
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        r.read()
        conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body=b'{"batchItemFailures":[]}')
        conn.getresponse().read()
    conn.close()
    return [(b - a) / 1e6 for a, b in zip(api.next_times, api.next_times[1:])]


def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model or platform.processor()}, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sentiflow", default=os.path.join(ROOT, "build/sentiflow"))
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--invocations", type=int, default=1000)
    ap.add_argument("--work-dir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-moto", action="store_true", help="skip the cold start against moto")
    a = ap.parse_args()
    binary = os.path.abspath(a.sentiflow)
    work = a.work_dir or tempfile.mkdtemp(prefix="sentiflow-lambda-bench-")
    os.makedirs(work, exist_ok=True)
    api = Api()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        deploy_zip = os.path.join(work, "aws.zip")
        run([binary, "package", os.path.join(ROOT, "examples/aws.yaml"), "--out", deploy_zip])
        size = os.path.getsize(deploy_zip)
        pipeline = os.path.join(work, "pipeline.yaml")
        with open(pipeline, "w") as f:
            f.write(PIPELINE)
        bench_zip = os.path.join(work, "bench.zip")
        run([binary, "package", pipeline, "--out", bench_zip])
        root = os.path.join(work, "task")
        shutil.rmtree(root, ignore_errors=True)
        unzip(bench_zip, root)
        task_pipeline = os.path.join(root, "pipeline.yaml")
        run([binary, "queue", "send", "--pipeline", task_pipeline, "{}"])
        run([binary, "queue", "purge", "--yes", "--pipeline", task_pipeline])
        os.makedirs(os.path.join(root, "out"), exist_ok=True)

        with open(os.path.join(work, "cold.log"), "w") as log:
            cold = cold_starts(api, root, a.starts, log)
        aws_cold = None
        if not a.no_moto:
            aws_root = os.path.join(work, "aws-task")
            shutil.rmtree(aws_root, ignore_errors=True)
            unzip(deploy_zip, aws_root)
            aws_cold = aws_cold_starts(api, aws_root, a.starts, work)
        version = []
        for _ in range(a.starts):
            t0 = time.monotonic_ns()
            subprocess.run([os.path.join(root, "bootstrap"), "--version"], env={"LAMBDA_TASK_ROOT": root},
                           capture_output=True, check=True)
            version.append((time.monotonic_ns() - t0) / 1e6)
        empty_cycles, empty_answers, empty_work, _ = warm(api, root, a.invocations, '{"Records": []}',
                                                       os.path.join(work, "warm-empty.log"))
        one_cycles, one_answers, one_work, one_beyond = warm(api, root, a.invocations, sqs_event(["I love this, it is great!"]),
                                                 os.path.join(work, "warm-one.log"))
        floor = null_runtime(api, a.invocations)
    finally:
        api.shutdown()
        if not a.keep and not a.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    result = {
        "machine": machine(),
        "zip_bytes": size,
        "cold_start_ms": {"median": statistics.median(cold), "min": min(cold), "max": max(cold), "n": len(cold)},
        "bootstrap_version_ms": {"median": statistics.median(version)},
        "cold_start_aws_moto_ms": None if aws_cold is None else {
            handler: {"median": statistics.median(t), "min": min(t), "max": max(t), "n": len(t),
                      "requests_per_start": statistics.median(r)}
            for handler, (t, r) in aws_cold.items()},
        "warm_empty_ms": {"cycle_median": statistics.median(empty_cycles), "cycle_p99": p(empty_cycles, 0.99),
                          "answer_median": statistics.median(empty_answers), "work_mean": empty_work},
        "warm_one_record_ms": {"cycle_median": statistics.median(one_cycles), "cycle_p99": p(one_cycles, 0.99),
                               "answer_median": statistics.median(one_answers), "work_mean": one_work,
                               "overhead_median": statistics.median(one_beyond)},
        "null_runtime_ms": {"cycle_median": statistics.median(floor)},
        "invocations": a.invocations,
    }
    print(f"machine: {result['machine']}")
    print(f"zip (examples/aws.yaml): {size:,} bytes ({size / 1048576:.1f} MiB)")
    c = result["cold_start_ms"]
    print(f"cold start, local parts, process start -> first next: median {c['median']:.1f} ms "
          f"(min {c['min']:.1f}, max {c['max']:.1f}, {c['n']} starts; goal < {GOAL_COLD_MS:.0f} ms)")
    for handler, m in (result["cold_start_aws_moto_ms"] or {}).items():
        print(f"cold start, examples/aws.yaml's {handler} against moto (plain HTTP, loopback): median "
              f"{m['median']:.1f} ms (min {m['min']:.1f}, max {m['max']:.1f}, {m['n']} starts; "
              f"{m['requests_per_start']:.0f} requests to moto per start)")
    print(f"  for comparison, `bootstrap --version` start to exit: median {result['bootstrap_version_ms']['median']:.1f} ms")
    e, o = result["warm_empty_ms"], result["warm_one_record_ms"]
    print(f"warm, empty SQS event ({a.invocations} invocations): next->next median {e['cycle_median']:.3f} ms, "
          f"p99 {e['cycle_p99']:.3f} ms; event out->answer in median {e['answer_median']:.3f} ms; "
          f"handler work {e['work_mean']:.4f} ms")
    print(f"warm, one record per event: next->next median {o['cycle_median']:.3f} ms, p99 {o['cycle_p99']:.3f} ms; "
          f"handler work {o['work_mean']:.3f} ms; overhead beyond the work {o['overhead_median']:.3f} ms "
          f"(goal < {GOAL_OVERHEAD_MS:.0f} ms)")
    print(f"null runtime (Python client, the server's floor): next->next median "
          f"{result['null_runtime_ms']['cycle_median']:.3f} ms")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"lambda.py: {e}", file=sys.stderr)
        sys.exit(1)
