#!/usr/bin/env python3
"""Replaces the generated part of docs/PIPELINE.md with `sentiflow validate --reference`.

Usage: update_pipeline_doc.py SENTIFLOW_BINARY DOC. The test
Docs.PipelineReferenceIsGeneratedFromTheKeyTable fails until this has been run after a
change to the key table (src/config/keys.cc).
"""
import subprocess
import sys

BEGIN = "<!-- BEGIN GENERATED: sentiflow validate --reference -->\n"
END = "<!-- END GENERATED -->"


def main() -> int:
    binary, doc_path = sys.argv[1], sys.argv[2]
    reference = subprocess.run([binary, "validate", "--reference"], check=True, capture_output=True, text=True).stdout
    with open(doc_path, encoding="utf-8") as f:
        doc = f.read()
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < 0:
        print(f"{doc_path}: markers not found", file=sys.stderr)
        return 2
    with open(doc_path, "w", encoding="utf-8") as f:
        f.write(doc[: start + len(BEGIN)] + reference + doc[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
