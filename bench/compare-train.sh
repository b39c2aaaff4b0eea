#!/usr/bin/env bash
# Training throughput (unsupervised SimCSE step + AdamW), Semblance vs PyTorch, interleaved ours/torch in one sitting.
# PyTorch is Debian's python3-torch on the anchor harness's OpenBLAS (see ../shared/anchors/README.md; without it
# torch falls back to the reference BLAS and the comparison is meaningless: check sgemm_1024_gflops in the log).
# Usage: bench/compare-train.sh [CONFIGS] [THREADS] [DATA]
#   e.g. bench/compare-train.sh bench/train/small.json,bench/train/minilm-l6.json 1,2 sentences.txt
# Knobs: REPEATS (pairs per cell, default 2), BATCH (64), MAX_LENGTH (32), VOCAB (30522-token uncased vocab.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
anchors="${ANCHORS_DIR:-/tmp/anchors}"
configs="${1:-$root/bench/train/small.json,$root/bench/train/minilm-l6.json}"; threads="${2:-1,2}"
data="${3:-}"
vocab="${VOCAB:-$root/../shared/fixtures/models/bert-tiny-uncased/vocab.txt}"
repeats="${REPEATS:-2}"; batch="${BATCH:-64}"; maxlen="${MAX_LENGTH:-32}"
if [ -z "$data" ]; then
  data="$(mktemp)"
  trap 'rm -f "$data"' EXIT
  head -1280 "$root/../shared/data/sts-b-en/train.tsv" | cut -f1 > "$data"
fi
data="$(realpath "$data")"; vocab="$(realpath "$vocab")"
[ -f "$anchors/env.sh" ] || { echo "error: $anchors/env.sh missing; prepare the anchor harness first (see header)" >&2; exit 1; }
"$root/semblance" --help >/dev/null
echo "date=$(date -u +%FT%TZ) host_load=$(cut -d' ' -f1-3 /proc/loadavg) data=$data batch=$batch max_length=$maxlen"
printf 'config\tthreads\trun\truntime\texamples_per_s\ttokens_per_s\n'
for config in ${configs//,/ }; do
  config="$(realpath "$config")"
  steps=30; warmup=5
  # The 384-wide model takes ~1 s a step on one core: fewer steps keep a cell under a minute.
  [ "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['hidden_size'])" "$config")" -ge 384 ] && { steps=6; warmup=2; }
  for t in ${threads//,/ }; do
    args=(--init "$config" --vocab "$vocab" --data "$data" --batch-size "$batch" --max-length "$maxlen" --threads "$t" --steps "$steps" --warmup-steps "$warmup")
    for r in $(seq "$repeats"); do
      ours=$("$root/semblance" bench train "${args[@]}" | tail -1)
      printf '%s\t%s\t%s\tsemblance\t%s\t%s\n' "$(basename "$config")" "$t" "$r" \
        "$(echo "$ours" | sed -E 's/examples_per_s=([0-9.]+).*/\1/')" "$(echo "$ours" | sed -E 's/.*tokens_per_s=([0-9.]+).*/\1/')"
      torch=$(source "$anchors/env.sh" && OMP_WAIT_POLICY=PASSIVE "$PY" "$root/bench/train/torch_train_bench.py" "${args[@]}")
      echo "$torch" | grep -E 'sgemm_1024_gflops|padded_tokens' | sed 's/^/# /' >&2
      last=$(echo "$torch" | tail -1)
      printf '%s\t%s\t%s\ttorch\t%s\t%s\n' "$(basename "$config")" "$t" "$r" \
        "$(echo "$last" | sed -E 's/examples_per_s=([0-9.]+).*/\1/')" "$(echo "$last" | sed -E 's/.*tokens_per_s=([0-9.]+).*/\1/')"
    done
  done
done
