#!/usr/bin/env bash
# CUR retrieval with a cross-encoder against bi-encoder retrieve → cross-encoder rerank: recall of the exact CE top-10
# per CE-call budget (semblance bench cur), on distinct English STS-B sentences of ../shared/data.
#   corpus        = CORPUS_SIZE distinct sentences of sts-b-en train/dev/test (both columns; seeded sample), none of
#                   them a test or anchor query
#   test queries  = TEST_QUERIES distinct sentence1 of sts-b-en test (seeded sample)
#   anchor queries= ANCHOR_QUERIES distinct sentence1 of sts-b-en train (seeded sample), apart from the test queries
# Exact score rows are cached under CACHE (default /work/logs/r2-cur/cur-cache; not committed) and reused by later runs.
# Usage: bench/recipes/cur-recall.sh   env: CE (default /work/models/ce-minilm-stsb), BI (default the packaged
#   all-MiniLM-L6-v2), CORPUS_SIZE (10000), TEST_QUERIES (50), ANCHOR_QUERIES (100), MAX_LENGTH (64), THREADS (2),
#   ANCHOR_ITEMS (10,20,50,100), BUDGETS (20,50,100,200), TIME_LIMIT (minutes of scoring, default none), CACHE, SEED (7)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="$root/../shared/data/sts-b-en"
[ -f "$data/train.tsv" ] || { echo "error: $data/train.tsv not found (../shared/data)" >&2; exit 1; }
ce="${CE:-/work/models/ce-minilm-stsb}"
bi="${BI:-sentence-transformers/all-MiniLM-L6-v2}"
cache="${CACHE:-/work/logs/r2-cur/cur-cache}"
work="$cache/inputs-${CORPUS_SIZE:-10000}-${TEST_QUERIES:-50}-${ANCHOR_QUERIES:-100}-${SEED:-7}"
mkdir -p "$work"
python3 - "$data" "$work" "${CORPUS_SIZE:-10000}" "${TEST_QUERIES:-50}" "${ANCHOR_QUERIES:-100}" "${SEED:-7}" <<'EOF'
import random, sys
data, work, n, nt, nq, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def rows(split):
    with open(f"{data}/{split}.tsv", encoding="utf-8") as f:
        return [l.rstrip("\n").split("\t") for l in f]
def distinct(xs):
    seen, out = set(), []
    for x in xs:
        if x not in seen:
            seen.add(x); out.append(x)
    return out
rng = random.Random(seed)
tests = distinct(r[0] for r in rows("test")); rng.shuffle(tests); tests = tests[:nt]
anchors = [s for s in distinct(r[0] for r in rows("train")) if s not in set(tests)]; rng.shuffle(anchors); anchors = anchors[:nq]
held = set(tests) | set(anchors)
corpus = [s for s in distinct(x for split in ("train", "dev", "test") for r in rows(split) for x in r[:2]) if s not in held]
if len(corpus) < n:
    sys.exit(f"only {len(corpus)} distinct corpus sentences, {n} asked")
rng.shuffle(corpus); corpus = corpus[:n]
for name, lines in (("corpus", corpus), ("tests", tests), ("anchors", anchors)):
    with open(f"{work}/{name}.txt", "w", encoding="utf-8") as f:
        f.write("".join(l + "\n" for l in lines))
print(f"# corpus {len(corpus)}, test queries {len(tests)}, anchor queries {len(anchors)} (seed {seed})", file=sys.stderr)
EOF
limit=()
[ -n "${TIME_LIMIT:-}" ] && limit=(--time-limit "$TIME_LIMIT")
echo "## CUR vs bi-encoder + rerank — $(date -u '+%F %H:%M UTC'); load \`$(cut -d' ' -f1-3 /proc/loadavg)\`; $(nproc) CPUs (shared)"
HF_HUB_OFFLINE=1 nice -n 10 "$root/semblance" bench cur --model "$ce" --bi-encoder "$bi" \
  --corpus "$work/corpus.txt" --queries "$work/tests.txt" --anchor-queries "$work/anchors.txt" --cache "$cache" \
  --max-length "${MAX_LENGTH:-64}" --threads "${THREADS:-2}" --anchor-items "${ANCHOR_ITEMS:-10,20,50,100}" \
  --budgets "${BUDGETS:-20,50,100,200}" --seed "${SEED:-7}" -k 10 "${limit[@]}"
echo "load after: \`$(cut -d' ' -f1-3 /proc/loadavg)\`; $(date -u '+%H:%M UTC')"
