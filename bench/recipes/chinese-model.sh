#!/usr/bin/env bash
# Builds Semblance's Chinese sentence encoder: all-MiniLM-L6-v2 with its vocabulary extended by the CJK characters of
# the Chinese training data, fine-tuned with CoSENT on STS-B zh train (twice) + ATEC train_partial (1 pair in 6).
# Usage: bench/recipes/chinese-model.sh OUT_DIR            (then: ./semblance encode --model OUT_DIR ...)
# Reads ../shared/data (atec/train_partial.tsv, sts-b-zh/{train,dev}.tsv, ocnli-zh/train.tsv for characters only).
# Knobs (environment): SEED (default 1), THREADS (default 1), EPOCHS (1), LR (1e-4), BATCH (32), MAX_LENGTH (64),
# EMBEDDING_LR_SCALE (default 10: the token-embedding table, new rows included, learns at this multiple of LR),
# STS_REPEAT (default 2: copies of STS-B zh train in the training file), EVAL_EVERY (default 150: STS-B zh dev
# checkpoint choice every this many steps, and at the end),
# ATEC_EVERY (default 6: ATEC train_partial pairs 1, 1+k, 1+2k, ... only, to bound the run time; 1 = every pair),
# WORK (default OUT_DIR.work: the extended start model, the training file and the run's logs; removed at the end
# unless KEEP_WORK=1). Needs /usr/bin/python3 with Debian's python3-torch (bench/recipes/extend_vocab.py).
# EXTEND_INIT / EXTEND_SEED: how the new characters' embedding rows start (bench/recipes/extend_vocab.py).
# Run time and scores: docs/BENCHMARKS.md, "A Chinese model" (the defaults, 1 thread: about 60 min on the loaded
# 2-vCPU machine, 6 CPU-minutes of training, 452 steps; ATEC_EVERY=1 adds 3.2x the ATEC steps).
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: bench/recipes/chinese-model.sh OUT_DIR" >&2; exit 2; fi
out="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${SEMBLANCE_SHARED:-$root/../shared}/data"
semblance="${SEMBLANCE:-$root/semblance}"
py="${PY:-/usr/bin/python3}"
seed="${SEED:-1}" emb_scale="${EMBEDDING_LR_SCALE:-10}" threads="${THREADS:-1}" epochs="${EPOCHS:-1}" lr="${LR:-1e-4}" batch="${BATCH:-32}" maxlen="${MAX_LENGTH:-64}"
work="${WORK:-$out.work}" sts_repeat="${STS_REPEAT:-2}" eval_every="${EVAL_EVERY:-150}"
for f in atec/train_partial.tsv sts-b-zh/train.tsv sts-b-zh/dev.tsv ocnli-zh/train.tsv; do
  [ -f "$data/$f" ] || { echo "chinese-model.sh: $data/$f is missing (the recipe trains on ../shared/data)" >&2; exit 1; }
done
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then echo "chinese-model.sh: $out exists and is not empty" >&2; exit 1; fi
rm -rf "$work"
mkdir -p "$work"
start=$(date +%s)
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
base="$("$semblance" info --model sentence-transformers/all-MiniLM-L6-v2 | sed -n 's/^directory: *//p')"
# 1. The start model: every CJK character of the training texts becomes a token (all-MiniLM-L6-v2's uncased vocabulary
#    has 192 of the 4,077 distinct CJK characters of ../shared's Chinese files; 75% of their occurrences are [UNK]).
"$py" "$root/bench/recipes/extend_vocab.py" "$base" "$work/start" \
  "$data/atec/train_partial.tsv" "$data/sts-b-zh/train.tsv" "$data/ocnli-zh/train.tsv"
# 2. CoSENT data: STS-B zh train as is (0-5), ATEC's 0/1 labels as 0/5 (CoSENT only uses the order within a batch).
#    STS-B zh train goes in STS_REPEAT times (in-domain graded pairs; the recipe's one epoch sees each twice by default).
{ for _ in $(seq "$sts_repeat"); do cat "$data/sts-b-zh/train.tsv"; done
  awk -F'\t' -v k="${ATEC_EVERY:-6}" 'BEGIN { OFS = "\t" } NR % k == 1 || k == 1 { print $1, $2, ($3 == 1 ? 5 : 0) }' "$data/atec/train_partial.tsv"; } \
  > "$work/cosent.tsv"
steps=$(( $(wc -l < "$work/cosent.tsv") * epochs / batch ))
nice -n 10 "$semblance" train --model "$work/start" --data "$work/cosent.tsv" --loss cosent --output "$work/run" \
  --epochs "$epochs" --batch-size "$batch" --lr "$lr" --warmup $(( steps / 10 )) --max-length "$maxlen" \
  --embedding-lr-scale "$emb_scale" --eval-data "$data/sts-b-zh/dev.tsv" --eval-every "$eval_every" --seed "$seed" --threads "$threads" > "$work/train.out" 2> "$work/train.log"
mkdir -p "$out"
for f in "$work/run"/*; do
  [ "$(basename "$f")" = last ] || cp -r "$f" "$out/"
done
echo "chinese-model.sh: wrote $out in $(( $(date +%s) - start )) s ($(cat "$work/train.out" | tr '\n' ' '))" >&2
[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$work"
