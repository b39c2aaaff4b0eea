#!/usr/bin/env python3
"""Turns the raw outputs of bench/quality/real-models.sh into the Markdown tables of docs/BENCHMARKS.md.

usage: python3 bench/quality/summarize.py WORKDIR
Reads WORKDIR/en/<model>/*.txt, WORKDIR/zh/<set>/*.txt and WORKDIR/timings.tsv (whatever parts exist);
prints Markdown on stdout. Scores are Spearman x100 as `semblance eval sts` prints them (Pearson is in the raw files).
"""
import collections
import os
import sys

MODELS = [("minilm", "all-MiniLM-L6-v2"), ("arctic", "snowflake-arctic-embed-xs")]
POOLINGS = ["cls", "mean", "first-last-avg", "last-avg", "max", "pooler"]
DIMS = ["0", "256", "128", "64"]  # 0 = every direction with variance (the kept count is shown)
ZH_SETS = [("sts-b-zh-test", "STS-B zh test"), ("sts-b-zh-dev", "STS-B zh dev"), ("atec-dev", "ATEC dev"),
           ("bq-dev", "BQ dev"), ("lcqmc-dev", "LCQMC dev"), ("pawsx-dev", "PAWSX dev")]


def read_eval(path):
    """Rows of an `eval sts` table: [(pooling, whitening, dims, spearman, pearson)]; None when the file is missing."""
    if not os.path.exists(path):
        return None
    rows, in_table = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if parts[:2] == ["pooling", "whitening"]:
                in_table = True
            elif in_table and len(parts) == 5:
                rows.append((parts[0], parts[1], int(parts[2]), parts[3], parts[4]))
            elif line.startswith("spearman="):
                in_table = False
    return rows


def whitened(rows, pooling):
    """{requested dims: "score" or "score (k)" for dims 0} of one pooling's whitened rows, in --dims order."""
    mine = [r for r in rows if r[0] == pooling]
    out = {}
    for requested, r in zip(DIMS, mine):
        out[requested] = f"{r[3]} ({r[2]})" if requested == "0" else r[3]
    return out


def english(work):
    lines = []
    for split in ["test", "dev"]:
        tables = {m: {k: read_eval(os.path.join(work, "en", m, f"{split}.{k}.txt")) for k in ["none", "fit"]} for m, _ in MODELS}
        if all(t["none"] is None for t in tables.values()):
            continue
        lines.append(f"**STS-B en {split}** (Spearman x100; *all* = every direction with variance, the count in brackets)\n")
        lines.append("| model | pooling | no whitening | fit on evaluated: all | 256 | 128 | 64 | fit on train: all | 256 | 128 | 64 |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for m, name in MODELS:
            none, fit = tables[m]["none"], tables[m]["fit"]
            if not none:
                continue
            for p in POOLINGS:
                if not any(r[0] == p for r in none):
                    lines.append(f"| {name} | {p} | — (no pooler layer in this model) |" + " |" * 8)
                    continue
                base = next(r[3] for r in none if r[0] == p)
                f = whitened(fit or [], p)
                train_rows = read_eval(os.path.join(work, "en", m, f"{split}.train.{p}.txt")) or []
                t = whitened(train_rows, p)
                cells = [base] + [f.get(d, "not run") for d in DIMS] + [t.get(d, "not run") for d in DIMS]
                lines.append(f"| {name} | {p} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def chinese(work):
    rows = []
    for key, label in ZH_SETS:
        d = os.path.join(work, "zh", key)
        if not os.path.isdir(d):
            continue
        pairs = open(os.path.join(d, "pairs")).read().strip() if os.path.exists(os.path.join(d, "pairs")) else "?"
        rows.append((key, label, pairs, d))
    if not rows:
        return []
    lines = ["**Chinese** (Spearman x100 against the gold score or the 0/1 label; each model with its own pooling: "
             "MiniLM mean, Arctic CLS; whitening fitted on the evaluated sentences, all directions with variance)\n",
             "| set | pairs | MiniLM | MiniLM + whitening | Arctic | Arctic + whitening | default encoder (fitted on the set) | TF-IDF |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    dims_lines = ["", "Whitening with fewer dimensions (fitted on the evaluated sentences):\n",
                  "| set | MiniLM 256 | 128 | 64 | Arctic 256 | 128 | 64 |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, label, pairs, d in rows:
        cells, dcells = [], []
        for m, _ in MODELS:
            none = read_eval(os.path.join(d, f"{m}.none.txt"))
            fit = read_eval(os.path.join(d, f"{m}.fit.txt"))
            cells.append(none[0][3] if none else "")
            cells.append(fit[0][3] if fit else "")
            dcells += [r[3] for r in (fit or [])[1:4]] or ["", "", ""]
        default = read_eval(os.path.join(d, "default.txt")) or []
        cells.append(next((r[3] for r in default if r[0] != "tfidf"), ""))
        cells.append(next((r[3] for r in default if r[0] == "tfidf"), ""))
        every = os.path.join(d, "every")
        shown = label
        if os.path.exists(every):
            source = open(os.path.join(d, "source-pairs")).read().strip()
            shown += f" (1 pair in {open(every).read().strip()} of {source})"
        lines.append(f"| {shown} | {pairs} | " + " | ".join(cells) + " |")
        dims_lines.append(f"| {shown} | " + " | ".join(dcells) + " |")
    return lines + dims_lines + [""]


def timings(work):
    path = os.path.join(work, "timings.tsv")
    if not os.path.exists(path):
        return []
    groups, totals = collections.OrderedDict(), []
    for line in open(path, encoding="utf-8"):
        name, seconds = line.rstrip("\n").split("\t")
        if name.startswith("total"):  # the script's own wall-clock line; a resumed run counts only its share
            continue
        totals.append(int(seconds))
        words = name.split()
        if words[0] == "en":
            if words[2] == "train-fit":
                group = f"en {words[1]}: whiten fit on train"
            else:
                kind = {"none": "no whitening", "fit": "whitening fit", "train": "train whitening"}[words[3]]
                group = f"en {words[1]} {words[2]}: eval, {kind}"
        else:
            group = f"zh {words[1]}"
        count, total = groups.get(group, (0, 0))
        groups[group] = (count + 1, total + int(seconds))
    lines = ["| part | runs | seconds |", "| --- | ---: | ---: |"]
    lines += [f"| {g} | {c} | {s} |" for g, (c, s) in groups.items()]
    lines.append(f"| **all runs** | {len(totals)} | **{sum(totals)}** |")
    return lines + [""]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py WORKDIR")
    work = sys.argv[1]
    print("\n".join(english(work) + chinese(work) + timings(work)))


if __name__ == "__main__":
    main()
