#!/usr/bin/env bash
# Runs one training recipe on one side (semblance or its PyTorch twin) with one seed and writes result.json (dev/test Spearman x100, wall time).
# Usage: [SEMBLANCE=path/to/semblance] bench/recipes/run.sh cosent|simcse|gru ours|torch SEED [OUT_ROOT]
#   (run prepare.sh first; OUT_ROOT default /tmp/recipes-runs)
# Both sides get the hyperparameters below, one thread each, and the token ids of prepare.sh (ours tokenizes itself,
# with the same tokenizer and vocab). The test score is that of the best dev checkpoint.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
recipe="$1" side="$2" seed="$3" out_root="${4:-/tmp/recipes-runs}"
data="${RECIPES_DATA:-/tmp/recipes-data}"
sts="$root/../shared/data/sts-b-en"
vocab="$root/../shared/fixtures/models/bert-tiny-uncased/vocab.txt"
here="$root/bench/recipes"
semblance="${SEMBLANCE:-$root/semblance}"   # another build's launcher, e.g. a branch checkout's ./semblance
source /tmp/anchors/env.sh 2>/dev/null || true
py="${PY:-/usr/bin/python3}"

case "$recipe" in
  cosent) config="$here/bert-small.json" loss=cosent train="$sts/train.tsv"
          hp=(--epochs 4 --batch-size 32 --lr 1e-3 --warmup 50 --eval-every 90) ;;
  simcse) config="$here/bert-small.json" loss=simcse train="$data/simcse.txt"
          hp=(--epochs 4 --batch-size 64 --lr 1e-3 --warmup 50 --temperature 0.05 --eval-every 110) ;;
  gru)    config="$here/gru.json" loss=am-softmax train="$data/groups.tsv"
          hp=(--epochs 20 --batch-size 64 --lr 1e-3 --warmup 50 --scale 30 --margin 0.35) ;;
  *) echo "run.sh: unknown recipe '$recipe'; expected cosent|simcse|gru" >&2; exit 2 ;;
esac

dir="$out_root/$recipe-$side-s$seed"
rm -rf "$dir"
mkdir -p "$dir"
start=$(date +%s.%N)
if [ "$side" = ours ]; then
  "$semblance" train --init "$config" --vocab "$vocab" --data "$train" --loss "$loss" --output "$dir/model" \
    "${hp[@]}" --max-length 64 --eval-data "$sts/dev.tsv" --threads 1 --seed "$seed" > "$dir/train.out" 2> "$dir/train.log"
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  dev=$(sed -n 's/^best_dev_spearman=//p' "$dir/train.out")
  best_step=$(grep -o 'best [0-9.]* at step [0-9]*' "$dir/train.log" | tail -1 | awk '{print $NF}')
  test=$("$semblance" eval sts --model "$dir/model" --data "$sts/test.tsv" --pooling mean --max-length 64 --threads 1 | sed -n 's/^spearman=//p')
  # Cross-check: the twin's forward pass and Spearman on our checkpoint.
  twin=$("$py" "$here/torch_recipes.py" eval --model "$dir/model" --tokens "$data" --data "$sts/dev.tsv" "$sts/test.tsv" --threads 1 \
    | "$py" -c 'import sys, json; print(",".join(str(round(json.loads(l)["spearman"], 2)) for l in sys.stdin))')
  printf '{"side": "ours", "recipe": "%s", "seed": %s, "best_step": %s, "dev": %s, "test": %s, "twin_forward_dev_test": [%s], "wall_s": %.1f}\n' \
    "$recipe" "$seed" "$best_step" "$dev" "$test" "$twin" "$wall" > "$dir/result.json"
elif [ "$side" = torch ]; then
  "$py" "$here/torch_recipes.py" train --loss "$loss" --config "$config" --tokens "$data" --data "$train" --output "$dir/model" \
    --vocab "$vocab" "${hp[@]}" --eval-data "$sts/dev.tsv" --test-data "$sts/test.tsv" --threads 1 --seed "$seed" \
    > "$dir/train.out" 2> "$dir/train.log"
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  "$py" -c 'import sys, json; r = json.loads(open(sys.argv[1]).readlines()[-1]); r.update(recipe=sys.argv[2], wall_s=round(float(sys.argv[3]), 1)); print(json.dumps(r))' \
    "$dir/train.out" "$recipe" "$wall" > "$dir/result.json"
else
  echo "run.sh: unknown side '$side'; expected ours|torch" >&2; exit 2
fi
cat "$dir/result.json"
