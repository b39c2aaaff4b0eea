# Builds the SimBERT generator's training pairs and held-out sources from ../shared/data (English only).
"""Usage: simbert_data.py DATA_DIR OUT_DIR [HELD_OUT_PER_SOURCE]

Writes into OUT_DIR:
  pairs.tsv     a<TAB>b similar pairs: STS-B train and dev pairs scored >= 4, SNLI dev and test entailment pairs
                (SNLI test pairs whose premise is held out are left out); distinct pairs, first-seen order
  heldout.txt   sources for evaluating generation, never seen in training: the first N distinct sentence1 of
                STS-B test and the first N distinct premises of SNLI test (default N = 100 each)
"""
import os
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
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    data, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) == 4 else 100
    sts_test = [a for a, _, _ in rows(os.path.join(data, "sts-b-en", "test.tsv"))]
    snli_test = list(rows(os.path.join(data, "snli-en", "test.tsv")))
    held_snli = first_distinct([a for a, _, _ in snli_test], n)
    held = first_distinct(sts_test, n) + held_snli
    held_set = set(held)
    pairs = {}
    for split in ("train", "dev"):
        for a, b, score in rows(os.path.join(data, "sts-b-en", f"{split}.tsv")):
            if float(score) >= STS_THRESHOLD:
                pairs.setdefault((a, b), None)
    for split in ("dev", "test"):
        for a, b, label in rows(os.path.join(data, "snli-en", f"{split}.tsv")):
            if label == "entailment" and a not in held_set and b not in held_set:
                pairs.setdefault((a, b), None)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "pairs.tsv"), "w", encoding="utf-8", newline="\n") as f:
        for a, b in pairs:
            if a != b:
                f.write(f"{a}\t{b}\n")
    with open(os.path.join(out, "heldout.txt"), "w", encoding="utf-8", newline="\n") as f:
        for t in held:
            f.write(t + "\n")
    print(f"{len(pairs)} pairs, {len(held)} held-out sources -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
