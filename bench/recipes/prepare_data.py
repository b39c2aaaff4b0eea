# Builds the recipe inputs from STS-B: SimCSE sentences, AM-Softmax groups, and the list of texts to tokenize.
"""Usage: prepare_data.py STS_DIR OUT_DIR

Writes into OUT_DIR:
  simcse.txt      the distinct sentences of STS_DIR/train.tsv (both columns, first-seen order), one per line
  groups.tsv      text<TAB>group: connected components of the train pairs with score >= 4.0 (an edge joins the
                  two sentences of a pair); members are distinct texts; components with fewer than 2 members
                  are dropped (they cannot form a positive pair)
  texts.txt       every distinct text of train/dev/test, one per line, to be run through `semblance tokenize`
                  so both implementations train on identical token ids
"""
import os
import sys

GROUP_THRESHOLD = 4.0


def read_columns(path, expected):
    """(line number, fields) of each non-blank line; every line must have the columns `expected` names (tab-joined)."""
    columns = expected.count("<TAB>") + 1
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != columns:
                raise SystemExit(f"{path}:{number}: {len(fields)} columns, expected {expected}")
            yield number, fields


def read_tsv(path):
    return [(a, b, float(score)) for _, (a, b, score) in read_columns(path, "sentence1<TAB>sentence2<TAB>score")]


def distinct(texts):
    seen = {}
    for t in texts:
        seen.setdefault(t, None)
    return list(seen)


def components(pairs):
    """Union-find over texts; returns the groups as lists of texts in first-seen order, groups ordered likewise."""
    parent = {}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        for t in (a, b):
            parent.setdefault(t, t)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    groups = {}
    for t in parent:
        groups.setdefault(find(t), []).append(t)
    return list(groups.values())


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sts, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    train = read_tsv(os.path.join(sts, "train.tsv"))
    dev = read_tsv(os.path.join(sts, "dev.tsv"))
    test = read_tsv(os.path.join(sts, "test.tsv"))

    sentences = distinct(t for a, b, _ in train for t in (a, b))
    with open(os.path.join(out, "simcse.txt"), "w", encoding="utf-8") as f:
        f.writelines(s + "\n" for s in sentences)

    groups = [g for g in components((a, b) for a, b, s in train if s >= GROUP_THRESHOLD) if len(g) >= 2]
    width = len(str(len(groups)))
    with open(os.path.join(out, "groups.tsv"), "w", encoding="utf-8") as f:
        for i, members in enumerate(groups):
            f.writelines(f"{m}\tg{i:0{width}d}\n" for m in members)

    texts = distinct(t for rows in (train, dev, test) for a, b, _ in rows for t in (a, b))
    with open(os.path.join(out, "texts.txt"), "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t in texts)
    members = sum(len(g) for g in groups)
    print(f"{len(sentences)} simcse sentences, {len(groups)} groups ({members} texts, largest {max(map(len, groups))}), "
          f"{len(texts)} texts to tokenize", file=sys.stderr)


if __name__ == "__main__":
    main()
