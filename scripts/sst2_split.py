#!/usr/bin/env python3
"""Splits SST-2's training file into train, dev and test parts without leaks, for the built-in
fastText model (data/fasttext/MODEL_CARD.md).

    scripts/sst2_split.py ../shared/data/sst2/train.tsv OUT_DIR

SST-2's training file holds every phrase of its sentences, so a random split would test on
phrases whose sentence, or whose parts, the model was trained on. This one holds out whole
sentences, as SST-2's validation set does: a phrase that no longer phrase contains is taken as a
sentence; a seeded 10% of the sentences are held out (half dev, for selection and autotune; half
test, reported), and every phrase that is a part of a held-out sentence leaves the training part.
Writes OUT_DIR/{train,dev,test}.tsv (text TAB label, with the header line) and prints the counts.
The parts are never committed: the model is shipped, never its data.
"""
import random
import sys
from pathlib import Path


def spans(tokens):
    for i in range(len(tokens)):
        for j in range(i + 1, len(tokens) + 1):
            yield " ".join(tokens[i:j])


def main():
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    rows = []
    for n, line in enumerate(source.read_text(encoding="utf-8").splitlines()):
        if n == 0:
            continue  # header
        text, label = line.rsplit("\t", 1)
        rows.append((" ".join(text.split()), label))
    by_length = sorted(set(rows), key=lambda r: (-len(r[0].split()), r))
    parts_of_sentences, sentences = set(), []
    for text, label in by_length:
        if text in parts_of_sentences:
            continue
        sentences.append((text, label))
        parts_of_sentences.update(spans(text.split()))
    random.Random(20261208).shuffle(sentences)
    held = sentences[: len(sentences) // 10]
    dev, test = held[: len(held) // 2], held[len(held) // 2:]
    held_parts = set()
    for text, _ in held:
        held_parts.update(spans(text.split()))
    train = [(t, l) for t, l in rows if t not in held_parts]
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("dev", dev), ("test", test)):
        with open(out / f"{name}.tsv", "w", encoding="utf-8") as f:
            f.write("text\tlabel\n")
            for text, label in part:
                f.write(f"{text}\t{label}\n")
    print(f"{len(rows)} phrases, {len(sentences)} sentences; train {len(train)} phrases, "
          f"dev {len(dev)} sentences, test {len(test)} sentences")


if __name__ == "__main__":
    main()
