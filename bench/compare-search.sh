#!/usr/bin/env bash
# Vector search, Semblance vs FAISS (IndexFlatIP, batched through OpenBLAS) and native hnswlib (-march=native),
# in one sitting on the anchor harness's clustered unit vectors. Prepare the vectors once:
#   ANCHOR_SHARED="$(realpath ../shared)" ANCHOR_ONLY=setup,vectors bash /tmp/anchors/run_all.sh
# Usage: bench/compare-search.sh [SET]   e.g. bench/compare-search.sh clu1k_d384_n1m
# EF_GRID (default 16,20,24,28,32,40,48,64) sets the efSearch values tried on both sides; 1M vectors need larger ones.
# PARTS (default flat,hnsw) picks the comparisons: flat = FAISS vs Semblance flat kinds, hnsw = native hnswlib (driven
# by bench/peers/hnswlib_saved.cpp) vs Semblance HNSW. INDEX_DIR keeps the two HNSW indexes between runs; REPEATS
# (default 3) sets the timed passes per ef. SEMBLANCE_ALSO="label=path/Semblance.Cli.dll ..." times other builds of the
# CLI on the same Semblance HNSW index after each ef (a change against its parent, in the same sitting).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
anchors="${ANCHORS_DIR:-/tmp/anchors}"
set_name="${1:-clu1k_d384_n100k}"; ef_grid="${EF_GRID:-16,20,24,28,32,40,48,64}"; parts=",${PARTS:-flat,hnsw},"; SEMBLANCE_ALSO="${SEMBLANCE_ALSO:-}"
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
# Both HNSW indexes are kept in INDEX_DIR when it is set (built there on the first run, only loaded afterwards), so a
# 1M sitting need not rebuild them; without it they are built in the temporary directory and timed.
idx="${INDEX_DIR:-$work}"; mkdir -p "$idx"
peer="$idx/hnswlib_saved"; peer_src="$root/bench/peers/hnswlib_saved.cpp"
if [ ! -x "$peer" ] || [ "$peer_src" -nt "$peer" ]; then
  g++ -O3 -march=native -pthread -I"$anchors/node_modules/closevector-hnswlib-node/src" "$peer_src" -o "$peer"
fi
hl="$idx/hnswlib-${set_name}-m16.bin"; sm="$idx/semblance-${set_name}-m16"
echo "== builds: M=16 efC=200, 2 threads"
if [ -f "$hl" ]; then echo "hnswlib: saved index $hl"; else "$peer" build "${v}_base.npy" 16 200 2 "$hl"; fi
if [ -d "$sm" ]; then echo "semblance: saved index $sm"
else /usr/bin/time -f "semblance build wall_s=%e cpu_s=%U+%S max_rss_kb=%M" "$s" index build --output "$sm" --vectors "${v}_base.npy" --kind hnsw --metric ip --hnsw-m 16 --ef-construction 200 --threads 2 2>&1 | tail -1
fi
echo "== queries one at a time, 1 thread, k=10, median of ${REPEATS:-3} passes after one warm-up; the two alternate at each ef"
for e in ${ef_grid//,/ }; do
  "$peer" query "$hl" "${v}_queries.npy" "${v}_gt_ids.npy" "$e" "${REPEATS:-3}" | tail -1
  echo "semblance ef=$e $("$s" bench search --index "$sm" --query-vectors "${v}_queries.npy" --ground-truth "${v}_gt_ids.npy" -k 10 --ef-search $e --threads 1 --batch-size 1 --repeats "${REPEATS:-3}" | tail -1)"
  for also in $SEMBLANCE_ALSO; do
    echo "${also%%=*} ef=$e $(dotnet "${also#*=}" bench search --index "$sm" --query-vectors "${v}_queries.npy" --ground-truth "${v}_gt_ids.npy" -k 10 --ef-search $e --threads 1 --batch-size 1 --repeats "${REPEATS:-3}" | tail -1)"
  done
done
fi
