#!/usr/bin/env bash
# Interactive (cross-encoder) vs feature-based (bi-encoder) on STS-B en (from the packaged all-MiniLM-L6-v2) or STS-B zh
# (from the Chinese model of bench/recipes/chinese-model.sh): trains with `semblance train`, keeps the dev-best
# checkpoint, scores the test set with `semblance eval sts` (--cross-encoder for the cross-encoders); one run per call.
# Usage:
#   bench/recipes/cross-encoder-stsb.sh LOSS SEED        writes $CE_RUNS/LOSS-sSEED/result.json (CE_RUNS default /tmp/ce-runs)
#   LOSS: cosent     cross-encoder, CoSENT on the pair logits (λ 20), labels = the 0–5 scores (only their order matters)
#         bce        cross-encoder, BCE with logits, soft targets score / 5 (--max-score 5), as sentence-transformers'
#                    CrossEncoder trains STS-B
#         mse        cross-encoder, MSE of the logit against score / 5 (--max-score 5)
#         bi-cosent  the bi-encoder (feature-based) CoSENT fine-tune of the same start with the same settings
# Environment: SET en|zh (default en: ../shared/data/sts-b-en, start sentence-transformers/all-MiniLM-L6-v2; zh:
#   sts-b-zh, start $START, default /work/models/chinese-minilm), EPOCHS (default 1), LR (default 2e-5), EVAL_EVERY
#   (default 180 steps), START (the start model), SWAP (1: train on every pair in both orders, text/text_pair and
#   text_pair/text, as sentence-transformers' STS-B cross-encoder example does; default 0), HEAD_LR (cross-encoders:
#   peak rate of the pooler and the fresh classifier, `train --head-lr`; default: LR).
# Settings (all four): batch 16, linear warm-up over the first 10 % of the steps then linear decay to 0, weight decay
# 0.01, clip 1.0, max length 128 (per pair for the cross-encoder, per sentence for the bi-encoder), dev every EVAL_EVERY
# steps and at the end, the dev-best checkpoint kept, one thread, nice -n 10. Test: Spearman ×100 of the
# cross-encoder's raw logit or of the bi-encoder's cosine of mean-pooled embeddings. SET=zh also scores ATEC (no test
# split in ../shared: dev.tsv lines 1, 21, 41, ... choose the threshold, lines 11, 31, 51, ... are the test; 1,000
# pairs each): Spearman and accuracy at the dev-chosen threshold (`eval sts --threshold-dev`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="$root/../shared/data"
semblance="${SEMBLANCE:-$root/semblance}"
runs="${CE_RUNS:-/tmp/ce-runs}"
case "${SET:-en}" in
  en) sts="$data/sts-b-en" id="${START:-sentence-transformers/all-MiniLM-L6-v2}" ;;
  zh) sts="$data/sts-b-zh" id="${START:-/work/models/chinese-minilm}" ;;
  *) echo "cross-encoder-stsb.sh: unknown SET '${SET}'; expected en|zh" >&2; exit 2 ;;
esac
loss="${1:?usage: cross-encoder-stsb.sh cosent|bce|mse|bi-cosent SEED}" seed="${2:?usage: cross-encoder-stsb.sh cosent|bce|mse|bi-cosent SEED}"
case "$loss" in
  cosent) extra=(--task pair-score) ;;
  bce|mse) extra=(--task pair-score --max-score 5) ;;
  bi-cosent) extra=(--task embedding) ;;
  *) echo "cross-encoder-stsb.sh: unknown loss '$loss'; expected cosent|bce|mse|bi-cosent" >&2; exit 2 ;;
esac
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
epochs="${EPOCHS:-1}" lr="${LR:-2e-5}" every="${EVAL_EVERY:-180}"
dir="$runs/$loss-s$seed"
rm -rf "$dir"
mkdir -p "$dir"
train="$sts/train.tsv"
if [ "${SWAP:-0}" = 1 ]; then
  train="$dir/train-both-orders.tsv"
  awk -F'\t' 'BEGIN { OFS = "\t" } { print; print $2, $1, $3 }' "$sts/train.tsv" > "$train"
fi
steps=$(( ($(wc -l < "$train") + 15) / 16 * epochs ))
start=$(date +%s.%N)
nice -n 10 "$semblance" train "${extra[@]}" --model "$id" --data "$train" --loss "${loss#bi-}" --output "$dir/model" \
  --epochs "$epochs" --batch-size 16 --lr "$lr" --warmup $(( steps / 10 )) --max-length 128 \
  --eval-data "$sts/dev.tsv" --eval-every "$every" --threads 1 --seed "$seed" ${HEAD_LR:+--head-lr "$HEAD_LR"} \
  > "$dir/train.out" 2> "$dir/train.log"
wall=$(echo "$(date +%s.%N) - $start" | bc)
dev=$(sed -n 's/^best_dev_spearman=//p' "$dir/train.out")
best_step=$(grep -o 'best [0-9.]* at step [0-9]*' "$dir/train.log" | tail -1 | awk '{print $NF}')
if [ "$loss" = bi-cosent ]; then kind=(--pooling mean); else kind=(--cross-encoder); fi
score() { nice -n 10 "$semblance" eval sts --model "$dir/model" "${kind[@]}" --max-length 128 --threads 1 "$@"; }
test=$(score --data "$sts/test.tsv" | tee "$dir/test.txt" | sed -n 's/^spearman=//p')
atec=""
if [ "${SET:-en}" = zh ]; then
  awk 'NR % 20 == 1' "$data/atec/dev.tsv" > "$dir/atec-dev.tsv"
  awk 'NR % 20 == 11' "$data/atec/dev.tsv" > "$dir/atec-test.tsv"
  score --data "$dir/atec-test.tsv" --threshold-dev "$dir/atec-dev.tsv" > "$dir/atec.txt"
  atec=$(printf ', "atec_spearman": %s, "atec_accuracy": %s' "$(sed -n 's/^spearman=//p' "$dir/atec.txt")" \
    "$(sed -n 's/.* accuracy=//p' "$dir/atec.txt")")
fi
printf '{"set": "%s", "start": "%s", "swap": %s, "model": "%s", "loss": "%s", "seed": %s, "epochs": %s, "lr": "%s", "head_lr": "%s", "best_step": %s, "dev": %s, "test": %s%s, "wall_s": %.1f}\n' \
  "${SET:-en}" "$id" "${SWAP:-0}" "$([ "$loss" = bi-cosent ] && echo bi-encoder || echo cross-encoder)" "${loss#bi-}" "$seed" "$epochs" "$lr" "${HEAD_LR:-$lr}" \
  "$best_step" "$dev" "$test" "$atec" "$wall" > "$dir/result.json"
cat "$dir/result.json"
