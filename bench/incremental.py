#!/usr/bin/env python3
"""Incremental scans (issue 18): a second run over an unchanged table sends nothing, in seconds.

What it measures (docs/PERFORMANCE.md, "Incremental scans"): over N synthetic items (the items of
bench/pipeline.py, default 1,000,000) in a local table with `source.incremental: true`,
  1. the first `run --once` (every item sent, analysed, stored, its fingerprint recorded);
  2. the second `run --once` over the unchanged table: it must send nothing; its wall seconds;
  3. after changing 1% of the texts (`table import` of N/100 items with new texts), a third run:
     it must send exactly those.
Each run's summary must report the expected sent and unchanged counts, or the script fails.

Usage: python3 bench/incremental.py --sentiflow build/sentiflow [--items N] [--work-dir DIR] [--keep]
Python 3 standard library only.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline as bench_pipeline  # noqa: E402  (the items and the machine's description)


class BenchError(Exception):
    pass


def timed_run(sentiflow, pipeline):
    t0 = time.perf_counter()
    result = subprocess.run([sentiflow, "--log-level", "warn", "run", pipeline, "--once", "--no-progress"],
                            capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise BenchError(f"run failed ({result.returncode}): {result.stderr[-2000:]}")
    m = re.search(r"items\s+([\d,]+) scanned · ([\d,]+) sent · ([\d,]+) unchanged", result.stdout)
    if not m:
        raise BenchError(f"no items line in the summary: {result.stdout}")
    scanned, sent, unchanged = (int(g.replace(",", "")) for g in m.groups())
    return {"seconds": seconds, "scanned": scanned, "sent": sent, "unchanged": unchanged}


def expect(run, what, **counts):
    for name, value in counts.items():
        if run[name] != value:
            raise BenchError(f"{what}: {name} is {run[name]:,}, not {value:,}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentiflow", default=os.path.join(bench_pipeline.ROOT, "build", "sentiflow"))
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--work-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "sentiflow-bench"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    n = args.items
    os.makedirs(args.work_dir, exist_ok=True)
    items, _ = bench_pipeline.generate(args.work_dir, n, args.seed)
    directory = os.path.join(args.work_dir, f"incremental-{n}")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    pipeline = os.path.join(directory, "pipeline.yaml")
    with open(pipeline, "w", encoding="utf-8") as f:
        f.write("name: bench-incremental\nstate_dir: state\n"
                "source: {table: local://items, key: id, text: text, page_size: 1000, incremental: true}\n"
                "queue: {visibility_timeout: 60s}\n"
                "consumer: {batch_size: 1000, concurrency: {min: 2, max: 2}}\n"
                "sink: {store: out/}\n")
    subprocess.run([args.sentiflow, "--log-level", "warn", "table", "import", "--pipeline", pipeline, items],
                   check=True, capture_output=True)
    os.sync()

    first = timed_run(args.sentiflow, pipeline)
    expect(first, "the first run", scanned=n, sent=n, unchanged=0)
    second = timed_run(args.sentiflow, pipeline)
    expect(second, "the second run over the unchanged table", scanned=n, sent=0, unchanged=n)

    # 1% of the items get a new text.
    changed = os.path.join(directory, "changed.jsonl")
    step = 100
    with open(items, encoding="utf-8") as fi, open(changed, "w", encoding="utf-8") as fo:
        for i, line in enumerate(fi):
            if i % step == 0:
                item = json.loads(line)
                item["text"] = item["text"] + " (edited)"
                fo.write(json.dumps(item, ensure_ascii=False) + "\n")
    n_changed = (n + step - 1) // step
    subprocess.run([args.sentiflow, "--log-level", "warn", "table", "import", "--pipeline", pipeline, changed],
                   check=True, capture_output=True)
    third = timed_run(args.sentiflow, pipeline)
    expect(third, "the run after 1% changed", scanned=n, sent=n_changed, unchanged=n - n_changed)

    print(f"machine: {bench_pipeline.machine()}")
    print(f"{'run':<44} {'seconds':>8} {'scanned':>10} {'sent':>10} {'unchanged':>10}")
    for name, r in (("1. first (every item)", first), ("2. second, table unchanged", second),
                    (f"3. after {n_changed:,} texts changed", third)):
        print(f"{name:<44} {r['seconds']:>8.2f} {r['scanned']:>10,} {r['sent']:>10,} {r['unchanged']:>10,}")
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"incremental.py: {e}", file=sys.stderr)
        sys.exit(1)
