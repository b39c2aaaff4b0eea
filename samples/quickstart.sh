#!/usr/bin/env bash
# The main job end to end on a fresh machine: fit the default encoder on the sample FAQ corpus (no downloaded
# weights), index the corpus, and answer a query with ranked results.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
query="${1:-how do I reset my password}"
work="$(mktemp -d "${TMPDIR:-/tmp}/semblance-quickstart.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$root/semblance" fit-default --input "$root/samples/faq.txt" --output "$work/encoder"
"$root/semblance" index build --model "$work/encoder" --input "$root/samples/faq.txt" --output "$work/index"
"$root/semblance" search --index "$work/index" --model "$work/encoder" --query "$query" -k 5
