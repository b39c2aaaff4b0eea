#!/usr/bin/env bash
# Writes the recipe inputs (SimCSE sentences, AM-Softmax groups) and tokenizes every STS-B text with semblance's tokenizer.
# Usage: bench/recipes/prepare.sh [OUT_DIR]   (default /tmp/recipes-data); needs ../shared (the STS-B data, the vocab).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-/tmp/recipes-data}"
sts="$root/../shared/data/sts-b-en"
model="$root/../shared/fixtures/models/bert-tiny-uncased"
python3 "$root/bench/recipes/prepare_data.py" "$sts" "$out"
# The fixture model dir carries the bert-base-uncased vocab and tokenizer_config; 64 = the recipes' --max-length.
"$root/semblance" tokenize --model "$model" --max-length 64 --input "$out/texts.txt" --output "$out/tokens.jsonl"
if [ "$(wc -l < "$out/texts.txt")" != "$(wc -l < "$out/tokens.jsonl")" ]; then
  echo "prepare.sh: $out/tokens.jsonl does not have one line per text of $out/texts.txt" >&2
  exit 1
fi
echo "wrote $out/{simcse.txt,groups.tsv,texts.txt,tokens.jsonl}" >&2
