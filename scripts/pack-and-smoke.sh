#!/usr/bin/env bash
# Packs the libraries and the CLI tool into a local folder, installs the tool from it into a temporary tool path and
# runs `semblance --help` and `semblance encode` on a fixture model (the encode step needs ../shared).
# --feed DIR: pack into DIR and keep it there (a local package source for `dotnet add package`); default: a temp folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/semblance-pack.XXXXXX")"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
if [ "${1:-}" = "--feed" ]; then
  [ -n "${2:-}" ] || { echo "error: --feed needs a directory" >&2; exit 2; }
  mkdir -p "$2"
  feed="$(cd "$2" && pwd)"
fi
tools="$work/tools"
mkdir -p "$feed"

for project in Semblance.Numerics Semblance Semblance.Server Semblance.Extensions Semblance.Cli; do
  dotnet pack "$root/src/$project/$project.csproj" -c Release -o "$feed" -nologo -v quiet >&2
done
echo "packages:"
ls -1 "$feed"
for id in Semblance.Numerics Semblance Semblance.Server Semblance.Extensions Semblance.Cli; do
  ls "$feed/$id".[0-9]*.nupkg >/dev/null 2>&1 || { echo "error: no package $id in $feed" >&2; exit 1; }
done

# The local feed plus the configured sources: the tool's package dependencies come from the latter.
dotnet tool install --tool-path "$tools" --add-source "$feed" Semblance.Cli >&2
semblance="$tools/semblance"
"$semblance" --help | head -n 5
"$semblance" --help | grep -q "serve" || { echo "error: the installed tool does not list 'serve'" >&2; exit 1; }

model="$root/../shared/fixtures/models/bert-tiny-uncased"
if [ -d "$model" ]; then
  printf 'hello world\nthe installed tool encodes\n' | "$semblance" encode --model "$model" --format jsonl > "$work/out.jsonl"
  lines=$(wc -l < "$work/out.jsonl")
  [ "$lines" -eq 2 ] || { echo "error: expected 2 encoded lines, got $lines" >&2; exit 1; }
  echo "encode: 2 vectors from the installed tool"
else
  echo "skipping 'semblance encode': ../shared (fixture models) is not present"
fi
echo "pack-and-smoke: ok"
