#!/usr/bin/env bash
# Interactive (cross-encoder) vs feature-based (bi-encoder) on STS-B en, from the packaged all-MiniLM-L6-v2: trains a
# cross-encoder with `semblance train --task pair-score`, keeps the dev-best checkpoint, scores STS-B en test with
# `semblance pair-score`; one run per call.
# Usage:
#   bench/recipes/cross-encoder-stsb.sh LOSS SEED        writes $CE_RUNS/LOSS-sSEED/result.json (CE_RUNS default /tmp/ce-runs)
#   LOSS: cosent     cross-encoder, CoSENT on the pair logits (λ 20), labels = the 0–5 scores (only their order matters)
#         bce        cross-encoder, BCE with logits, soft targets score / 5 (--max-score 5), as sentence-transformers'
#                    CrossEncoder trains STS-B
#         mse        cross-encoder, MSE of the logit against score / 5 (--max-score 5)
#         bi-cosent  the bi-encoder (feature-based) CoSENT fine-tune of the same start with the same settings
# Settings (all four): EPOCHS epochs (env, default 1), batch 16 (360 steps an epoch), lr LR (env, default 2e-5), linear
# warm-up over the first 10 % of the steps then linear decay, weight decay 0.01, clip 1.0, max length 128 (per pair for
# the cross-encoder, per sentence for the bi-encoder), dev (STS-B en dev) every EVAL_EVERY steps (env, default 180)
# and at the end, the dev-best checkpoint kept, one thread, nice -n 10. Test Spearman ×100: the cross-encoder's raw logit, the bi-encoder's cosine
# of mean-pooled embeddings (`semblance eval sts`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sts="$root/../shared/data/sts-b-en"
semblance="${SEMBLANCE:-$root/semblance}"
py="${PY:-/usr/bin/python3}"
runs="${CE_RUNS:-/tmp/ce-runs}"
id=sentence-transformers/all-MiniLM-L6-v2
loss="${1:?usage: cross-encoder-stsb.sh cosent|bce|mse|bi-cosent SEED}" seed="${2:?usage: cross-encoder-stsb.sh cosent|bce|mse|bi-cosent SEED}"
case "$loss" in
  cosent) extra=(--task pair-score) ;;
  bce|mse) extra=(--task pair-score --max-score 5) ;;
  bi-cosent) extra=(--task embedding) ;;
  *) echo "cross-encoder-stsb.sh: unknown loss '$loss'; expected cosent|bce|mse|bi-cosent" >&2; exit 2 ;;
esac

epochs="${EPOCHS:-1}" lr="${LR:-2e-5}" every="${EVAL_EVERY:-180}"
steps=$(( (5749 + 15) / 16 * epochs ))
dir="$runs/$loss-s$seed"
rm -rf "$dir"
mkdir -p "$dir"
start=$(date +%s.%N)
nice -n 10 "$semblance" train "${extra[@]}" --model "$id" --data "$sts/train.tsv" --loss "${loss#bi-}" --output "$dir/model" \
  --epochs "$epochs" --batch-size 16 --lr "$lr" --warmup $(( steps / 10 )) --max-length 128 \
  --eval-data "$sts/dev.tsv" --eval-every "$every" --threads 1 --seed "$seed" > "$dir/train.out" 2> "$dir/train.log"
wall=$(echo "$(date +%s.%N) - $start" | bc)
dev=$(sed -n 's/^best_dev_spearman=//p' "$dir/train.out")
best_step=$(grep -o 'best [0-9.]* at step [0-9]*' "$dir/train.log" | tail -1 | awk '{print $NF}')
if [ "$loss" = bi-cosent ]; then
  test=$(nice -n 10 "$semblance" eval sts --model "$dir/model" --data "$sts/test.tsv" --pooling mean --max-length 128 --threads 1 | sed -n 's/^spearman=//p')
else
nice -n 10 "$semblance" pair-score --model "$dir/model" --input "$sts/test.tsv" --max-length 128 --threads 1 > "$dir/test-scores.jsonl"
# Spearman (average ranks for ties) of the logits against the gold scores, with the twin's implementation.
test=$(cd "$root/bench/recipes" && "$py" -c '
import json, sys
from torch_recipes import spearman
scores = [json.loads(l)[0] for l in open(sys.argv[1])]
gold = [float(l.rstrip("\n").split("\t")[2]) for l in open(sys.argv[2], encoding="utf-8")]
assert len(scores) == len(gold)
print(round(100 * spearman(scores, gold), 2))' "$dir/test-scores.jsonl" "$sts/test.tsv")
fi
printf '{"model": "%s", "loss": "%s", "seed": %s, "epochs": %s, "lr": "%s", "best_step": %s, "dev": %s, "test": %s, "wall_s": %.1f}\n' \
  "$([ "$loss" = bi-cosent ] && echo bi-encoder || echo cross-encoder)" "${loss#bi-}" "$seed" "$epochs" "$lr" "$best_step" "$dev" "$test" "$wall" > "$dir/result.json"
cat "$dir/result.json"
