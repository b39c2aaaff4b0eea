# Builds supervised-SimCSE triples (premise, entailment, contradiction) from SNLI rows for `semblance train --loss sup-simcse`.
"""Usage: snli_triples.py OUT.tsv SNLI.tsv [SNLI.tsv ...]

Reads premise<TAB>hypothesis<TAB>label rows (label entailment|neutral|contradiction) and writes
premise<TAB>entailment hypothesis<TAB>contradiction hypothesis lines, the 3-column format of TrainingData.cs for
sup-simcse. Per distinct premise (first-seen order), the k-th entailment hypothesis is paired with the k-th
contradiction hypothesis, cycling through the contradictions when there are fewer of them; premises lacking either
label give no triple; neutral rows are not used. Duplicate triples are written once.
"""
import sys

from prepare_data import read_columns


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out, sources = sys.argv[1], sys.argv[2:]
    premises = {}
    for path in sources:
        for number, (premise, hypothesis, label) in read_columns(path, "premise<TAB>hypothesis<TAB>label"):
            if label not in ("entailment", "neutral", "contradiction"):
                raise SystemExit(f"{path}:{number}: label {label!r}, expected entailment|neutral|contradiction")
            if not premise.strip() or not hypothesis.strip():
                raise SystemExit(f"{path}:{number}: empty sentence")
            premises.setdefault(premise, {"entailment": [], "contradiction": [], "neutral": []})[label].append(hypothesis)
    triples = {}
    for premise, by_label in premises.items():
        entailments, contradictions = by_label["entailment"], by_label["contradiction"]
        for k, positive in enumerate(entailments):
            if contradictions:
                triples.setdefault((premise, positive, contradictions[k % len(contradictions)]), None)
    with open(out, "w", encoding="utf-8") as f:
        for triple in triples:
            f.write("\t".join(triple) + "\n")
    print(f"{out}: {len(triples)} triples from {len(premises)} premises", file=sys.stderr)


if __name__ == "__main__":
    main()
