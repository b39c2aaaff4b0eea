# Builds the SimBERT generator's training pairs and held-out sources from ../shared/data (English only).
"""Usage: simbert_data.py DATA_DIR OUT_DIR [HELD_OUT_PER_SOURCE] [--max-pairs N]

Writes into OUT_DIR:
  pairs.tsv     a<TAB>b similar pairs: STS-B train and dev pairs scored >= 4, SNLI dev and test entailment pairs
                (SNLI test pairs whose premise is held out are left out); distinct pairs of two different sentences, first-seen order;
                --max-pairs N keeps a random N of them (seed 42), still in first-seen order
  heldout.txt   sources for evaluating generation, never seen in training: the first N distinct sentence1 of
                STS-B test and the first N distinct premises of SNLI test (default N = 100 each)
"""
import os
import random
import sys

STS_THRESHOLD = 4.0


def rows(path):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise SystemExit(f"{path}:{number}: {len(fields)} columns, expected sentence1<TAB>sentence2<TAB>score")
            yield fields


def first_distinct(texts, n):
    seen = []
    for t in texts:
        if t not in seen:
            seen.append(t)
            if len(seen) == n:
                break
    return seen


def main():
    args = sys.argv[1:]
    max_pairs = None
    if "--max-pairs" in args:
        at = args.index("--max-pairs")
        if at + 1 == len(args) or not args[at + 1].isdigit() or int(args[at + 1]) == 0:
            raise SystemExit("--max-pairs: expected a positive integer")
        max_pairs = int(args[at + 1])
        del args[at:at + 2]
    if len(args) not in (2, 3):
        raise SystemExit(__doc__)
    data, out = args[0], args[1]
    n = int(args[2]) if len(args) == 3 else 100
    sts_test = [a for a, _, _ in rows(os.path.join(data, "sts-b-en", "test.tsv"))]
    snli_test = list(rows(os.path.join(data, "snli-en", "test.tsv")))
    held_snli = first_distinct([a for a, _, _ in snli_test], n)
    held = first_distinct(sts_test, n) + held_snli
    held_set = set(held)
    pairs = {}
    for split in ("train", "dev"):
        for a, b, score in rows(os.path.join(data, "sts-b-en", f"{split}.tsv")):
            if float(score) >= STS_THRESHOLD and a != b:
                pairs.setdefault((a, b), None)
    for split in ("dev", "test"):
        for a, b, label in rows(os.path.join(data, "snli-en", f"{split}.tsv")):
            if label == "entailment" and a != b and a not in held_set and b not in held_set:
                pairs.setdefault((a, b), None)
    found = len(pairs)
    if max_pairs is not None and max_pairs < found:
        kept = set(random.Random(42).sample(range(found), max_pairs))
        pairs = {p: None for i, p in enumerate(pairs) if i in kept}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "pairs.tsv"), "w", encoding="utf-8", newline="\n") as f:
        for a, b in pairs:
            f.write(f"{a}\t{b}\n")
    with open(os.path.join(out, "heldout.txt"), "w", encoding="utf-8", newline="\n") as f:
        for t in held:
            f.write(t + "\n")
    print(f"{len(pairs)} of {found} pairs, {len(held)} held-out sources -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
