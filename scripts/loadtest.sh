#!/usr/bin/env bash
# Load test of `semblance serve` on loopback: single-sentence POST /v1/embeddings at 1, 16 and 64 connections (wrk),
# an optional soak at 64 connections sampling the server's RSS, then `semblance bench encode --batch-size 32` on the
# same model and sentences for comparison. Usage:
#   scripts/loadtest.sh [--model DIR] [--sentences FILE] [--seconds S per level] [--soak S] [--port P]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model=/tmp/anchors/work/minilm-l6
sentences=/tmp/anchors/work/sentences.txt
seconds=15
soak=0
port=18480
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --sentences) sentences="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --soak) soak="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    *) echo "error: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install -y wrk)" >&2; exit 1; }
[ -d "$model" ] || { echo "error: model directory $model not found (--model DIR)" >&2; exit 1; }
[ -f "$sentences" ] || { echo "error: sentences file $sentences not found (--sentences FILE)" >&2; exit 1; }

"$root/semblance" --help >/dev/null   # builds once, before anything is timed
dll="$root/src/Semblance.Cli/bin/Release/net10.0/Semblance.Cli.dll"
url="http://127.0.0.1:$port"
log="$(mktemp "${TMPDIR:-/tmp}/semblance-loadtest.XXXXXX")"
dotnet "$dll" serve --model "$model" --urls "$url" 2>"$log" &
server=$!
cleanup() { kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "$url/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
curl -sf "$url/health" >/dev/null || { echo "error: server did not come up" >&2; cat "$log" >&2; exit 1; }
echo "model=$model sentences=$sentences seconds_per_level=$seconds cpus=$(nproc)"
export LOADTEST_SENTENCES="$sentences"
# Warm-up (JIT, tiered compilation) before timing.
wrk -t 1 -c 16 -d 5s -s "$root/scripts/loadtest.lua" "$url" >/dev/null

for c in 1 16 64; do
  line=$(wrk -t 1 -c "$c" -d "${seconds}s" --timeout 10s --latency -s "$root/scripts/loadtest.lua" "$url" | grep '^RESULT')
  echo "connections=$c ${line#RESULT }"
done

if [ "$soak" -gt 0 ]; then
  echo "soak: 64 connections for ${soak}s; server RSS every 10 s"
  wrk -t 1 -c 64 -d "${soak}s" --timeout 10s --latency -s "$root/scripts/loadtest.lua" "$url" > "$log.soak" &
  load=$!
  start=$(date +%s)
  while kill -0 "$load" 2>/dev/null; do
    echo "  t=$(( $(date +%s) - start ))s rss_mib=$(( $(ps -o rss= -p "$server") / 1024 ))"
    sleep 10
  done
  wait "$load"
  echo "soak $(grep '^RESULT' "$log.soak" | sed 's/^RESULT //')"
  rm -f "$log.soak"
fi
echo "metrics: $(curl -s "$url/metrics" | grep -E '^semblance_(inputs_total|queue_rejected_total|batch_inputs_(sum|count))' | tr '\n' ' ')"

cleanup
trap - EXIT
echo "bench encode (server stopped): $root/semblance bench encode --model $model --input $sentences --batch-size 32 --seconds $seconds"
"$root/semblance" bench encode --model "$model" --input "$sentences" --batch-size 32 --seconds "$seconds" | tail -n 1
