#!/usr/bin/env bash
# The posts' recipes (issue 17), small and short: each step prints one result line; logs go to OUT/.
# Usage: bench/recipes/posts.sh prepare|simcse-views|simcse-duplicate|gru-inbatch|gru-proxy|gru-proxy-post|whitening|advisor|entropy [SIDE] [SEED]
#   SIDE = ours|torch (the simcse steps); run `prepare` first (writes OUT/data, ~1 min). OUT = $POSTS_OUT or /tmp/posts.
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

simcse() {  # $1 = views|duplicate: unsupervised SimCSE, small BERT from scratch, 2 epochs, batch 64, tau 0.05
  local dir="$out/simcse-$1-$side-s$seed"
  rm -rf "$dir"; mkdir -p "$dir"
  local hp=(--epochs 2 --batch-size 64 --lr 1e-3 --warmup 50 --temperature 0.05 --eval-every 55 --seed "$seed" --threads 1)
  if [ "$side" = ours ]; then
    "${semblance[@]}" train --init "$here/bert-small.json" --vocab "$vocab" --data "$out/data/simcse.txt" --loss simcse \
      --simcse-batch "$1" --output "$dir/model" "${hp[@]}" --max-length 64 --eval-data "$sts/dev.tsv" > "$dir/train.out" 2> "$dir/train.log"
    local dev test
    dev=$(sed -n 's/^best_dev_spearman=//p' "$dir/train.out")
    test=$("${semblance[@]}" eval sts --model "$dir/model" --data "$sts/test.tsv" --max-length 64 --threads 1 | sed -n 's/^spearman=//p')
    echo "simcse-$1 ours seed $seed: dev $dev test $test"
  else
    "${py[@]}" "$here/torch_recipes.py" train --loss simcse --simcse-batch "$1" --config "$here/bert-small.json" --tokens "$out/data" \
      --data "$out/data/simcse.txt" --output "$dir/model" --vocab "$vocab" "${hp[@]}" --eval-data "$sts/dev.tsv" \
      --test-data "$sts/test.tsv" > "$dir/train.out" 2> "$dir/train.log"
    echo "simcse-$1 torch seed $seed: $(tail -1 "$dir/train.out")"
  fi
}

gru() {  # $1 = am-softmax|am-softmax-proxy, $2 = gru.json|gru-post.json: GRU from scratch on STS-B train groups,
  # s 30, m 0.35; retrieval on dev groups. gru-post.json is the post's encoder: one direction, its last state.
  local dir="$out/gru-$1-${2%.json}-s$seed"
  rm -rf "$dir"; mkdir -p "$dir"
  "${semblance[@]}" train --init "$here/$2" --vocab "$vocab" --data "$out/data/groups.tsv" --loss "$1" --output "$dir/model" \
    --epochs 10 --batch-size 64 --lr 1e-3 --warmup 50 --scale 30 --margin 0.35 --max-length 64 --seed "$seed" --threads 1 \
    > "$dir/train.out" 2> "$dir/train.log"
  echo "gru $1 $2 seed $seed: $("${semblance[@]}" eval retrieval --model "$dir/model" --data "$out/data/heldout-groups.tsv" --threads 1 | tr '\n' ' ')"
  echo "gru $1 $2 seed $seed: sts test $("${semblance[@]}" eval sts --model "$dir/model" --data "$sts/test.tsv" --threads 1 | tail -1)"
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
