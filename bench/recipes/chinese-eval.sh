#!/usr/bin/env bash
# Scores models on the Chinese sets of ../shared/data (STS-B zh dev/test, ATEC, BQ, LCQMC, PAWSX dev) against the
# corpus-fitted default encoder and TF-IDF (fitted on each evaluated set's own sentences, as bench/quality/real-models.sh).
# Usage: bench/recipes/chinese-eval.sh WORK [MODEL_DIR...]    prints "set<TAB>pairs<TAB>model<TAB>spearman" lines
# Knobs: ZH_MAX_PAIRS (default 2000: a paraphrase set with more pairs is scored on pairs 1, 1+k, 1+2k, ...,
# k = ceil(pairs / ZH_MAX_PAIRS); 0 = every pair), THREADS (default 1), BASELINES (default 1; 0 skips them).
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: bench/recipes/chinese-eval.sh WORK [MODEL_DIR...]" >&2; exit 2; fi
work="$1"; shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${SEMBLANCE_SHARED:-$root/../shared}/data"
semblance="${SEMBLANCE:-$root/semblance}"
max_pairs="${ZH_MAX_PAIRS:-2000}" threads="${THREADS:-1}"
mkdir -p "$work"
for entry in sts-b-zh-dev:sts-b-zh/dev.tsv sts-b-zh-test:sts-b-zh/test.tsv atec-dev:atec/dev.tsv bq-dev:bq/dev.tsv \
             lcqmc-dev:lcqmc/dev.tsv pawsx-dev:pawsx/dev.tsv; do
  name="${entry%%:*}" file="$data/${entry#*:}"
  n=$(wc -l < "$file")
  if [[ "$name" != sts-b-zh-* ]] && [ "$max_pairs" -gt 0 ] && [ "$n" -gt "$max_pairs" ]; then
    k=$(( (n + max_pairs - 1) / max_pairs ))
    awk -v k="$k" 'NR % k == 1' "$file" > "$work/$name.tsv"
    file="$work/$name.tsv"
  fi
  pairs=$(wc -l < "$file")
  if [ "${BASELINES:-1}" = 1 ]; then
    cut -f1,2 "$file" | tr '\t' '\n' > "$work/$name.sentences.txt"
    rm -rf "$work/$name.default"
    nice -n 10 "$semblance" fit-default --input "$work/$name.sentences.txt" --output "$work/$name.default" > /dev/null 2>&1
    nice -n 10 "$semblance" eval sts --model "$work/$name.default" --data "$file" --baseline --threads "$threads" > "$work/$name.baseline.txt"
    # The table's rows: lsa = the default encoder, tfidf = plain TF-IDF cosine over the same features.
    awk -v s="$name" -v p="$pairs" '$1 == "lsa" { print s "\t" p "\tdefault\t" $4 } $1 == "tfidf" { print s "\t" p "\ttf-idf\t" $4 }' \
      "$work/$name.baseline.txt"
  fi
  for model in "$@"; do
    score=$(nice -n 10 "$semblance" eval sts --model "$model" --data "$file" --threads "$threads" | sed -n 's/^spearman=//p')
    printf '%s\t%s\t%s\t%s\n' "$name" "$pairs" "$model" "$score"
  done
done
