#!/usr/bin/env bash
# Runs the structured mutation fuzzer (tests/Semblance.Fuzz) on one parser or all of them.
#   scripts/fuzz.sh TARGET|all [--seconds N] [--runs N] [--seed S] [--crashes DIR] [--hang-seconds N]
#   scripts/fuzz.sh --list                      the targets
#   scripts/fuzz.sh --replay TARGET FILE...     re-run saved inputs (e.g. from fuzz-crashes/)
# A crash (any exception that is not a SemblanceException), a hang or running out of memory exits non-zero and
# saves the input under --crashes (default fuzz-crashes/). Set DOTNET_GCHeapHardLimit=0x40000000 to fuzz under a
# 1 GiB heap; the default seconds are 10 per target.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
project="$root/tests/Semblance.Fuzz/Semblance.Fuzz.csproj"
dll="$root/tests/Semblance.Fuzz/bin/Release/net10.0/Semblance.Fuzz.dll"
if [ "${FUZZ_NO_BUILD:-0}" != "1" ]; then
  dotnet build "$project" -c Release -nologo -v quiet >&2
fi
exec dotnet "$dll" "$@"
