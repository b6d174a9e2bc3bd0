#!/usr/bin/env python3
"""The dependency order of src/, enforced (src/README.md, "Dependency order").

Every folder of src/ has a place in LAYERS, lowest first. A file may include the headers of its
own folder and of the folders before it in the list, never of a folder after it. Tests follow
the folder they test: tests/<folder>/ may include what src/<folder>/ may, and tests/support/;
a support header counts as the highest src/ folder it includes, so a test cannot reach upward
through one. bench/ may include any folder.

Usage: check_layers.py [ROOT]   (ROOT: the repository, default: this script's parent's parent)
Exit status 0 when every include points down, 1 with one line per upward include, 2 when the
list and the tree disagree (a folder of src/ that is not in LAYERS, or the other way round).
"""
import os
import re
import sys

# Lowest first. A folder's place says what it may use: everything before it.
LAYERS = [
    "core",            # ids, time, errors, JSON text, UTF-8: depends on nothing
    "observe",         # logging and the metrics registry
    "net",             # HTTP client, URLs, backoff
    "aws",             # SigV4, credentials, endpoints, AWS errors and retries
    "schedule",        # rate/cron/at expressions
    "config",          # the pipeline file -> PipelineConfig
    "observe_server",  # the /metrics and dashboard HTTP server
    "deploy",          # the Lambda zip and the SAM template (config and core only)
    "sqlite",          # the SQLite wrapper the local backends share
    "table",           # Table; LocalTable, DynamoDbTable
    "queue",           # Queue; LocalQueue, SqsQueue
    "store",           # ObjectStore; FileStore, S3Store
    "state",           # the run state: RunLog & co; SqliteRunState, DynamoDbRunState, SchedulerLock
    "sentiment",       # Analyzer; VADER, Comprehend; the line streamer
    "pipeline",        # producer, consumer, enrich, sink, results: interfaces only
    "assembly",        # the backend factory and the parts both runners assemble
    "local",           # the local runner: daemon, run driver, worker pool, ticks, live sampler
    "lambda",          # the Lambda runtime loop, handlers and bootstrap
    "cli",             # main and the commands
]

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)
SOURCE = (".h", ".cc", ".hpp", ".cpp")


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for match in INCLUDE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield line, match.group(1)


def sources(folder):
    for base, _, names in os.walk(folder):
        for name in sorted(names):
            if name.endswith(SOURCE):
                yield os.path.join(base, name)


def main(root):
    rank = {name: i for i, name in enumerate(LAYERS)}
    src = os.path.join(root, "src")
    folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    missing = [d for d in folders if d not in rank]
    gone = [d for d in LAYERS if d not in folders]
    if missing or gone:
        for d in missing:
            print(f"src/{d}/: not in scripts/check_layers.py's LAYERS; give it its place in the order")
        for d in gone:
            print(f"scripts/check_layers.py names {d}, which is not a folder of src/")
        return 2

    problems = []

    def check(path, allowed, where, support_rank=None):
        for line, target in includes(path):
            top = target.split("/", 1)[0]
            rel = os.path.relpath(path, root)
            if top == "support" and support_rank is not None:
                reached = support_rank.get(target)
                if reached is not None and reached > allowed:
                    problems.append(f"{rel}:{line}: includes {target}, which reaches src/{LAYERS[reached]}/, "
                                    f"above {where}")
                continue
            if top in rank and rank[top] > allowed:
                problems.append(f"{rel}:{line}: includes {target}: src/{top}/ is above {where} "
                                f"(src/README.md, \"Dependency order\")")

    for folder in folders:
        for path in sources(os.path.join(src, folder)):
            check(path, rank[folder], f"src/{folder}/")

    # What each support header reaches: the highest src/ folder it includes, through other
    # support headers too.
    support_dir = os.path.join(root, "tests", "support")
    direct = {}
    if os.path.isdir(support_dir):
        for path in sources(support_dir):
            name = "support/" + os.path.relpath(path, support_dir)
            direct[name] = [t for _, t in includes(path)]
    support_rank = {}

    def reach(name, seen=()):
        if name in support_rank:
            return support_rank[name]
        best = -1
        for target in direct.get(name, []):
            top = target.split("/", 1)[0]
            if top == "support" and target not in seen:
                best = max(best, reach(target, seen + (name,)))
            elif top in rank:
                best = max(best, rank[top])
        support_rank[name] = best
        return best

    for name in direct:
        reach(name)

    tests = os.path.join(root, "tests")
    for folder in sorted(os.listdir(tests)):
        path = os.path.join(tests, folder)
        if not os.path.isdir(path) or folder in ("support", "peers"):
            continue
        if folder not in rank:
            problems.append(f"tests/{folder}/: mirrors no folder of src/ (tests/ mirrors src/)")
            continue
        for file in sources(path):
            check(file, rank[folder], f"tests/{folder}/", support_rank)

    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) reach upward; the order is scripts/check_layers.py's LAYERS")
        return 1
    print(f"include order: {len(folders)} folders of src/ and their tests, every include points down")
    return 0


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(here)))
