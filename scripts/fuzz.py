#!/usr/bin/env python3
"""Runs the libFuzzer targets of a `make fuzz` build and reports what they did (docs/FUZZING.md).

    scripts/fuzz.py --build build-fuzz [--seconds 600] [--jobs 2] [--merge] [TARGET ...]

Each target fuzzes from its seed corpus (fuzz/corpus/NAME, read only) into a working corpus
(BUILD/corpus/NAME, where libFuzzer adds the inputs that found new coverage), under ASan and
UBSan, for --seconds, with libFuzzer's memory limits on (-rss_limit_mb=2048, ASan's own memory included, and
-malloc_limit_mb=512 for one allocation).
--jobs targets run at a time. Its log is BUILD/logs/NAME.log; a finding (crash, leak, timeout,
sanitizer report, memory over the limit) is saved by libFuzzer as BUILD/findings/NAME/crash-…
and the script exits 1. --merge then adds the working corpus's new coverage to fuzz/corpus/NAME
(libFuzzer's -merge=1: only inputs that add coverage are kept).

Prints one line per target: executions, executions per second, coverage (edges, `cov:`),
features (`ft:`), corpus inputs, peak memory.
"""
import argparse
import concurrent.futures
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_target(build: pathlib.Path, name: str, seconds: int) -> dict:
    binary = build / "fuzz" / f"{name}_fuzz"
    work = build / "corpus" / name
    findings = build / "findings" / name
    logs = build / "logs"
    for folder in (work, findings, logs):
        folder.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    command = [str(binary), str(work), str(ROOT / "fuzz" / "corpus" / name),
               f"-max_total_time={seconds}", "-rss_limit_mb=2048", "-malloc_limit_mb=512",
               "-timeout=10", "-max_len=4096", "-print_final_stats=1", f"-artifact_prefix={findings}/"]
    with open(log, "w") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                env={"ASAN_OPTIONS": "detect_leaks=1:allocator_may_return_null=0",
                                     "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
                                     # The targets' folders (sink, tables) in memory where there is a tmpfs.
                                     "TMPDIR": "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp",
                                     "PATH": "/usr/bin:/bin"}).returncode
    text = log.read_text(errors="replace")
    result = {"name": name, "status": status, "log": log}
    done = re.findall(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*?rss: (\d+)Mb", text)
    if not done:  # stopped early (a finding): the last status line
        done = re.findall(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*?rss: (\d+)Mb", text)
    if done:
        execs, cov, ft, corp, rss = done[-1]
        result.update(execs=int(execs), cov=int(cov), ft=int(ft), corp=int(corp), rss=int(rss))
    rate = re.search(r"stat::average_exec_per_sec:\s+(\d+)", text)
    result["rate"] = int(rate.group(1)) if rate else 0
    result["findings"] = sorted(p.name for p in findings.iterdir())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build-fuzz", type=pathlib.Path)
    parser.add_argument("--seconds", default=600, type=int)
    parser.add_argument("--jobs", default=2, type=int)
    parser.add_argument("--merge", action="store_true")
    parser.add_argument("targets", nargs="*")
    args = parser.parse_args()
    names = args.targets or sorted(p.name for p in (ROOT / "fuzz" / "corpus").iterdir() if p.is_dir())
    missing = [n for n in names if not (args.build / "fuzz" / f"{n}_fuzz").exists()]
    if missing:
        print(f"fuzz: no target {', '.join(missing)} in {args.build}/fuzz (make fuzz builds them)", file=sys.stderr)
        return 2
    print(f"fuzz: {len(names)} targets, {args.seconds} s each, {args.jobs} at a time; logs in {args.build}/logs")
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda n: run_target(args.build, n, args.seconds), names))
    failed = False
    for r in results:
        line = (f"{r['name']:<10} {r.get('execs', 0):>10,} executions  {r['rate']:>6,}/s  cov {r.get('cov', 0):>5}  "
                f"ft {r.get('ft', 0):>6}  corpus {r.get('corp', 0):>5}  rss {r.get('rss', 0)} MB")
        if r["status"] != 0 or r["findings"]:
            failed = True
            line += f"  FINDING (exit {r['status']}): {', '.join(r['findings']) or 'see ' + str(r['log'])}"
        print(line)
    if args.merge and not failed:
        for name in names:
            subprocess.run([str(args.build / "fuzz" / f"{name}_fuzz"), "-merge=1", str(ROOT / "fuzz" / "corpus" / name),
                            str(args.build / "corpus" / name)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
        print("fuzz: merged the new coverage into fuzz/corpus/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
