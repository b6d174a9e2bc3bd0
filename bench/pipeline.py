#!/usr/bin/env python3
"""The whole pipeline end to end: `sentiflow run FILE --once` over N synthetic items.

What it measures (the issue's acceptance, docs/PERFORMANCE.md "Pipeline end to end"):
  - items/s of one `run --once` — table scan, durable local queue, VADER, sink — for 1 and 2
    workers (and more where the machine has more cores), and for 2 processes on one state
    directory (the first schedules and consumes, the second only consumes);
  - bare VADER on the same texts (`sentiflow sentiment --format tsv --threads 1`), and the
    pipeline efficiency: best end-to-end items/s / bare VADER sentences/s;
  - the serial fraction Amdahl's law fits to 1 vs n workers and 1 vs n processes (Karp-Flatt);
  - peak RSS of every run, and of the best configuration at N/4 and N (flat in table size?).
With --listen-overhead, only this instead: the overhead of `run --listen` (serving /metrics and
the dashboard) on the items/s of 1 process with 2 workers (--workers W), --repeats runs without and
with, alternating, while a thread here scrapes /metrics and polls /api/live once a second each;
target < 2%. Written to WORK_DIR/pipeline-listen-overhead-N.json.

Items are JSON Lines {"id": "item-0000001", "text": ..., "n": 1} whose texts are drawn, with a
fixed seed, from the four human-rated VADER corpora (data/corpora/*_GroundTruth.txt), so the
efficiency is measured on real sentences. The table of each configuration is loaded by
`sentiflow table import` before the clock starts; only `run --once` is timed (wall clock from
the start of the process to its end, start-up included). Every run's summary must report N
items processed, or the script fails.

Usage: python3 bench/pipeline.py --sentiflow build/sentiflow [--items 1000000] [--workers 1,2]
           [--processes 2] [--batch-size 1000] [--work-dir DIR] [--quick] [--keep]
       python3 bench/pipeline.py --listen-overhead [--workers 2] [--repeats 3] [--items N | --quick]
Python 3 standard library only. The generated items are cached in the work dir by (N, seed).
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPORA = ("tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets")
TARGET_ITEMS_PER_S = 100_000
TARGET_PEAK_MB = 300
QUICK_ITEMS = 50_000
TARGET_LISTEN_OVERHEAD_PERCENT = 2.0


class BenchError(Exception):
    """A run that failed or did not process every item: the figures would be wrong."""


# ---------------------------------------------------------------------------------------------
# Input


def corpus_texts():
    """The text (third tab field) of every line of the four corpora, in file order."""
    texts = []
    for name in CORPORA:
        path = os.path.join(ROOT, "data", "corpora", f"{name}_GroundTruth.txt")
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            for line in f.read().split("\n"):
                fields = line.rstrip("\r").split("\t", 2)
                if len(fields) == 3 and fields[2].strip():
                    texts.append(fields[2])
    return texts


def generate(work_dir, n, seed):
    """Writes (once per (n, seed)) the items and the same texts one a line; returns both paths."""
    items = os.path.join(work_dir, f"items-{n}-{seed}.jsonl")
    texts = os.path.join(work_dir, f"texts-{n}-{seed}.txt")
    if os.path.exists(items) and os.path.exists(texts):
        return items, texts
    corpus = corpus_texts()
    rng = random.Random(seed)
    width = max(7, len(str(n)))
    # Written under temporary names and renamed, so an interrupted run leaves no half file.
    with open(items + ".tmp", "w", encoding="utf-8") as fi, open(texts + ".tmp", "w", encoding="utf-8") as ft:
        for i in range(1, n + 1):
            text = corpus[rng.randrange(len(corpus))]
            fi.write(json.dumps({"id": f"item-{i:0{width}d}", "text": text, "n": i}, ensure_ascii=False))
            fi.write("\n")
            ft.write(text)
            ft.write("\n")
    os.replace(texts + ".tmp", texts)
    os.replace(items + ".tmp", items)
    return items, texts


def pipeline_file(directory, items, workers, batch_size, engine="vader"):
    """The pipeline of one configuration, in its own folder (state and sink beside it)."""
    path = os.path.join(directory, "pipeline.yaml")
    # JSON strings are YAML double-quoted scalars: a path with spaces or colons stays one value.
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "name: bench-pipeline\n"
            "state_dir: state\n"
            f"source: {{table: local://items, key: id, text: text, seed: {json.dumps(items)}, page_size: 1000}}\n"
            "queue: {visibility_timeout: 60s, durability: normal}\n"
            f"consumer: {{batch_size: {batch_size}, concurrency: {{min: {workers}, max: {workers}}}}}\n"
            f"sentiment: {{engine: {engine}}}\n"
            "sink: {store: out/, format: jsonl}\n"
        )
    return path


# ---------------------------------------------------------------------------------------------
# Processes


class Child:
    """A started process whose stdout and stderr go to files; wait() gives its rusage."""

    def __init__(self, argv, directory, label, timeout_s):
        self.argv = argv
        self.label = label
        self.stdout_path = os.path.join(directory, f"{label}.stdout")
        self.stderr_path = os.path.join(directory, f"{label}.stderr")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.started = time.perf_counter()
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.timed_out = False
        self.timer = threading.Timer(timeout_s, self._kill)
        self.timer.daemon = True
        self.timer.start()

    def _kill(self):
        self.timed_out = True
        try:
            self.proc.send_signal(signal.SIGTERM)
            time.sleep(5)
            self.proc.kill()
        except ProcessLookupError:
            pass

    def wait(self):
        """Reaps the process; returns (exit status, seconds since start, peak RSS in KiB, CPU seconds)."""
        _, status, usage = os.wait4(self.proc.pid, 0)
        ended = time.perf_counter()
        self.timer.cancel()
        self.proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not reap it again
        return self.proc.returncode, ended - self.started, usage.ru_maxrss, usage.ru_utime + usage.ru_stime

    def stdout(self):
        with open(self.stdout_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stderr_tail(self, lines=20):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def check(self, code):
        if self.timed_out:
            raise BenchError(f"{self.label}: timed out: {' '.join(self.argv)}\n{self.stderr_tail()}")
        if code != 0:
            raise BenchError(f"{self.label}: exit status {code}: {' '.join(self.argv)}\n{self.stderr_tail()}")


class Scraper:
    """While one run lasts, what a Prometheus scrape a second and one open dashboard cost.

    Finds the server's URL in the run's JSON log (stderr: the line "serving metrics and the
    dashboard" and its "url"; the run was started with --listen 127.0.0.1:0), then GETs / once
    (the page loading) and, once a second until finish(), /metrics and /api/live (the latter as
    the dashboard polls it: ?since=SEQ once it has points). A thread of this script: its own CPU
    is on the same cores as the run's, as a local Prometheus and browser would be.
    """

    LOG_MSG = "serving metrics and the dashboard"

    def __init__(self, child, period_s=1.0):
        self.child = child
        self.period_s = period_s
        self.url = None
        self.stats = {"metrics_ok": 0, "live_ok": 0, "page_ok": 0, "refused": 0, "bad": []}
        # No proxy: an http_proxy in the environment must not see requests to 127.0.0.1.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="scraper", daemon=True)
        self.thread.start()

    def _find_url(self, state):
        """Reads what the log has gained since the last look; the URL once its line is there."""
        with open(self.child.stderr_path, "rb") as f:
            f.seek(state["offset"])
            chunk = f.read()
        state["offset"] += len(chunk)
        lines = (state["partial"] + chunk).split(b"\n")
        state["partial"] = lines.pop()  # a line still being written
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("msg") == self.LOG_MSG and record.get("url"):
                return str(record["url"]).rstrip("/")
        return None

    def _get(self, path):
        """(status, body); status None where nothing answered (the server has stopped)."""
        try:
            with self.opener.open(self.url + path, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, b""
        except (urllib.error.URLError, OSError):
            return None, b""

    def _count(self, path, status, key):
        if status == 200:
            self.stats[key] += 1
            if self.stats["refused"]:  # refusals are expected only once the run is ending
                self.stats["bad"].append(f"GET {path}: answered after an earlier request was refused")
        elif status is None:
            self.stats["refused"] += 1
        else:
            self.stats["bad"].append(f"GET {path}: {status}")

    def _loop(self):
        state = {"offset": 0, "partial": b""}
        while self.url is None:
            self.url = self._find_url(state)
            if self.url is None and self.stopping.wait(0.005):
                return
        status, _ = self._get("/")
        self._count("/", status, "page_ok")
        seq = 0
        next_at = time.monotonic()
        while not self.stopping.is_set():
            status, _ = self._get("/metrics")
            self._count("/metrics", status, "metrics_ok")
            path = "/api/live" + (f"?since={seq}" if seq > 0 else "")
            status, body = self._get(path)
            self._count(path, status, "live_ok")
            if status == 200:
                try:
                    seq = int(json.loads(body).get("seq", seq))
                except (ValueError, AttributeError):
                    self.stats["bad"].append(f"GET {path}: not a JSON object")
            next_at += self.period_s
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def finish(self):
        """Stops the thread; what it saw: URL, answers counted, anything but 200 or a refusal."""
        self.stopping.set()
        self.thread.join(10)
        return {"url": self.url, **self.stats}


def run_checked(argv, what):
    result = subprocess.run(argv, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        raise BenchError(f"{what}: exit status {result.returncode}: {' '.join(argv)}\n{result.stderr[-4000:]}")
    return result.stdout


def wait_for_line(path, needle, child, deadline_s):
    """Polls a log file until it holds `needle` (the first process has started its run)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with open(path, encoding="utf-8", errors="replace") as f:
            if needle in f.read():
                return
        if child.proc.poll() is not None:
            raise BenchError(f"{child.label} ended before '{needle}':\n{child.stderr_tail()}")
        time.sleep(0.002)
    raise BenchError(f"{child.label}: no '{needle}' within {deadline_s} s:\n{child.stderr_tail()}")


def parse_summary(text):
    """The figures of the run summary `run --once` prints on stdout."""

    def number(pattern):
        m = re.search(pattern, text)
        if m is None:
            return None
        text_value = m.group(1).replace(",", "")
        return float(text_value) if "." in text_value else int(text_value)

    return {
        "processed": number(r"processed\s+([\d,]+) stored"),
        "failed_receives": number(r"stored · ([\d,]+) failed receives"),
        "dead_letters": number(r"dead letters\s+([\d,]+)"),
        "runner_seconds": number(r"finished in ([\d.]+) s"),
        "runner_items_per_s": number(r"throughput\s+([\d,]+) items/s"),
    }


# ---------------------------------------------------------------------------------------------
# Measurements


def measure_pipeline(args, items, n, workers, processes, label, log_options=("--log-level", "warn"),
                     run_options=(), watch=None):
    """One configuration on a fresh state: import (untimed), then the timed run(s).

    log_options: the global options of the timed command(s); run_options: more options of `run`;
    watch: called with the (first) process as soon as it is started, it answers an object whose
    finish() is called once every process has ended (or the run failed) and whose answer goes into
    the result as "watch" (the --listen-overhead scraper).
    """
    directory = os.path.join(args.work_dir, f"run-{label}-{n}")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    pipeline = pipeline_file(directory, items, workers, args.batch_size, args.engine)
    report = json.loads(run_checked(
        [args.sentiflow, "--log-level", "warn", "table", "import", "--pipeline", pipeline, "--json", items],
        f"{label}: table import"))
    imported = report.get("imported")
    if imported != n:
        raise BenchError(f"{label}: the import loaded {imported} items, not {n}: {report}")
    os.sync()  # the import's writes are not left to the kernel's flusher during the timed run

    timeout = max(300.0, n / 2000.0)
    base = [args.sentiflow, *log_options, "run", pipeline, "--once", "--no-progress", *run_options]
    watcher = None
    t0 = time.perf_counter()
    try:
        if processes == 1:
            children = [Child(base, directory, "run", timeout)]
        else:
            # The first process must hold the scheduler lock and have started the run before the
            # others look: a consumer that finds no unfinished run and an empty queue ends at once.
            first = Child([args.sentiflow, "--log-level", "info", "--log-format", "json", "run", pipeline, "--once",
                           "--no-progress", *run_options], directory, "run-1", timeout)
            children = [first]
            watcher = watch(first) if watch else None
            wait_for_line(first.stderr_path, '"msg":"run started"', first, 60)
            children += [Child(base, directory, f"run-{i}", timeout) for i in range(2, processes + 1)]
        if watch and watcher is None:
            watcher = watch(children[0])
        waited = []
        for child in children:
            waited.append((child, *child.wait()))
            if waited[-1][1] != 0:  # the others would wait for a run that does not finish
                for other in children[len(waited):]:
                    other.proc.terminate()
        wall = time.perf_counter() - t0
    finally:
        # Stopped however the run ended; its verdict counts only once the run has succeeded.
        watched = watcher.finish() if watcher else None
    for child, code, _, _, _ in waited:
        child.check(code)
    summary = parse_summary(children[0].stdout())
    if summary["processed"] != n:
        raise BenchError(f"{label}: the run processed {summary['processed']} items, not {n}:\n{children[0].stdout()}")
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    rss = [kib for _, _, _, kib, _ in waited]
    cpu = sum(seconds for _, _, _, _, seconds in waited)
    return {
        "label": label,
        "items": n,
        "workers_per_process": workers,
        "processes": processes,
        "seconds": wall,
        "items_per_s": n / wall,
        "cpu_seconds": cpu,  # user + system, all processes: how busy the cores were
        "cpu_share": cpu / wall / (os.cpu_count() or 1),
        "peak_rss_mib": max(rss) / 1024,
        "peak_rss_mib_per_process": [kib / 1024 for kib in rss],
        "runner": summary,
        **({"watch": watched} if watcher else {}),
    }


def measure_vader(args, texts, n, repeats):
    """Bare VADER, one thread, over the same texts; the best of `repeats` runs."""
    best = None
    for i in range(repeats):
        child = Child([args.sentiflow, "sentiment", "--file", texts, "--format", "tsv", "--threads", "1"],
                      args.work_dir, f"vader-{i}", max(300.0, n / 10000.0))
        code, seconds, kib, _ = child.wait()
        child.check(code)
        os.remove(child.stdout_path)  # the results themselves are not needed
        os.remove(child.stderr_path)
        if best is None or seconds < best["seconds"]:
            best = {"seconds": seconds, "sentences_per_s": n / seconds, "peak_rss_mib": kib / 1024}
    return best


def median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def spread(values):
    """(max - min) / median: how far apart the runs of one side are."""
    return (max(values) - min(values)) / median(values)


def measure_listen_overhead(args, items, n, workers):
    """The same run without and with `--listen 127.0.0.1:0` and a Scraper, alternating (without,
    with, without, ...) so that a drift of the machine falls on both sides; medians of each side."""
    log_options = ("--log-level", "info", "--log-format", "json")  # both sides: only --listen differs
    runs = {"without": [], "with": []}
    chronological = []
    # One run first that counts for neither side: the first run after the items were generated
    # meets a colder page cache and binary than the others, and it would always be a "without".
    print(f"warm-up run (not counted): {n:,} items ...", flush=True)
    warmup = measure_pipeline(args, items, n, workers, 1, "warm-up", log_options)
    print(f"  {warmup['seconds']:.2f} s, {warmup['items_per_s']:,.0f} items/s", flush=True)
    for i in range(args.repeats):
        for side in ("without", "with"):
            label = f"1 process, {workers} worker{'s' if workers > 1 else ''}, {side} --listen"
            print(f"{label} ({i + 1}/{args.repeats}): {n:,} items ...", flush=True)
            if side == "with":
                r = measure_pipeline(args, items, n, workers, 1, label, log_options,
                                     ("--listen", "127.0.0.1:0"), Scraper)
                w = r["watch"]
                if w["url"] is None:
                    raise BenchError(f"{label}: no '{Scraper.LOG_MSG}' line with a url in the run's log")
                if w["bad"] or w["metrics_ok"] == 0:
                    raise BenchError(f"{label}: /metrics did not answer 200 ({w['metrics_ok']} scrapes): {w}")
                print(f"  {r['seconds']:.2f} s, {r['items_per_s']:,.0f} items/s; scraped {w['metrics_ok']} x "
                      f"/metrics, {w['live_ok']} x /api/live", flush=True)
            else:
                r = measure_pipeline(args, items, n, workers, 1, label, log_options)
                print(f"  {r['seconds']:.2f} s, {r['items_per_s']:,.0f} items/s", flush=True)
            r["side"] = side
            runs[side].append(r)
            chronological.append(r)

    def side(rs):
        rates = [r["items_per_s"] for r in rs]
        own = [r["runner"]["runner_items_per_s"] for r in rs if r["runner"]["runner_items_per_s"]]
        return {"items_per_s": rates, "median_items_per_s": median(rates), "spread": spread(rates),
                "median_runner_items_per_s": median(own) if own else None,
                "median_cpu_seconds": median([r["cpu_seconds"] for r in rs]),
                "median_peak_rss_mib": median([r["peak_rss_mib"] for r in rs])}

    without, with_ = side(runs["without"]), side(runs["with"])
    overhead = (1 - with_["median_items_per_s"] / without["median_items_per_s"]) * 100
    # Each "with" run beside the "without" run just before it, for the record: a run ends on the
    # runner's 100 ms ticks, so on short runs a pair differs by whole ticks either way; the
    # target is judged on the medians of the sides (take enough items that a tick is small).
    pairs = [(1 - w["items_per_s"] / wo["items_per_s"]) * 100 for wo, w in zip(runs["without"], runs["with"])]
    paired = median(pairs)
    runner = None
    if without["median_runner_items_per_s"] and with_["median_runner_items_per_s"]:
        runner = (1 - with_["median_runner_items_per_s"] / without["median_runner_items_per_s"]) * 100
    return {
        "workers": workers,
        "repeats": args.repeats,
        "order": "alternating: without, with, without, with, ...",
        "without": without,
        "with": with_,
        "overhead_percent": overhead,
        "paired_overheads_percent": pairs,
        "paired_overhead_percent": paired,
        "runner_overhead_percent": runner,  # on the runs' own items/s (start-up and shut-down left out)
        "cpu_overhead_percent": (with_["median_cpu_seconds"] / without["median_cpu_seconds"] - 1) * 100,
        "target_percent": TARGET_LISTEN_OVERHEAD_PERCENT,
        "met": overhead < TARGET_LISTEN_OVERHEAD_PERCENT,
        "runs": chronological,  # each with its "side"
        "warmup": warmup,
    }


def karp_flatt(r1, rn, n):
    """Serial fraction f with speedup S = rn/r1 on n: f = (1/S - 1/n) / (1 - 1/n)."""
    s = rn / r1
    return (1 / s - 1 / n) / (1 - 1 / n)


# ---------------------------------------------------------------------------------------------
# Report


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as f:
            mem_gib = int(f.readline().split()[1]) / (1024 * 1024)
    except OSError:
        mem_gib = 0.0
    return f"{model}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, {platform.system()} {platform.release()}"


def build_type(sentiflow):
    cache = os.path.join(os.path.dirname(os.path.abspath(sentiflow)), "CMakeCache.txt")
    try:
        with open(cache, encoding="utf-8") as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", f.read(), re.M)
            return (m.group(1) if m else "") or "RelWithDebInfo (the project's default)"
    except OSError:
        return "unknown"


def print_report(result):
    n = result["items"]
    print()
    print(f"sentiflow pipeline end to end: {n:,} items, batch_size {result['batch_size']}, durability normal")
    print(f"machine: {result['machine']}; build: {result['build_type']}; {result['date']}")
    print(f"load average (1 min) before / after: {result['load_before']:.2f} / {result['load_after']:.2f}")
    print()
    print(f"{'configuration':<30} {'items':>10} {'seconds':>8} {'run s':>6} {'items/s':>10} {'CPU s':>7} "
          f"{'cores busy':>10} {'peak RSS MiB':>13}")
    for r in result["runs"]:
        rss = " + ".join(f"{m:.0f}" for m in r["peak_rss_mib_per_process"])
        run_s = r["runner"]["runner_seconds"]
        print(f"{r['label']:<30} {r['items']:>10,} {r['seconds']:>8.2f} {run_s if run_s is not None else 0:>6.1f} "
              f"{r['items_per_s']:>10,.0f} "
              f"{r['cpu_seconds']:>7.2f} {r['cpu_share']:>10.0%} {rss:>13}")
    v = result["vader"]
    print(f"{'bare VADER, 1 thread (tsv)':<30} {n:>10,} {v['seconds']:>8.2f} {'':>6} {v['sentences_per_s']:>10,.0f} "
          f"{'':>7} {'':>10} {v['peak_rss_mib']:>13.0f}")
    print("(seconds: the whole command, start-up and shut-down included, which items/s is; run s: the run's own\n"
          " time from its summary; CPU s: user + system of all its processes; cores busy: CPU s / seconds / cores)")
    print()
    best = result["best"]
    print(f"pipeline efficiency: {best['items_per_s']:,.0f} items/s ({best['label']}) / "
          f"{v['sentences_per_s']:,.0f} sentences/s = {result['efficiency']:.1%}")
    for a in result["amdahl"]:
        print(f"Amdahl (Karp-Flatt), {a['what']}: speedup {a['speedup']:.2f} on {a['n']} -> serial fraction "
              f"{a['serial_fraction']:.2f}")
    m = result["memory"]
    if m:
        print(f"peak RSS of {m['label']}: {m['rss_small_mib']:.0f} MiB at {m['items_small']:,} items, "
              f"{m['rss_full_mib']:.0f} MiB at {m['items_full']:,} (x{m['ratio']:.2f})")
    peak = max(r["peak_rss_mib"] for r in result["runs"])
    ok_rate = best["items_per_s"] >= TARGET_ITEMS_PER_S
    ok_mem = peak * 1.048576 < TARGET_PEAK_MB  # the target is in MB
    note = "" if n >= 1_000_000 else f" (the target is for 1,000,000 items; this run had {n:,})"
    print(f"target >= {TARGET_ITEMS_PER_S:,} items/s: {'met' if ok_rate else 'NOT met'} "
          f"({best['items_per_s']:,.0f}){note}")
    print(f"target peak memory < {TARGET_PEAK_MB} MB: {'met' if ok_mem else 'NOT met'} "
          f"(largest {peak * 1.048576:.0f} MB){note}")


def print_listen_report(result):
    o = result["listen_overhead"]
    n = result["items"]
    print()
    print(f"overhead of --listen (a scrape of /metrics and a poll of /api/live a second): {n:,} items, "
          f"1 process, {o['workers']} workers, {o['repeats']} runs each, alternating")
    print(f"machine: {result['machine']}; build: {result['build_type']}; {result['date']}")
    print(f"load average (1 min) before / after: {result['load_before']:.2f} / {result['load_after']:.2f}")
    print()
    print(f"{'':<16} {'median items/s':>14} {'spread':>7} {'run own /s':>11} {'CPU s':>6} {'RSS MiB':>8}  runs (items/s)")
    for name in ("without", "with"):
        sd = o[name]
        own = sd["median_runner_items_per_s"]
        print(f"{name + ' --listen':<16} {sd['median_items_per_s']:>14,.0f} {sd['spread']:>7.1%} "
              f"{own if own is not None else 0:>11,.0f} {sd['median_cpu_seconds']:>6.2f} "
              f"{sd['median_peak_rss_mib']:>8.0f}  {', '.join(f'{x:,.0f}' for x in sd['items_per_s'])}")
    print("(spread: (max - min) / median of one side's runs; run own /s: the runs' summaries, start-up and\n"
          " shut-down left out; CPU s: user + system of the process, medians)")
    print()
    runner = o["runner_overhead_percent"]
    print(f"overhead: 1 - {o['with']['median_items_per_s']:,.0f} / {o['without']['median_items_per_s']:,.0f} = "
          f"{o['overhead_percent']:.2f}% of items/s"
          + (f"; {runner:.2f}% of the runs' own items/s" if runner is not None else "")
          + f"; CPU time {o['cpu_overhead_percent']:+.2f}%")
    print(f"paired (each with-run against the without-run before it): "
          f"{', '.join(f'{x:+.2f}%' for x in o['paired_overheads_percent'])}; median {o['paired_overhead_percent']:+.2f}%")
    noise = max(o["without"]["spread"], o["with"]["spread"])
    caveat = ""
    if noise * 100 >= TARGET_LISTEN_OVERHEAD_PERCENT:
        caveat = (f" (the runs of one side spread by up to {noise:.1%}: read it with the CPU time and "
                  "the pairs; more --repeats on a quieter machine narrow it)")
    print(f"target overhead < {TARGET_LISTEN_OVERHEAD_PERCENT:.0f}% (medians of the sides): "
          f"{'met' if o['met'] else 'NOT met'} ({o['overhead_percent']:+.2f}%){caveat}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentiflow", default=os.path.join(ROOT, "build", "sentiflow"), help="the binary")
    parser.add_argument("--items", type=int, help=f"items in the table (default 1,000,000; --quick {QUICK_ITEMS:,})")
    parser.add_argument("--workers", help="worker counts to time in one process (default 1,2 and up to the cores)")
    parser.add_argument("--processes", type=int, default=2, help="processes of 1 worker on one state (0: none)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--engine", default="vader", choices=["vader", "fasttext"],
                        help="the pipeline's sentiment.engine (fasttext: the built-in model)")
    parser.add_argument("--seed", type=int, default=20261126, help="seed of the synthetic items")
    parser.add_argument("--work-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "sentiflow-bench"),
                        help="where the items are cached and the runs' state goes")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_ITEMS:,} items")
    parser.add_argument("--vader-repeats", type=int, default=3, help="bare VADER runs; the best counts")
    parser.add_argument("--no-memory", action="store_true", help="skip the N/4 run of the memory comparison")
    parser.add_argument("--keep", action="store_true", help="keep each run's state and sink")
    parser.add_argument("--listen-overhead", action="store_true",
                        help="only the overhead of --listen with a scraper, 1 process of --workers (default 2) "
                             "workers, --repeats runs without and with, alternating")
    parser.add_argument("--repeats", type=int, default=3, help="--listen-overhead: runs of each side")
    args = parser.parse_args()

    args.sentiflow = os.path.abspath(args.sentiflow)
    if not os.access(args.sentiflow, os.X_OK):
        parser.error(f"no {args.sentiflow}: build first (make build), or pass --sentiflow")
    n = args.items or (QUICK_ITEMS if args.quick else 1_000_000)
    if args.workers:
        workers = sorted({int(w) for w in args.workers.split(",")})
    else:
        cores = os.cpu_count() or 1
        workers = sorted({1, 2, cores} | {w for w in (4, 8, 16, 32, 64) if w <= cores})
    if n < 4 or min(workers) < 1 or args.processes < 0 or args.processes == 1:
        parser.error("--items >= 4, --workers >= 1 each, --processes 0 or >= 2")
    if args.listen_overhead and (args.repeats < 1 or (args.workers and len(workers) != 1)):
        parser.error("--listen-overhead takes --repeats >= 1 and one --workers count")
    os.makedirs(args.work_dir, exist_ok=True)
    args.work_dir = os.path.abspath(args.work_dir)

    result = {
        "items": n,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "sentiflow": args.sentiflow,
        "version": run_checked([args.sentiflow, "--version"], "--version").strip(),
        "build_type": build_type(args.sentiflow),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": os.getloadavg()[0],
        "runs": [],
    }
    print(f"generating {n:,} items (seed {args.seed}) in {args.work_dir} ...", flush=True)
    items, texts = generate(args.work_dir, n, args.seed)

    if args.listen_overhead:
        # The best in-process configuration of the measurements above: 2 workers.
        result["listen_overhead"] = measure_listen_overhead(args, items, n, workers[0] if args.workers else 2)
        result["load_after"] = os.getloadavg()[0]
        print_listen_report(result)
        write_result(result, os.path.join(args.work_dir, f"pipeline-listen-overhead-{n}.json"))
        return

    configs = [(w, 1, f"1 process, {w} worker{'s' if w > 1 else ''}") for w in workers]
    if args.processes:
        configs.append((1, args.processes, f"{args.processes} processes, 1 worker each"))
    for w, p, label in configs:
        print(f"{label}: {n:,} items ...", flush=True)
        r = measure_pipeline(args, items, n, w, p, label)
        print(f"  {r['seconds']:.2f} s, {r['items_per_s']:,.0f} items/s, peak RSS {r['peak_rss_mib']:.0f} MiB",
              flush=True)
        result["runs"].append(r)

    print(f"bare VADER on the same {n:,} texts ...", flush=True)
    result["vader"] = measure_vader(args, texts, n, args.vader_repeats)

    best = max(result["runs"], key=lambda r: r["items_per_s"])
    result["best"] = {"label": best["label"], "items_per_s": best["items_per_s"]}
    result["efficiency"] = best["items_per_s"] / result["vader"]["sentences_per_s"]

    result["amdahl"] = []
    by_workers = {r["workers_per_process"]: r for r in result["runs"] if r["processes"] == 1}
    if 1 in by_workers:
        r1 = by_workers[1]["items_per_s"]
        for w, r in sorted(by_workers.items()):
            if w > 1:
                result["amdahl"].append({"what": f"1 vs {w} workers", "n": w, "speedup": r["items_per_s"] / r1,
                                         "serial_fraction": karp_flatt(r1, r["items_per_s"], w)})
        for r in result["runs"]:
            if r["processes"] > 1:
                p = r["processes"]
                result["amdahl"].append({"what": f"1 vs {p} processes", "n": p, "speedup": r["items_per_s"] / r1,
                                         "serial_fraction": karp_flatt(r1, r["items_per_s"], p)})

    result["memory"] = None
    if not args.no_memory:
        small = n // 4
        w, p = best["workers_per_process"], best["processes"]
        print(f"{best['label']}: {small:,} items, for the memory comparison ...", flush=True)
        small_items, _ = generate(args.work_dir, small, args.seed)
        r = measure_pipeline(args, small_items, small, w, p, best["label"])
        result["memory"] = {"label": best["label"], "items_small": small, "items_full": n,
                            "rss_small_mib": r["peak_rss_mib"], "rss_full_mib": best["peak_rss_mib"],
                            "ratio": best["peak_rss_mib"] / r["peak_rss_mib"], "run": r}

    result["load_after"] = os.getloadavg()[0]
    print_report(result)
    write_result(result, os.path.join(args.work_dir, f"pipeline-{n}.json"))


def write_result(result, out):
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"bench/pipeline.py: {e}", file=sys.stderr)
        sys.exit(1)
