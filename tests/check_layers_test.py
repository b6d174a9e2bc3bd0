#!/usr/bin/env python3
"""scripts/check_layers.py fails on what it exists to catch: a copy of the tree with one upward
include planted at a time (in a test, through a support header, in src/), and a folder missing
from its list. The real tree passing is the Layers.IncludeOrder test."""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = os.path.join(ROOT, "scripts", "check_layers.py")
failures = []


def run(root):
    p = subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def expect(name, root, code, *needles):
    rc, out = run(root)
    ok = rc == code and all(n in out for n in needles)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {rc}")
    if not ok:
        failures.append(name)
        print(out)


def copy_tree(dst):
    for part in ("src", "tests"):
        shutil.copytree(os.path.join(ROOT, part), os.path.join(dst, part),
                        ignore=shutil.ignore_patterns("node_modules", "venv", "*.json", "data"))


def plant(path, line):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(line + "\n" + text)


with tempfile.TemporaryDirectory() as tmp:
    def fresh(name):
        d = os.path.join(tmp, name)
        copy_tree(d)
        return d

    expect("the tree as it is", fresh("clean"), 0, "every include points down")

    d = fresh("test-upward")
    plant(os.path.join(d, "tests", "table", "local_table_test.cc"), '#include "cli/commands.h"')
    expect("a table test including cli/", d, 1, "tests/table/local_table_test.cc:1: includes cli/commands.h")

    d = fresh("support-upward")
    plant(os.path.join(d, "tests", "support", "poll.h"), '#include "local/local_runner.h"')
    expect("a support header reaching local/ from a lower test", d, 1, "includes support/poll.h, which reaches src/local/")

    d = fresh("src-upward")
    plant(os.path.join(d, "src", "core", "error.h"), '#include "pipeline/sink.h"')
    expect("core/ including pipeline/", d, 1, "src/core/error.h:1: includes pipeline/sink.h")

    d = fresh("state-into-assembly")
    plant(os.path.join(d, "src", "state", "run_state.h"), '#include "assembly/backends.h"')
    expect("state/ reaching the factory", d, 1, "src/state/run_state.h:1")

    d = fresh("unknown-folder")
    os.makedirs(os.path.join(d, "src", "newpart"))
    expect("a folder without a place", d, 2, "src/newpart/: not in")

print(f"{6 - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
