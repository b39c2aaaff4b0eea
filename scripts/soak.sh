#!/usr/bin/env bash
# Soak test of `semblance serve` under bad input, loopback only: W curl workers send a fixed mix of valid requests
# (every route) and malformed ones (invalid UTF-8, lone surrogates, raw NUL, deep nesting, wrong types, huge arrays,
# missing or non-JSON content types, charset=iso-8859-1, empty bodies, a slow body) for at most S seconds and N
# requests, while the server's RSS is sampled. Prints requests by status, the 5xx count and RSS (first, max, last
# sample); exits 1 if any reply was 5xx, a connection failed, or the server died. Bounded: S ≤ 3600, N ≤ 10^6.
#   scripts/soak.sh [--seconds S (120)] [--requests N (100000)] [--workers W (4)] [--model DIR (default encoder on samples/faq.txt)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=120
requests=100000
workers=4
model=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    *) echo "error: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ "$seconds" -ge 1 ] && [ "$seconds" -le 3600 ] || { echo "error: --seconds must be 1..3600" >&2; exit 2; }
[ "$requests" -ge 1 ] && [ "$requests" -le 1000000 ] || { echo "error: --requests must be 1..1000000" >&2; exit 2; }
[ "$workers" -ge 1 ] && [ "$workers" -le 64 ] || { echo "error: --workers must be 1..64" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/semblance-soak.XXXXXX")"
server=""
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$root/semblance" --help >/dev/null   # builds once, before anything is timed
dll="$root/src/Semblance.Cli/bin/Release/net10.0/Semblance.Cli.dll"
if [ -z "$model" ]; then
  model="$work/model"
  dotnet "$dll" fit-default --input "$root/samples/faq.txt" --output "$model" >/dev/null
fi
dotnet "$dll" index build --model "$model" --input "$root/samples/faq.txt" --output "$work/index" >/dev/null

port=$(( 20000 + RANDOM % 20000 ))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$(( 20000 + RANDOM % 20000 )); done
url="http://127.0.0.1:$port"
dotnet "$dll" serve --model "$model" --index "$work/index" --urls "$url" 2>"$work/server.log" &
server=$!
for _ in $(seq 1 200); do
  curl -s -o /dev/null "$url/health" && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

# The mix: one line per request kind, "METHOD ROUTE CONTENT-TYPE BODYFILE" ('-' = no content type / no body).
p="$work/payloads"
mkdir -p "$p"
printf '{"input":["how do I reset my password","refund for my order"],"model":"soak"}' > "$p/v1.json"
printf '{"inputs":"where is my package","normalize":true}' > "$p/embed.json"
printf '{"inputs":{"source_sentence":"a cat","sentences":["a kitten","stocks fell","zzzz qqqq"]}}' > "$p/similarity.json"
printf '{"query":"change my password","k":3}' > "$p/search.json"
printf '{"inputs":"zzzz qqqq \\u0000 ###"}' > "$p/unknown.json"
printf '{"inputs":"hello"}' > "$p/tokenize.json"
printf '{"input":"\xe2\x82"}' > "$p/truncated-utf8.json"
printf '{"inputs":"\xc0\xaf"}' > "$p/overlong.json"
printf '{"inputs":"\xed\xa0\x80"}' > "$p/cesu8.json"
printf '{"inputs":"x\\ud800y"}' > "$p/lone-surrogate.json"
printf '{"\\udc00":1,"query":"a"}' > "$p/lone-surrogate-key.json"
printf '{"input":"a\x00b"}' > "$p/raw-nul.json"
{ printf '{"input":'; printf '[%.0s' $(seq 1 500); printf ']%.0s' $(seq 1 500); printf '}'; } > "$p/deep.json"
printf '{"inputs":{"a":1}}' > "$p/wrong-type.json"
{ printf '{"input":['; for i in $(seq 1 3000); do printf '"a",'; done; printf '"a"]}'; } > "$p/huge-array.json"
printf '' > "$p/empty.json"
printf '["a"]' > "$p/not-object.json"
printf '{"inputs":"caf\xe9"}' > "$p/latin1.json"
cat > "$work/mix" <<MIX
POST /v1/embeddings application/json $p/v1.json
POST /embed application/json $p/embed.json
POST /similarity application/json $p/similarity.json
POST /search application/json $p/search.json
POST /embed application/json $p/unknown.json
POST /tokenize application/json $p/tokenize.json
POST /embed_all application/json $p/tokenize.json
GET /info - -
GET /v1/models - -
GET /health - -
GET /openapi.json - -
POST /v1/embeddings application/json $p/truncated-utf8.json
POST /embed application/json $p/overlong.json
POST /similarity application/json $p/cesu8.json
POST /embed application/json $p/lone-surrogate.json
POST /search application/json $p/lone-surrogate-key.json
POST /v1/embeddings application/json $p/raw-nul.json
POST /v1/embeddings application/json $p/deep.json
POST /embed application/json $p/wrong-type.json
POST /v1/embeddings application/json $p/huge-array.json
POST /embed application/json $p/empty.json
POST /v1/embeddings application/json $p/not-object.json
POST /embed application/json;charset=iso-8859-1 $p/latin1.json
POST /embed - $p/embed.json
POST /v1/embeddings text/plain $p/v1.json
GET /nowhere - -
MIX
mapfile -t mix < "$work/mix"

deadline=$(( $(date +%s) + seconds ))
per_worker=$(( (requests + workers - 1) / workers ))
# Each curl process sends a batch of 50 requests (--next) over one kept-alive connection: process start-up would
# otherwise dominate on a small machine.
worker() {
  local w=$1 i=0 n method route ctype body
  local -a args
  while [ "$i" -lt "$per_worker" ] && [ "$EPOCHSECONDS" -lt "$deadline" ]; do
    args=()
    for (( n = 0; n < 50 && i < per_worker; n++, i++ )); do
      read -r method route ctype body <<< "${mix[$(( (i * 7 + w) % ${#mix[@]} ))]}"
      [ "$n" -gt 0 ] && args+=(--next)
      args+=(-s -o /dev/null -w '%{http_code}\n' --max-time 60 -X "$method")
      if [ "$ctype" = "-" ]; then args+=(-H "Content-Type:"); else args+=(-H "Content-Type: $ctype"); fi
      [ "$body" != "-" ] && args+=(--data-binary "@$body")
      args+=("$url$route")
    done
    curl "${args[@]}" >> "$work/codes.$w" || echo "000" >> "$work/codes.$w"
  done
}
# One slow body per minute (a few bytes, then silence): the server must cut it off with 408 and keep serving.
slow() {
  while [ "$EPOCHSECONDS" -lt "$deadline" ]; do
    { printf '{"input":'; sleep 8; } | curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X POST -H "Content-Type: application/json" \
      -H "Content-Length: 100000" -H "Transfer-Encoding:" --data-binary @- "$url/v1/embeddings" >> "$work/codes.slow" || echo "000" >> "$work/codes.slow"
    sleep 52
  done
}
rss() {
  while kill -0 "$server" 2>/dev/null && [ "$EPOCHSECONDS" -lt "$deadline" ]; do
    awk '/^VmRSS/ {print $2}' "/proc/$server/status" >> "$work/rss" 2>/dev/null || true
    sleep 2
  done
}
started=$(date +%s)
for w in $(seq 1 "$workers"); do worker "$w" & pids+=($!); done
slow & slow_pid=$!
rss & rss_pid=$!
for pid in "${pids[@]}"; do wait "$pid"; done
pids=()
kill "$slow_pid" "$rss_pid" 2>/dev/null || true
wait "$slow_pid" "$rss_pid" 2>/dev/null || true
elapsed=$(( $(date +%s) - started ))
alive=yes
kill -0 "$server" 2>/dev/null || alive=no

cat "$work"/codes.* > "$work/all"
total=$(wc -l < "$work/all")
fivexx=$(grep -c '^5' "$work/all" || true)
failed=$(grep -c '^000' "$work/all" || true)
echo "soak: $total requests in ${elapsed}s ($(( total / (elapsed > 0 ? elapsed : 1) )) req/s) from $workers workers + 1 slow-body client"
echo "by status: $(sort "$work/all" | uniq -c | awk '{printf "%s:%s ", $2, $1}')"
if [ -s "$work/rss" ]; then
  # The quarter points show whether memory levels off after warm-up or keeps growing.
  awk '{v[NR] = $1; if ($1 > max) max = $1} END {q = int(NR / 4); if (q < 1) q = 1;
    printf "server RSS MB: first %.0f, at 1/4 %.0f, 1/2 %.0f, 3/4 %.0f, last %.0f, max %.0f (%d samples, every 2 s)\n",
      v[1] / 1024, v[q] / 1024, v[2 * q] / 1024, v[3 * q] / 1024, v[NR] / 1024, max / 1024, NR}' "$work/rss"
fi
echo "5xx: $fivexx, connection failures: $failed, server alive: $alive"
[ "$fivexx" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$alive" = yes ]
