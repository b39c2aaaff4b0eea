#!/usr/bin/env bash
# Greedy decoding speed (new tokens/s), Semblance vs the PyTorch twin on the same random-weight BertForMaskedLM,
# batch 1 and 8, with and without the key/value cache, interleaved ours/torch in one sitting.
# Usage: bench/compare-generate.sh MODEL_DIRS [SOURCES] [THREADS]
#   MODEL_DIRS: comma-separated directories made by `python3 bench/generate/torch_generate_bench.py make ...`
#   SOURCES: sentences, one per line (default: the first 16 STS-B train sentences)
# PyTorch must use a real BLAS: Debian's python3-torch without one falls back to the reference BLAS (~0.6 GFLOP/s,
# meaningless). Extract OpenBLAS once (apt-get download libopenblas0-openmp; dpkg -x *.deb DIR) and set BLAS_DIR to
# DIR/usr/lib/x86_64-linux-gnu/openblas-openmp; the script prints torch's 512x512 sgemm rate to check.
# Knobs: BLAS_DIR, PYTHON (a python with torch; default /usr/bin/python3), MAX_NEW (24), BATCHES (batch-1 batches per cell, default 3; batch 8 runs 1), REPEATS (1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="$1"; sources="${2:-}"; threads="${3:-1}"
max_new="${MAX_NEW:-24}"; batches="${BATCHES:-3}"; repeats="${REPEATS:-1}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
if [ -z "$sources" ]; then
  sources="$work/sources.txt"
  head -16 "$root/../shared/data/sts-b-en/train.tsv" | cut -f1 > "$sources"
fi
"$root/semblance" --help >/dev/null
if [ -n "${BLAS_DIR:-}" ]; then
  export LD_LIBRARY_PATH="$BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE_OVERRIDE:-SkylakeX}"
fi
OMP_NUM_THREADS="$threads" "${PYTHON:-/usr/bin/python3}" -c "import time, torch; torch.set_num_threads($threads); a = torch.randn(512, 512); t = time.perf_counter(); [a @ a for _ in range(20)]; print('# torch sgemm_512_gflops=%.1f' % (20 * 2 * 512 ** 3 / (time.perf_counter() - t) / 1e9))"
echo "date=$(date -u +%FT%TZ) host_load=$(cut -d' ' -f1-3 /proc/loadavg) threads=$threads max_new_tokens=$max_new"
printf 'model\tbatch\tcache\trun\truntime\tnew_tokens_per_s\n'
for model in ${models//,/ }; do
  "$root/semblance" tokenize --model "$model" --input "$sources" > "$work/ids.jsonl"
  for batch in 1 8; do
    n=$batches; [ "$batch" -gt 1 ] && n=1
    for cache in yes no; do
      flag=(); [ "$cache" = no ] && flag=(--no-cache)
      for r in $(seq "$repeats"); do
        ours=$("$root/semblance" bench generate --model "$model" --input "$sources" --batch-size "$batch" --batches "$n" \
          --max-new-tokens "$max_new" --threads "$threads" "${flag[@]}" | tail -1 | sed -E 's/.*=//')
        printf '%s\t%s\t%s\t%s\tsemblance\t%s\n' "$(basename "$model")" "$batch" "$cache" "$r" "$ours"
        torch=$(OMP_NUM_THREADS="$threads" "${PYTHON:-/usr/bin/python3}" "$root/bench/generate/torch_generate_bench.py" bench --model "$model" \
          --ids "$work/ids.jsonl" --batch-size "$batch" --batches "$n" --max-new-tokens "$max_new" --threads "$threads" "${flag[@]}" | tail -1 | sed -E 's/.*=//')
        printf '%s\t%s\t%s\t%s\ttorch\t%s\n' "$(basename "$model")" "$batch" "$cache" "$r" "$torch"
      done
    done
  done
done
echo "end=$(date -u +%FT%TZ) host_load=$(cut -d' ' -f1-3 /proc/loadavg)"
