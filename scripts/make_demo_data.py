#!/usr/bin/env python3
"""Writes data/demo/vader_corpora.jsonl: VADER's four human-rated corpora as one demo table.

Usage: make_demo_data.py [--corpora DIR] [--output FILE]   (defaults: data/corpora/ and
data/demo/vader_corpora.jsonl of this repository). Python 3 standard library only.

Each line of a ground-truth file (ID TAB MEAN-RATING TAB TEXT, CRLF or LF, read as
src/sentiment/evaluation.cc parse_ground_truth reads it) becomes one JSON object:

    {"doc": "tweets/1", "corpus": "tweets", "id": "1", "rating": 2.726315789, "text": "..."}

`rating` is the mean rating exactly as the file writes it (a JSON number, not re-rounded:
the pipeline keeps numbers' text from table to result). The output is deterministic: corpora
in the order tweets, movie, amazon, nyt (src/sentiment/evaluation.cc paper_corpora()), then
file order; LF line ends, UTF-8, non-ASCII characters as themselves.

A line whose bytes are not valid UTF-8 cannot be put into JSON as it is: its invalid bytes
become U+FFFD and the line is reported on stderr (the files shipped have none).
"""
import argparse
import json
import os
import re
import sys

# (corpus name, file) in paper_corpora() order.
CORPORA = [
    ("tweets", "tweets_GroundTruth.txt"),
    ("movie", "movieReviewSnippets_GroundTruth.txt"),
    ("amazon", "amazonReviewSnippets_GroundTruth.txt"),
    ("nyt", "nytEditorialSnippets_GroundTruth.txt"),
]
EXPECTED_TOTAL = 23_703

# RFC 8259 section 6: the rating's text must be a JSON number as it stands.
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


def read_corpus(path):
    """Yields (line number, id, mean text, text) for each non-empty line of a ground-truth file."""
    with open(path, "rb") as f:
        contents = f.read()
    for number, raw in enumerate(contents.split(b"\n"), start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw.decode("utf-8", errors="replace")
            print(f"{path}:{number}: not valid UTF-8 ({e.reason} at byte {e.start}); "
                  "invalid bytes written as U+FFFD", file=sys.stderr)
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise SystemExit(f"{path}:{number}: expected ID<TAB>MEAN-RATING<TAB>TEXT")
        identifier, mean, text = parts
        if not JSON_NUMBER.match(mean):
            raise SystemExit(f"{path}:{number}: '{mean}' is not a JSON number")
        yield number, identifier, mean, text


def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=os.path.join(root, "data", "corpora"))
    parser.add_argument("--output", default=os.path.join(root, "data", "demo", "vader_corpora.jsonl"))
    args = parser.parse_args()

    lines = []
    seen = set()
    counts = {}
    for corpus, file_name in CORPORA:
        counts[corpus] = 0
        for number, identifier, mean, text in read_corpus(os.path.join(args.corpora, file_name)):
            doc = f"{corpus}/{identifier}"
            if doc in seen:  # the pipeline's key: a second one would overwrite the first
                raise SystemExit(f"{file_name}:{number}: the key {doc} is there twice")
            seen.add(doc)
            strings = {k: json.dumps(v, ensure_ascii=False) for k, v in
                       (("doc", doc), ("corpus", corpus), ("id", identifier), ("text", text))}
            lines.append(f'{{"doc": {strings["doc"]}, "corpus": {strings["corpus"]}, "id": {strings["id"]}, '
                         f'"rating": {mean}, "text": {strings["text"]}}}\n')
            counts[corpus] += 1

    total = sum(counts.values())
    if total != EXPECTED_TOTAL:
        raise SystemExit(f"{total} texts, expected {EXPECTED_TOTAL}")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    for corpus, count in counts.items():
        print(f"{corpus}\t{count}")
    print(f"total\t{total}\t{args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
