#!/usr/bin/env bash
# GRU + AM-Softmax from scratch on STS-B en: groups from train pairs, train with dev selection, score dev and test.
# Usage (from the repository root, ../shared beside it): bench/recipes/gru-amsoftmax-stsb.sh [OUTPUT_DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shared="${SEMBLANCE_SHARED:-$root/../shared}"
out="${1:-stsb-gru-amsoftmax}"
data="$shared/data/sts-b-en"
# The 30,522-token bert-base-uncased WordPiece vocabulary (the CoSENT from-scratch recipe uses the same file).
vocab="$shared/fixtures/models/bert-tiny-uncased/vocab.txt"
semblance=(dotnet run --project "$root/src/Semblance.Cli" -c Release --)

mkdir -p "$out"
python3 "$here/stsb_groups.py" "$data/train.tsv" --threshold 4.0 > "$out/groups.tsv"

"${semblance[@]}" train --init "$here/gru.json" --vocab "$vocab" --data "$out/groups.tsv" --loss am-softmax \
  --output "$out/model" --epochs "${EPOCHS:-20}" --batch-size 64 --lr 1e-3 --warmup 50 --max-length 64 \
  --scale 30 --margin 0.35 --seed 42 --eval-data "$data/dev.tsv" --threads 1

for split in dev test; do
  echo "== $split"
  "${semblance[@]}" eval sts --model "$out/model" --data "$data/$split.tsv" --threads 1
done
