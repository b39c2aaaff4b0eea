#!/usr/bin/env bash
# Sentences of exactly N tokens (by the model's own tokenizer) from STS-B train, so a padded PyTorch batch does no
# more work than Semblance's packed one: the no-padding row of the training comparison.
# Usage: bench/train/equal-length-sentences.sh [N=10] [COUNT=1280] > sentences.txt
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n="${1:-10}"; count="${2:-1280}"
tsv="$root/../shared/data/sts-b-en/train.tsv"
model="$root/../shared/fixtures/models/bert-tiny-uncased"
sentences="$(mktemp)"
trap 'rm -f "$sentences"' EXIT
cut -f1,2 "$tsv" | tr '\t' '\n' | awk 'NF && !seen[$0]++' > "$sentences"
"$root/semblance" tokenize --model "$model" --max-length 0 --input "$sentences" \
  | paste -d '\t' - "$sentences" \
  | python3 -c '
import json, sys
n, count, kept = int(sys.argv[1]), int(sys.argv[2]), 0
for line in sys.stdin:
    tokens, text = line.rstrip("\n").split("\t", 1)
    if len(json.loads(tokens)["ids"]) == n and kept < count:
        print(text); kept += 1
if kept < count: sys.exit(f"only {kept} sentences of {n} tokens")
' "$n" "$count"
