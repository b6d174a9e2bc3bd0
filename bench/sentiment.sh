#!/usr/bin/env bash
# Whole-command throughput of `sentiflow sentiment` (issue 3: >= 480,000 sentences/s on one
# thread; issue 17: the fasttext engine >= 500,000/s on one thread, 2 threads >= 1.8x), measured
# with hyperfine on the four VADER corpora repeated 20 times (474,060 lines), beside the
# baselines anyone can rerun: NLTK's VADER (Debian python3-nltk) on the same lexicon, and
# fastText's own command line (Debian fasttext) predicting with the same built-in model.
#
# Usage: bench/sentiment.sh [BUILD_DIR]      (default: build; run from anywhere)
# Needs hyperfine, /usr/bin/python3 with nltk and fasttext (scripts/setup installs them).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
sentiflow=$build/sentiflow
[[ -x $sentiflow ]] || { echo "no $sentiflow: build first (make build), or pass the build folder" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One document a line: the text field of every corpus line (CRLF files without a final newline).
for corpus in tweets movieReviewSnippets amazonReviewSnippets nytEditorialSnippets; do
  tr -d '\r' < "$root/data/corpora/${corpus}_GroundTruth.txt" | cut -f3-
done > "$work/corpora.txt"
for _ in $(seq 20); do cat "$work/corpora.txt"; done > "$work/corpora20.txt"
once=$(wc -l < "$work/corpora.txt")
twenty=$(wc -l < "$work/corpora20.txt")
# NLTK reads every line of the lexicon, so it gets the same file without its final newline.
head -c -1 "$root/data/vader/vader_lexicon.txt" > "$work/vader_lexicon.txt"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores); input: $twenty lines ($once x 20)"
hyperfine --warmup 2 --runs 10 --export-json "$work/sentiflow.json" \
  -n "sentiflow, 1 thread, jsonl" "'$sentiflow' sentiment --file '$work/corpora20.txt' --threads 1" \
  -n "sentiflow, 1 thread, tsv" "'$sentiflow' sentiment --file '$work/corpora20.txt' --threads 1 --format tsv" \
  -n "sentiflow, 2 threads, jsonl" "'$sentiflow' sentiment --file '$work/corpora20.txt' --threads 2" \
  -n "sentiflow fasttext, 1 thread, jsonl" "'$sentiflow' sentiment --engine fasttext --file '$work/corpora20.txt' --threads 1" \
  -n "sentiflow fasttext, 2 threads, jsonl" "'$sentiflow' sentiment --engine fasttext --file '$work/corpora20.txt' --threads 2" \
  -n "fasttext predict-prob (CLI), same model" "fasttext predict-prob '$root/data/fasttext/sst2.ftz' '$work/corpora20.txt' 2 > /dev/null"
# NLTK takes minutes for the 20-fold input; once through the corpora is enough for a rate.
hyperfine --warmup 1 --runs 3 --export-json "$work/nltk.json" \
  -n "NLTK VADER (python3-nltk), 1 thread" "/usr/bin/python3 '$root/bench/sentiment_nltk.py' '$work/vader_lexicon.txt' '$work/corpora.txt'"

/usr/bin/python3 - "$work/sentiflow.json" "$twenty" "$work/nltk.json" "$once" <<'PY'
import json, sys
rates = {}
for path, lines in ((sys.argv[1], int(sys.argv[2])), (sys.argv[3], int(sys.argv[4]))):
    for r in json.load(open(path))["results"]:
        rates[r["command"]] = (lines / r["mean"], r["mean"], r["stddev"] or 0.0)
base = next(v[0] for k, v in rates.items() if k.startswith("NLTK"))
print()
print(f"{'command':<38} {'sentences/s':>12} {'mean s':>8} {'± s':>6} {'vs NLTK':>8}")
for name, (rate, mean, sd) in rates.items():
    print(f"{name:<38} {rate:>12,.0f} {mean:>8.3f} {sd:>6.3f} {rate / base:>7.0f}x")
PY
