#!/usr/bin/env bash
# Quality of the NuGet-packaged pretrained encoders (all-MiniLM-L6-v2, snowflake-arctic-embed-xs) on the STS and
# paraphrase sets in ../shared/data, with and without BERT-whitening; see docs/BENCHMARKS.md.
#
# usage: bench/quality/real-models.sh WORKDIR [en|zh|all]
#   WORKDIR  raw outputs (one file per semblance run), timings.tsv and commands.txt; then
#            python3 bench/quality/summarize.py WORKDIR > tables.md
# env:     DATA (default ../shared/data from the repository root), SEMBLANCE (default ./semblance),
#          TRAIN_EVERY (default 1: the train-split whitening is fitted on every sentence of both columns of
#          sts-b-en/train.tsv, 11,498; k = every k-th of them, a deterministic subsample)
#          EN_SPLITS (default "test dev"), EN_TRAIN_POOLINGS (default: every pooling; a list such as "cls mean"
#          limits the train-split whitening to those poolings)
#          ZH_MAX_PAIRS (default 2000: a Chinese paraphrase set (not STS-B zh) with more pairs is scored on every k-th pair,
#          k = ceil(pairs / ZH_MAX_PAIRS), a deterministic subsample; 0 = every pair)
# Runs at nice 10 with --threads 2. Re-running with the same WORKDIR skips the runs already in timings.tsv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${DATA:-$root/../shared/data}"
semblance="${SEMBLANCE:-$root/semblance}"
zh_max_pairs="${ZH_MAX_PAIRS:-2000}"
train_every="${TRAIN_EVERY:-1}"
en_splits="${EN_SPLITS:-test dev}"
en_train_poolings="${EN_TRAIN_POOLINGS:-}"
[ $# -ge 1 ] || { echo "usage: $0 WORKDIR [en|zh|all]" >&2; exit 2; }
work="$1"
part="${2:-all}"
case "$part" in en|zh|all) ;; *) echo "$0: part must be en, zh or all, got '$part'" >&2; exit 2 ;; esac
[ -d "$data/sts-b-en" ] || { echo "$0: $data/sts-b-en not found (set DATA to the shared data directory)" >&2; exit 2; }
mkdir -p "$work"
work="$(cd "$work" && pwd)"

"$semblance" --version >/dev/null # builds the CLI once, before anything is timed

declare -A model_id=([minilm]=sentence-transformers/all-MiniLM-L6-v2 [arctic]=Snowflake/snowflake-arctic-embed-xs)
# Arctic's ONNX export has no pooler layer, so 'pooler' is not a pooling it can use.
declare -A model_poolings=([minilm]="cls mean first-last-avg last-avg max pooler" [arctic]="cls mean first-last-avg last-avg max")
dims=0,256,128,64

# run NAME OUTPUT semblance-args...: runs `semblance args` at nice 10, output to OUTPUT, seconds to timings.tsv.
run() {
  local name="$1" out="$2"
  shift 2
  if [ -s "$out" ] && [ -f "$work/timings.tsv" ] && cut -f1 "$work/timings.tsv" | grep -qxF "$name"; then
    printf '%-40s done before\n' "$name" >&2
    return
  fi
  printf 'semblance %s\n' "$*" >>"$work/commands.txt"
  local t0=$SECONDS
  if ! nice -n 10 "$semblance" "$@" >"$out" 2>"$out.err"; then
    echo "$0: '$name' failed:" >&2
    cat "$out.err" >&2
    exit 1
  fi
  printf '%s\t%s\n' "$name" "$((SECONDS - t0))" >>"$work/timings.tsv"
  printf '%-40s %4ds\n' "$name" "$((SECONDS - t0))" >&2
}

# Both columns of an STS/paraphrase file, one sentence per line, duplicates kept.
sentences() { cut -f1,2 "$1" | tr '\t' '\n'; }

english() {
  local en="$data/sts-b-en"
  mkdir -p "$work/en"
  # Whitening fitted on the train split: both columns of train.tsv, every TRAIN_EVERY-th line of that list.
  sentences "$en/train.tsv" | awk -v k="$train_every" 'NR % k == 1 || k == 1' >"$work/en/train-sentences.txt"
  # Test before dev, so that a run cut short still has the test table.
  for split in $en_splits; do
    for m in minilm arctic; do
      local id="${model_id[$m]}" out="$work/en/$m"
      local plist
      plist="$(tr ' ' ',' <<<"${model_poolings[$m]}")"
      mkdir -p "$out"
      run "en $m $split none" "$out/$split.none.txt" eval sts --model "$id" --data "$en/$split.tsv" --pooling "$plist" --threads 2
      if [ "$m.$split" = minilm.test ]; then
        # Sanity anchor: the published MTEB STSBenchmark test figure for all-MiniLM-L6-v2 (mean pooling) is 82.03.
        local got
        got="$(awk '$1 == "mean" && $2 == "none" { print $4 }' "$out/test.none.txt")"
        if [ "$got" != "82.03" ]; then
          echo "$0: all-MiniLM-L6-v2 mean pooling STS-B en test Spearman is '$got', expected 82.03 (MTEB); stopping" >&2
          exit 1
        fi
      fi
      run "en $m $split fit" "$out/$split.fit.txt" eval sts --model "$id" --data "$en/$split.tsv" --pooling "$plist" --whitening fit --dims "$dims" --threads 2
      # One whitening file per pooling: eval sts refuses a file fitted under another pooling.
      for p in ${model_poolings[$m]}; do
        if [ -n "$en_train_poolings" ] && [[ " $en_train_poolings " != *" $p "* ]]; then continue; fi
        run "en $m train-fit $p" "$out/train-$p.whiten.txt" whiten fit --model "$id" --pooling "$p" --input "$work/en/train-sentences.txt" --output "$out/train-$p.safetensors" --threads 2
        run "en $m $split train $p" "$out/$split.train.$p.txt" eval sts --model "$id" --data "$en/$split.tsv" --pooling "$p" --whitening "$out/train-$p.safetensors" --dims "$dims" --threads 2
      done
    done
  done
}

chinese() {
  mkdir -p "$work/zh"
  local -a sets=(sts-b-zh-test:sts-b-zh/test.tsv sts-b-zh-dev:sts-b-zh/dev.tsv atec-dev:atec/dev.tsv bq-dev:bq/dev.tsv lcqmc-dev:lcqmc/dev.tsv pawsx-dev:pawsx/dev.tsv)
  for entry in "${sets[@]}"; do
    local name="${entry%%:*}" file="$data/${entry#*:}"
    local out="$work/zh/$name" n
    mkdir -p "$out"
    n="$(wc -l <"$file" | tr -d ' ')"
    rm -f "$out/every"
    if [[ "$name" != sts-b-zh-* ]] && [ "$zh_max_pairs" -gt 0 ] && [ "$n" -gt "$zh_max_pairs" ]; then
      # Deterministic subsample: pairs 1, 1+k, 1+2k, ... of the file.
      local k=$(((n + zh_max_pairs - 1) / zh_max_pairs))
      awk -v k="$k" 'NR % k == 1' "$file" >"$out/every$k.tsv"
      file="$out/every$k.tsv"
      echo "$k" >"$out/every"
    fi
    echo "$n" >"$out/source-pairs"
    wc -l <"$file" | tr -d ' ' >"$out/pairs"
    for m in minilm arctic; do
      run "zh $name $m none" "$out/$m.none.txt" eval sts --model "${model_id[$m]}" --data "$file" --threads 2
      run "zh $name $m fit" "$out/$m.fit.txt" eval sts --model "${model_id[$m]}" --data "$file" --whitening fit --dims "$dims" --threads 2
    done
    # Semblance's default encoder (LSA + hashed TF-IDF) fitted on this set's own sentences, and plain TF-IDF.
    sentences "$file" >"$out/sentences.txt"
    run "zh $name default fit" "$out/default.fit.txt" fit-default --input "$out/sentences.txt" --output "$out/default-model"
    run "zh $name default eval" "$out/default.txt" eval sts --model "$out/default-model" --data "$file" --baseline --threads 2
  done
}

t0=$SECONDS
if [ "$part" != zh ]; then english; fi
if [ "$part" != en ]; then chinese; fi
printf 'total %s\t%s\n' "$part" "$((SECONDS - t0))" >>"$work/timings.tsv"
echo "done in $((SECONDS - t0))s; tables: python3 $root/bench/quality/summarize.py $work" >&2
