#!/usr/bin/env bash
# End-to-end fault test of the cluster (issue #19): three silo processes on 127.0.0.1 sharing one storage directory,
# an encoding job with one silo SIGKILLed mid-way, then a sharded index searched with another silo SIGKILLed mid-way.
# Checks: the job completes with every input line exactly once (rows = lines, and each row's line checksum matches
# its own input line); every search answers completely (after the membership timeout) with exactly the ids and order
# of a single-machine flat index. Ends with one line:
#   lines=N encoded_once=N searches=M exact=M killed=K
# and exits 0 only when the counts agree.
#
#   bash scripts/cluster-kill-test.sh [--membership postgres|localhost]
#
# postgres (the default): a throwaway PostgreSQL server (initdb/pg_ctl from the Debian package, run as the `postgres`
# user when this runs as root) in a temp directory on a loopback port, its unix socket in that directory; membership
# and grain storage live there, the silos create the schema, and any silo may be killed (CLUSTER_TEST_KILL, default
# "0 2": the first silo during the encode job, the third during the searches). Without the server binaries the test
# is skipped with a message and exit code 77. localhost: Orleans' development clustering, where the primary silo
# holds the membership table in memory, so the victims default to "2 1" (never the primary).
# Every loop and wait is bounded; nothing leaves loopback.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HF_HUB_OFFLINE=1
mode=postgres
while [ $# -gt 0 ]; do
  case "$1" in
    --membership) mode=${2:-}; shift 2 ;;
    *) echo "error: unknown option '$1' (expected --membership postgres|localhost)" >&2; exit 2 ;;
  esac
done
case "$mode" in postgres|localhost) ;; *) echo "error: --membership: expected postgres or localhost, got '$mode'" >&2; exit 2 ;; esac
lines_wanted=${CLUSTER_TEST_LINES:-600}
queries_wanted=${CLUSTER_TEST_QUERIES:-30}
model=sentence-transformers/all-MiniLM-L6-v2
# Ports from a per-run base so parallel runs on one machine do not collide.
base=$(( 20000 + ($$ % 400) * 10 ))
primary=$base
pg_port=$((base + 9))
if [ "$mode" = postgres ]; then
  read -r victim_encode victim_search <<< "${CLUSTER_TEST_KILL:-0 2}"
  pg_bin=""
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && pg_bin=$d; done
  if [ -z "$pg_bin" ]; then
    echo "kill test skipped: the PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql-15)"
    exit 77
  fi
  as_pg=()
  if [ "$(id -u)" = 0 ]; then
    # initdb and pg_ctl refuse to run as root: run them as the package's `postgres` user.
    getent passwd postgres > /dev/null || { echo "kill test skipped: running as root and there is no 'postgres' user to run the server"; exit 77; }
    as_pg=(runuser -u postgres --)
  fi
else
  read -r victim_encode victim_search <<< "${CLUSTER_TEST_KILL:-2 1}"
fi

dotnet build "$root/src/Semblance.Cli/Semblance.Cli.csproj" -c Release -nologo -v quiet -clp:NoSummary >/dev/null
dll="$root/src/Semblance.Cli/bin/Release/net10.0/Semblance.Cli.dll"
cli() { dotnet "$dll" "$@"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/semblance-cluster-kill.XXXXXX")"
pg_dir=""
declare -A pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$pg_dir" ]; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop > /dev/null 2>&1 || true
    [ -n "${CLUSTER_TEST_KEEP:-}" ] || rm -rf "$pg_dir"
  fi
  [ -n "${CLUSTER_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
storage="$work/storage"
mkdir -p "$storage"

membership=(--gateway-port "$((base + 5)),$((base + 6)),$((base + 7))")
if [ "$mode" = postgres ]; then
  # A throwaway server: trust authentication, loopback TCP only, its unix socket inside its own directory.
  pg_dir="$(mktemp -d /tmp/semblance-cluster-pg.XXXXXX)"
  [ "${#as_pg[@]}" = 0 ] || chown postgres "$pg_dir"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U semblance > "$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; echo "error: initdb failed" >&2; exit 1; }
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start > /dev/null \
    || { cat "$pg_dir/server.log" >&2; echo "error: PostgreSQL did not start" >&2; exit 1; }
  # The database does not exist yet: the first silo creates it and the Orleans schema.
  membership=(--membership "postgres://semblance@127.0.0.1:$pg_port/semblance_cluster")
fi

start_silo() { # $1 = silo number 0..2
  local n=$1
  local join=(--primary-port "$primary")
  [ "$mode" = postgres ] && join=("${membership[@]}")
  # dotnet itself in the background (not a shell function), so $! is the silo's own pid for SIGKILL.
  dotnet "$dll" cluster silo --storage "$storage" --model "$model" --port $((base + n)) "${join[@]}" \
    --gateway-port $((base + 5 + n)) > "$work/silo$n.log" 2>&1 &
  pids[$n]=$!
  for _ in $(seq 1 240); do
    grep -q "silo ready" "$work/silo$n.log" && return 0
    kill -0 "${pids[$n]}" 2>/dev/null || { cat "$work/silo$n.log" >&2; echo "error: silo $n exited" >&2; exit 1; }
    sleep 0.5
  done
  echo "error: silo $n not ready after 120 s" >&2; exit 1
}
kill_silo() {
  kill -9 "${pids[$1]}"; wait "${pids[$1]}" 2>/dev/null || true; unset "pids[$1]"; killed=$((killed + 1))
}
wait_for() { # $1 = seconds, $2... = a command evaluated afresh every quarter second
  local limit=$1; shift
  for _ in $(seq 1 $((limit * 4))); do "$@" && return 0; sleep 0.25; done
  return 1
}
killed=0
for n in 0 1 2; do start_silo $n; done

# The corpus: the sample FAQ lines, numbered so every line is distinct.
awk -v want="$lines_wanted" 'BEGIN { n = 0 } { a[n++] = $0 } END { for (i = 0; i < want; i++) printf "%s (note %d)\n", a[i % n], i }' \
  "$root/samples/faq.txt" > "$work/corpus.txt"
awk 'NR % 29 == 1 { sub(/ \(note [0-9]+\)$/, ""); print }' "$work/corpus.txt" | head -n "$queries_wanted" > "$work/queries.txt"
lines=$(wc -l < "$work/corpus.txt")
queries=$(wc -l < "$work/queries.txt")

# 1. Encoding job; a silo is killed once a few chunks are committed.
t_start=$SECONDS
dotnet "$dll" cluster encode "${membership[@]}" --input "$work/corpus.txt" --output "$storage/encoded" \
  --chunk-lines 40 --parallel 3 --timeout 900 > "$work/encode.out" 2> "$work/encode.err" &
encode_pid=$!
enough_chunks() { [ "$(ls "$storage/encoded/chunks" 2>/dev/null | grep -c '^chunk-' || true)" -ge 3 ]; }
wait_for 600 enough_chunks || { echo "error: no chunk committed in 600 s" >&2; cat "$work/encode.err" >&2; exit 1; }
kill_silo "$victim_encode"
if ! wait "$encode_pid"; then cat "$work/encode.err" >&2; echo "error: the encoding job failed" >&2; exit 1; fi
t_encode=$((SECONDS - t_start))
read -r enc_lines enc_rows enc_verified < <(sed -E 's/.*lines=([0-9]+) rows=([0-9]+) verified=([0-9]+).*/\1 \2 \3/' "$work/encode.out")
encoded_once=0
[ "$enc_rows" = "$enc_lines" ] && encoded_once=$enc_verified

# 2. Sharded index (the victim back), single-machine flat reference, search workload with a silo killed mid-way.
start_silo "$victim_encode"
t_start=$SECONDS
cli cluster index build "${membership[@]}" --index kill --input "$work/corpus.txt" --shards 3 --replicas 2 > "$work/build.out"
t_build=$((SECONDS - t_start))
cli index build --input "$work/corpus.txt" --model "$model" --output "$work/flat" > /dev/null
cli search --index "$work/flat" --queries "$work/queries.txt" -k 5 > "$work/single.jsonl"
t_start=$SECONDS
dotnet "$dll" cluster index search "${membership[@]}" --index kill --queries "$work/queries.txt" --k 5 \
  --shard-timeout 3000 --retry-partial 120 > "$work/cluster.jsonl" 2> "$work/search.err" &
search_pid=$!
enough_answers() { [ "$(wc -l < "$work/cluster.jsonl")" -ge $((queries / 3)) ]; }
wait_for 300 enough_answers || { echo "error: searches did not start" >&2; cat "$work/search.err" >&2; exit 1; }
kill_silo "$victim_search"
wait "$search_pid" || { cat "$work/search.err" >&2; echo "error: the search workload failed" >&2; exit 1; }
t_search=$((SECONDS - t_start))

searches=$(jq -c 'select((.missing_shards | length) == 0)' "$work/cluster.jsonl" | wc -l)
exact=$(paste -d '\t' <(jq -c '[.hits[].id]' "$work/single.jsonl") <(jq -c 'select((.missing_shards | length) == 0) | [.hits[].id]' "$work/cluster.jsonl") \
  | awk -F '\t' '$1 == $2' | wc -l)
echo "membership=$mode killed silo $victim_encode during the encode job and silo $victim_search during the searches; encode ${t_encode}s, index build ${t_build}s, searches ${t_search}s"
echo "lines=$lines encoded_once=$encoded_once searches=$searches exact=$exact killed=$killed"
[ "$encoded_once" = "$lines" ] && [ "$searches" = "$queries" ] && [ "$exact" = "$queries" ] && [ "$killed" = 2 ]
