#!/usr/bin/env bash
# fp32 vs fp16/bf16-resident weights on the real models: sentences/s at batch 1 and 32 (1 thread), rounds interleaved
# (fp32, fp16, bf16, then the bf16 model widened at load), plus the managed heap after load and the peak RSS of each run.
# Usage: bench/half-weights.sh SENTENCES_FILE [SECONDS_PER_RUN] [ROUNDS]
#   MODELS="ORG/NAME ..." (default: all-MiniLM-L6-v2 and snowflake-arctic-embed-xs), HALF_DIR (16-bit copies, made with
#   `semblance quantize --precision fp16|bf16` when missing), BATCHES (default "1 32"), CLI (default: ./semblance).
set -euo pipefail
input=${1:?usage: bench/half-weights.sh SENTENCES_FILE [SECONDS_PER_RUN] [ROUNDS]}
seconds=${2:-8}
rounds=${3:-2}
root="$(cd "$(dirname "$0")/.." && pwd)"
cli=${CLI:-$root/semblance}
half=${HALF_DIR:-${TMPDIR:-/tmp}/semblance-half-weights}
models=${MODELS:-"sentence-transformers/all-MiniLM-L6-v2 Snowflake/snowflake-arctic-embed-xs"}
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
for model in $models; do
  for p in fp16 bf16; do
    out="$half/${model//\//--}-$p"
    [ -f "$out/model.safetensors" ] || "$cli" quantize --model "$model" --output "$out" --precision "$p" --force >/dev/null 2>&1
  done
done
printf 'model\tweights\tbatch\tround\tsentences_per_s\tmanaged_after_load_MB\tpeak_rss_MB\n'
for model in $models; do
  base="$half/${model//\//--}"
  for batch in ${BATCHES:-1 32}; do
    for round in $(seq 1 "$rounds"); do
      for variant in fp32 fp16 bf16 bf16-widened; do
        case $variant in
          fp32) args=(--model "$model") ;;
          fp16) args=(--model "$base-fp16") ;;
          bf16) args=(--model "$base-bf16") ;;
          bf16-widened) args=(--model "$base-bf16" --precision fp32) ;;
        esac
        out=$("$cli" bench encode "${args[@]}" --input "$input" --batch-size "$batch" --threads 1 --seconds "$seconds")
        sps=$(grep -o 'sentences_per_s=[0-9.]*' <<<"$out" | cut -d= -f2)
        managed=$(grep -o 'managed_after_load_MB=[0-9.]*' <<<"$out" | cut -d= -f2)
        rss=$(grep -o 'peak_rss_MB=[0-9.]*' <<<"$out" | cut -d= -f2)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$model" "$variant" "$batch" "$round" "$sps" "$managed" "$rss"
      done
    done
  done
done
