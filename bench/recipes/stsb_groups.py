#!/usr/bin/env python3
# Turns STS-B scored pairs into paraphrase groups (text<TAB>group) for `semblance train --loss am-softmax`.
"""
Rule (fixed so a PyTorch twin reads the same groups): every line `sentence1<TAB>sentence2<TAB>score` with
score >= THRESHOLD is an edge between its two distinct texts; groups are the connected components of that graph;
members are distinct texts (exact string match); components with fewer than 2 members are dropped. A group's
label is the 0-based line index of the first line (in file order) that touches any of its members, which is
stable and needs no hashing. Output: groups ordered by label, members in order of first appearance.

Why 4.0: the STS-B guidelines define 4 as "mostly equivalent, some unimportant details differ" and 5 as
"completely equivalent", so pairs at 4 or above are paraphrases an AM-Softmax positive should pull together;
3 ("roughly equivalent, some important information differs or is missing") would merge sentences that
disagree on a detail, and chaining through components would then join unrelated sentences.

Usage: python3 stsb_groups.py TRAIN.tsv [--threshold 4.0] > groups.tsv   (summary on stderr)
"""
import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("pairs", help="STS TSV: sentence1<TAB>sentence2<TAB>score")
    parser.add_argument("--threshold", type=float, default=4.0, help="minimum score for an edge (default 4.0)")
    args = parser.parse_args()

    parent: dict[str, str] = {}
    first_line: dict[str, int] = {}
    order: list[str] = []

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def add(text: str, line: int) -> None:
        if text not in parent:
            parent[text] = text
            first_line[text] = line
            order.append(text)

    edges = 0
    with open(args.pairs, encoding="utf-8", newline="") as f:
        for index, raw in enumerate(f):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                sys.exit(f"{args.pairs}:{index + 1}: {len(fields)} tab-separated columns, expected sentence1<TAB>sentence2<TAB>score")
            a, b, score = fields[0], fields[1], float(fields[2])
            if score < args.threshold or a == b:
                continue
            edges += 1
            add(a, index)
            add(b, index)
            ra, rb = find(a), find(b)
            if ra != rb:
                # Keep the root with the earlier first line so the label is the component's first line.
                if first_line[rb] < first_line[ra]:
                    ra, rb = rb, ra
                parent[rb] = ra

    groups: dict[str, list[str]] = {}
    for text in order:
        groups.setdefault(find(text), []).append(text)
    kept = sorted((first_line[root], members) for root, members in groups.items() if len(members) >= 2)
    out = sys.stdout
    for label, members in kept:
        for text in members:
            out.write(f"{text}\tg{label}\n")
    sizes = [len(m) for _, m in kept]
    print(f"{edges} pairs with score >= {args.threshold}: {len(kept)} groups, {sum(sizes)} texts, "
          f"largest {max(sizes) if sizes else 0}, pairs per epoch {sum((s + 1) // 2 for s in sizes)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
