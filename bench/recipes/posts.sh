#!/usr/bin/env bash
# The posts' recipes (issue 17), small and short: each step prints one result line; logs go to OUT/.
# Usage: bench/recipes/posts.sh prepare|simcse-views|simcse-duplicate|gru-inbatch|gru-proxy|gru-proxy-post|whitening|advisor|entropy [SIDE] [SEED]
#        bench/recipes/posts.sh simcse-flag SIDE SEED FLAG VALUE   (one recipe flag on the views run: --pooling cls, --dropout 0.3, ...)
#   SIDE = ours|torch (the simcse and gru steps); run `prepare` first (writes OUT/data, ~1 min). OUT = $POSTS_OUT or /tmp/posts.
#   Shorter runs (the same for both sides): SIMCSE_EPOCHS (default 2), SIMCSE_SENTENCES (the first N of the 10,536
#   sentences; default all), SIMCSE_WARMUP (default 50), SIMCSE_EVAL_EVERY (default 55), GRU_EPOCHS (default 10).
#   The reduced setting of docs/BENCHMARKS.md: SIMCSE_EPOCHS=1 SIMCSE_SENTENCES=3840 SIMCSE_WARMUP=10
#   SIMCSE_EVAL_EVERY=20 (60 steps) and GRU_EPOCHS=3.
# Every step runs with one thread under nice -n 10 (the machine is shared). Hyperparameters of record are below.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/bench/recipes"
out="${POSTS_OUT:-/tmp/posts}"
sts="$root/../shared/data/sts-b-en"
vocab="$root/../shared/fixtures/models/bert-tiny-uncased/vocab.txt"
semblance=(nice -n 10 "${SEMBLANCE:-$root/semblance}")
py=(nice -n 10 "${PY:-/usr/bin/python3}")
step="$1" side="${2:-ours}" seed="${3:-42}"
mkdir -p "$out"

simcse() {  # $1 = views|duplicate, then recipe flags: unsupervised SimCSE, small BERT from scratch, 2 epochs, batch 64, tau 0.05
  local layout="$1"; shift
  local tag; tag="$(printf '%s' "$@")"; tag="${tag//--/-}"
  local n="${SIMCSE_SENTENCES:-all}" data="$out/data/simcse.txt"
  local dir="$out/simcse-$layout$tag-$side-e${SIMCSE_EPOCHS:-2}-n$n-s$seed"
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$n" != all ]; then data="$out/data/simcse-$n.txt"; head -n "$n" "$out/data/simcse.txt" > "$data.$$"; mv "$data.$$" "$data"; fi
  local hp=(--epochs "${SIMCSE_EPOCHS:-2}" --batch-size 64 --lr 1e-3 --warmup "${SIMCSE_WARMUP:-50}" --temperature 0.05
    --eval-every "${SIMCSE_EVAL_EVERY:-55}" --seed "$seed" --threads 1 "$@")
  if [ "$side" = ours ]; then
    "${semblance[@]}" train --init "$here/bert-small.json" --vocab "$vocab" --data "$data" --loss simcse \
      --simcse-batch "$layout" --output "$dir/model" "${hp[@]}" --max-length 64 --eval-data "$sts/dev.tsv" > "$dir/train.out" 2> "$dir/train.log"
    local dev test
    dev=$(sed -n 's/^best_dev_spearman=//p' "$dir/train.out")
    test=$("${semblance[@]}" eval sts --model "$dir/model" --data "$sts/test.tsv" --max-length 64 --threads 1 | sed -n 's/^spearman=//p')
    echo "simcse-$layout$tag ours epochs ${SIMCSE_EPOCHS:-2} seed $seed: dev $dev test $test"
  else
    "${py[@]}" "$here/torch_recipes.py" train --loss simcse --simcse-batch "$layout" --config "$here/bert-small.json" --tokens "$out/data" \
      --data "$data" --output "$dir/model" --vocab "$vocab" "${hp[@]}" --eval-data "$sts/dev.tsv" \
      --test-data "$sts/test.tsv" > "$dir/train.out" 2> "$dir/train.log"
    echo "simcse-$layout$tag torch epochs ${SIMCSE_EPOCHS:-2} seed $seed: $(tail -1 "$dir/train.out")"
  fi
}

gru() {  # $1 = am-softmax|am-softmax-proxy, $2 = gru.json|gru-post.json: GRU from scratch on STS-B train groups,
  # s 30, m 0.35; retrieval on dev groups. gru-post.json is the post's encoder: one direction, its last state.
  # SIDE torch trains the twin (torch_recipes.py); both sides' models are scored by the same `semblance eval` commands.
  local epochs="${GRU_EPOCHS:-10}"
  local dir="$out/gru-$1-${2%.json}-$side-e$epochs-s$seed"
  rm -rf "$dir"; mkdir -p "$dir"
  local hp=(--epochs "$epochs" --batch-size 64 --lr 1e-3 --warmup 50 --scale 30 --margin 0.35 --seed "$seed" --threads 1)
  if [ "$side" = ours ]; then
    "${semblance[@]}" train --init "$here/$2" --vocab "$vocab" --data "$out/data/groups.tsv" --loss "$1" --output "$dir/model" \
      "${hp[@]}" --max-length 64 > "$dir/train.out" 2> "$dir/train.log"
  else
    "${py[@]}" "$here/torch_recipes.py" train --loss "$1" --config "$here/$2" --tokens "$out/data" --data "$out/data/groups.tsv" \
      --output "$dir/model" --vocab "$vocab" "${hp[@]}" > "$dir/train.out" 2> "$dir/train.log"
  fi
  echo "gru $1 $2 $side epochs $epochs seed $seed: $("${semblance[@]}" eval retrieval --model "$dir/model" --data "$out/data/heldout-groups.tsv" --threads 1 | tr '\n' ' ')"
  echo "gru $1 $2 $side epochs $epochs seed $seed: sts test $("${semblance[@]}" eval sts --model "$dir/model" --data "$sts/test.tsv" --threads 1 | tail -1)"
}

case "$step" in
  prepare)
    mkdir -p "$out/data"
    python3 "$here/prepare_data.py" "$sts" "$out/data" > /dev/null
    "${semblance[@]}" tokenize --model "$root/../shared/fixtures/models/bert-tiny-uncased" --max-length 64 \
      --input "$out/data/texts.txt" --output "$out/data/tokens.jsonl"
    # Held-out groups for retrieval: the same rule on the dev pairs (sentences the training never saw as a group).
    python3 "$here/stsb_groups.py" "$sts/dev.tsv" --threshold 4.0 > "$out/data/heldout-groups.tsv"
    wc -l "$out/data/simcse.txt" "$out/data/groups.tsv" "$out/data/heldout-groups.tsv" ;;
  simcse-views) simcse views ;;
  simcse-duplicate) simcse duplicate ;;
  simcse-flag) simcse views "${@:4}" ;;
  gru-inbatch) gru am-softmax gru.json ;;
  gru-proxy) gru am-softmax-proxy gru.json ;;
  gru-proxy-post) gru am-softmax-proxy gru-post.json ;;
  whitening)  # all-MiniLM-L6-v2 (mean pooling) on STS-B test: whitening fitted on test only vs on train+dev+test
    for fit in "" "$sts/train.tsv,$sts/dev.tsv,$sts/test.tsv"; do
      echo "whitening fit on ${fit:-test.tsv (default)}: $(HF_HUB_OFFLINE=1 "${semblance[@]}" eval sts --model sentence-transformers/all-MiniLM-L6-v2 \
        --data "$sts/test.tsv" --whitening fit ${fit:+--whitening-fit "$fit"} --dims 0,256,128,64 --threads 1 | grep -E '^mean' | tr -s ' ' | tr '\n' ';')"
    done ;;
  advisor)  # whiten fit on STS-B train sentences, advice from the dev file
    cut -f1,2 "$sts/train.tsv" | tr '\t' '\n' > "$out/data/train-sentences.txt"
    HF_HUB_OFFLINE=1 "${semblance[@]}" whiten fit --model sentence-transformers/all-MiniLM-L6-v2 --input "$out/data/train-sentences.txt" \
      --output "$out/whitening.safetensors" --eval-data "$sts/dev.tsv" --threads 1 ;;
  entropy)  # long inputs: K consecutive STS-B test pairs joined into one (mean score); all-MiniLM-L6-v2 trained at 128 tokens
    for k in 8 16 24; do
      python3 -c 'import sys
k = int(sys.argv[1]); rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2], encoding="utf-8")]
for i in range(0, len(rows) - k + 1, k):
    g = rows[i:i + k]
    print(" ".join(r[0] for r in g) + "\t" + " ".join(r[1] for r in g) + "\t" + str(sum(float(r[2]) for r in g) / k))' \
        "$k" "$sts/test.tsv" > "$out/data/long-$k.tsv"
      for scale in default entropy; do
        extra=(); [ "$scale" = entropy ] && extra=(--train-length 128)
        echo "long inputs k=$k attention $scale: $(HF_HUB_OFFLINE=1 "${semblance[@]}" eval sts --model sentence-transformers/all-MiniLM-L6-v2 \
          --data "$out/data/long-$k.tsv" --max-length 512 --attention-scale "$scale" "${extra[@]}" --threads 1 | tail -1)"
      done
    done ;;
  *) echo "posts.sh: unknown step '$step'" >&2; exit 2 ;;
esac
