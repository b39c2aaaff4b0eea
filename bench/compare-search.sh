#!/usr/bin/env bash
# Vector search, Semblance vs FAISS (IndexFlatIP, batched through OpenBLAS) and native hnswlib (-march=native),
# in one sitting on the anchor harness's clustered unit vectors. Prepare the vectors once:
#   ANCHOR_SHARED="$(realpath ../shared)" ANCHOR_ONLY=setup,vectors bash /tmp/anchors/run_all.sh
# Usage: bench/compare-search.sh [SET]   e.g. bench/compare-search.sh clu1k_d384_n1m
# EF_GRID (default 16,20,24,28,32,40,48,64) sets the efSearch values tried on both sides; 1M vectors need larger ones.
# PARTS (default flat,hnsw) picks the comparisons: flat = FAISS vs Semblance flat kinds, hnsw = hnswlib vs Semblance HNSW.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
anchors="${ANCHORS_DIR:-/tmp/anchors}"
set_name="${1:-clu1k_d384_n100k}"; ef_grid="${EF_GRID:-16,20,24,28,32,40,48,64}"; parts=",${PARTS:-flat,hnsw},"
v="$anchors/work/vectors/$set_name"
[ -f "${v}_base.npy" ] || { echo "error: ${v}_base.npy missing; generate the vectors first (see header)" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/semblance-search.XXXXXX")"; trap 'rm -rf "$work"' EXIT
s="$root/semblance"; "$s" --help >/dev/null
echo "date=$(date -u +%FT%TZ) set=$set_name host_load=$(cut -d' ' -f1-3 /proc/loadavg)"

if [[ $parts == *,flat,* ]]; then
echo "== FAISS IndexFlatIP (batched)"
(cd "$anchors" && source ./env.sh && ANCHOR_SEARCH_SETS=$set_name ANCHOR_FAISS_HNSW_SETS=none ANCHOR_REPEATS=2 $PY bench_search.py 2>/dev/null | grep '^ANCHOR ' | cut -c1-400)

for kind in flat flat-int8; do
  echo "== semblance $kind"
  /usr/bin/time -f "build_s=%e max_rss_kb=%M" "$s" index build --output "$work/$kind" --vectors "${v}_base.npy" --kind $kind --metric ip 2>&1 | tail -1
  for t in 1 2; do
    echo "threads=$t batched: $("$s" bench search --index "$work/$kind" --query-vectors "${v}_queries.npy" --ground-truth "${v}_gt_ids.npy" -k 10 --threads $t | tail -1)"
  done
  echo "threads=1 one-at-a-time: $("$s" bench search --index "$work/$kind" --query-vectors "${v}_queries.npy" --ground-truth "${v}_gt_ids.npy" -k 10 --threads 1 --batch-size 1 | tail -1)"
done
fi

if [[ $parts == *,hnsw,* ]]; then
echo "== hnswlib native M=16 efC=200"
(cd "$anchors" && source ./env.sh && ANCHOR_NATIVE_RUNS=$set_name:16 ANCHOR_REPEATS=2 ANCHOR_EF_GRID=$ef_grid $PY bench_hnsw_native.py 2>/dev/null | grep '^ANCHOR ' | cut -c1-400)

echo "== semblance hnsw M=16 efC=200"
/usr/bin/time -f "build_s=%e max_rss_kb=%M" "$s" index build --output "$work/hnsw" --vectors "${v}_base.npy" --kind hnsw --metric ip --hnsw-m 16 --ef-construction 200 --threads 2 2>&1 | tail -1
for e in ${ef_grid//,/ }; do
  echo "ef=$e one-at-a-time 1 thread: $("$s" bench search --index "$work/hnsw" --query-vectors "${v}_queries.npy" --ground-truth "${v}_gt_ids.npy" -k 10 --ef-search $e --threads 1 --batch-size 1 | tail -1)"
done
fi
