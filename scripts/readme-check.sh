#!/usr/bin/env bash
# Runs README.md's blocks so the README cannot drift from the code (the synopsis is checked by ReadmeTests):
#   - each fenced shell block without a marker is run with bash in a scratch directory (./semblance and samples/
#     linked in), and must exit 0;
#   - the block marked "readme-check: server" is run line by line: the `serve` line in the background on a free
#     loopback port (the README's 8080 is replaced), the curl lines against it (each must answer 2xx), then the
#     server is stopped; a model id that does not resolve offline is replaced by a default encoder fitted on
#     samples/faq.txt (said on stderr), so no network is needed;
#   - the C# blocks marked "readme-check: compile" are compiled together against freshly packed packages
#     (scripts/pack-and-smoke.sh --feed); --no-compile skips this step (it needs the NuGet source for dependencies).
# Blocks marked "readme-check: skip (...)" or "synopsis" are not run here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
compile=1
[ "${1:-}" = "--no-compile" ] && compile=0
work="$(mktemp -d "${TMPDIR:-/tmp}/semblance-readme.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ln -s "$root/semblance" "$work/semblance"
ln -s "$root/samples" "$work/samples"

# Split README.md into numbered block files: blocks/N.<marker>.<lang>
mkdir -p "$work/blocks"
awk -v dir="$work/blocks" '
  /^<!-- readme-check: / { marker = $3; next }
  /^```/ {
    if (!inblock) { inblock = 1; n++; lang = substr($0, 4); if (lang == "") lang = "sh"; m = (marker == "" ? "run" : marker);
                    file = sprintf("%s/%02d.%s.%s", dir, n, m, lang); printf "" > file; marker = ""; next }
    inblock = 0; close(file); next
  }
  inblock { print >> file; next }
  NF { marker = "" }
' "$root/README.md"

ran=0
for block in "$work"/blocks/*.run.sh "$work"/blocks/*.run.bash; do
  [ -e "$block" ] || continue
  echo "readme-check: running $(basename "$block"):" >&2
  sed 's/^/  | /' "$block" >&2
  (cd "$work" && bash -euo pipefail "$block") > "$work/out.txt"
  ran=$((ran + 1))
done

for block in "$work"/blocks/*.server.*; do
  [ -e "$block" ] || continue
  port=$(( 20000 + RANDOM % 20000 ))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$(( 20000 + RANDOM % 20000 )); done
  script="$work/server.sh"
  sed "s/127\.0\.0\.1:8080/127.0.0.1:$port/g" "$block" > "$script"
  model=$(grep -oE -- '--model [^ ]+' "$script" | head -1 | cut -d' ' -f2 || true)
  if [ -n "$model" ] && ! (cd "$work" && ./semblance info --model "$model" >/dev/null 2>&1); then
    echo "readme-check: $model does not resolve offline; using a default encoder fitted on samples/faq.txt instead" >&2
    (cd "$work" && ./semblance fit-default --input samples/faq.txt --output readme-model >/dev/null)
    sed -i "s#$model#readme-model#g" "$script"
  fi
  echo "readme-check: running the server block on port $port" >&2
  while IFS= read -r line; do
    line="${line%%  #*}"
    [ -z "${line// }" ] && continue
    echo "  | $line" >&2
    if [[ "$line" == ./semblance\ serve* ]]; then
      (cd "$work" && exec bash -c "exec $line") 2> "$work/server.log" &
      server_pid=$!
      for _ in $(seq 1 240); do
        curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "error: the server exited" >&2; exit 1; }
        sleep 0.5
      done
    elif [[ "$line" == curl* ]]; then
      out=$(cd "$work" && bash -c "${line/curl /curl --fail-with-body --max-time 120 }") || { echo "error: README server call failed: $line -> $out" >&2; exit 1; }
      echo "    -> ${out:0:120}" >&2
    else
      (cd "$work" && bash -euo pipefail -c "$line") >/dev/null
    fi
  done < "$script"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  ran=$((ran + 1))
done

if [ "$compile" = 1 ]; then
  feed="$work/feed"
  bash "$root/scripts/pack-and-smoke.sh" --feed "$feed" >&2
  proj="$work/snippets"
  mkdir -p "$proj"
  cat > "$proj/Snippets.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Semblance" Version="0.1.0" />
    <PackageReference Include="Semblance.Extensions" Version="0.1.0" />
    <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.14" />
  </ItemGroup>
</Project>
XML
  # Each snippet becomes a method of its own class (its usings stay at the top of its file); they are compiled, not run.
  n=0
  for block in "$work"/blocks/*.compile.csharp; do
    [ -e "$block" ] || continue
    n=$((n + 1))
    { grep -E '^using [A-Za-z.]+;' "$block" || true
      echo "static class Snippet$n { public static async Task Run() {"
      grep -vE '^using [A-Za-z.]+;' "$block"
      echo "await Task.CompletedTask; } }"; } > "$proj/Snippet$n.cs"
  done
  echo "Console.WriteLine(\"compiled $n README snippets\");" > "$proj/Program.cs"
  dotnet build "$proj/Snippets.csproj" -nologo -v quiet -p:RestoreAdditionalProjectSources="$feed" \
    -p:RestorePackagesPath="$work/packages" >&2
  echo "readme-check: $n C# snippets compiled against the packed packages" >&2
fi
echo "readme-check: ok ($ran command blocks run)"
