#!/usr/bin/env bash
# Encoder throughput, Semblance vs ONNX Runtime, interleaved in one sitting on the same models and sentences.
# Two ONNX Runtime peers per cell: ort-node (the anchor harness, npm onnxruntime-node) and ort-csharp (ONNX Runtime C#
# 1.32 in process, bench/Semblance.Peers, on the same model.onnx with Semblance's exact token ids and sorted-length
# batches; ORT_CSHARP=0 skips it). The real all-MiniLM-L6-v2 against its .NET peers: bench/compare-dotnet-peers.sh.
# INT8=1 adds ort-int8 (ONNX Runtime C# on model.onnx rewritten by tools/quantize_dynamic_onnx.py, per-channel weights
# unless INT8_PER_TENSOR=1, the MatMuls of INT8_ROLES (default Semblance's plan, every Linear: qkv,attention-output,intermediate,output;
# attention-output,intermediate = the round-3 plan); written once under INT8_ONNX_DIR) and semblance-int8 (--precision int8).
# Needs the peer harness prepared once (see ../shared/anchors/README.md):
#   cp -r ../shared/anchors /tmp/anchors && ANCHOR_SHARED="$(realpath ../shared)" ANCHOR_ONLY=setup,sentences,models bash /tmp/anchors/run_all.sh
# Usage: bench/compare-encoder.sh [MODELS] [THREADS] [BATCHES]   e.g. bench/compare-encoder.sh minilm-l6,bert-base 1,2 1,32
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
anchors="${ANCHORS_DIR:-/tmp/anchors}"
models="${1:-minilm-l6}"; threads="${2:-1,2}"; batches="${3:-1,32}"
seconds="${SECONDS_PER_RUN:-8}"
ort_csharp="${ORT_CSHARP:-1}"
int8="${INT8:-0}"; int8_dir="${INT8_ONNX_DIR:-/tmp/semblance-int8-onnx}"
[ -f "$anchors/work/sentences.txt" ] || { echo "error: $anchors/work/sentences.txt missing; prepare the anchor harness first (see header)" >&2; exit 1; }
"$root/semblance" --help >/dev/null
if [ "$ort_csharp" = 1 ] || [ "$int8" = 1 ]; then
  dotnet build "$root/bench/Semblance.Peers/Semblance.Peers.csproj" -c Release -nologo -v quiet >&2
fi
echo "date=$(date -u +%FT%TZ) host_load=$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'model\tthreads\tbatch\truntime\ttokens_per_s\tsentences_per_s\n'
for model in ${models//,/ }; do
  if [ "$int8" = 1 ]; then
    mkdir -p "$int8_dir"
    int8_roles="${INT8_ROLES:-qkv,attention-output,intermediate,output}"
    int8_onnx="$int8_dir/$model.int8$([ "${INT8_PER_TENSOR:-0}" = 1 ] || echo -pc).${int8_roles//,/+}.onnx"
    [ -f "$int8_onnx" ] || /usr/bin/python3 "$root/tools/quantize_dynamic_onnx.py" "$anchors/work/$model/model.onnx" "$int8_onnx" \
      --roles "$int8_roles" $([ "${INT8_PER_TENSOR:-0}" = 1 ] || echo --per-channel) >&2
  fi
  for t in ${threads//,/ }; do
    for b in ${batches//,/ }; do
      ort=$(cd "$anchors" && source ./env.sh && ANCHOR_MODELS=$model ANCHOR_THREADS=$t ANCHOR_BATCHES=$b ANCHOR_ORDERS=sorted \
            ANCHOR_ORT_VARIANTS=plain ANCHOR_REPEATS=2 ANCHOR_SECONDS=3 node bench_ort.js 2>/dev/null | grep '^ANCHOR {"bench":"encoder"' | tail -1)
      ort_tok=$(echo "${ort#ANCHOR }" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["tok_per_s"]["median"], 1))')
      ort_sent=$(echo "${ort#ANCHOR }" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["sent_per_s"]["median"], 1))')
      printf '%s\t%s\t%s\tort-node\t%s\t%s\n' "$model" "$t" "$b" "$ort_tok" "$ort_sent"
      if [ "$ort_csharp" = 1 ]; then
        cs=$(dotnet "$root/bench/Semblance.Peers/bin/Release/net10.0/Semblance.Peers.dll" throughput --model "$anchors/work/$model" \
             --onnx "$anchors/work/$model/model.onnx" --input "$anchors/work/sentences.txt" --contestants ort --threads "$t" --batches "$b" \
             --rounds 3 --per-round "${ORT_CSHARP_PER_ROUND:-500}" | grep '^RESULT' | tail -1)
        printf '%s\t%s\t%s\tort-csharp\t%s\t%s\n' "$model" "$t" "$b" \
          "$(echo "$cs" | sed -E 's/.*tokens_per_s=([0-9.]+).*/\1/')" "$(echo "$cs" | sed -E 's/.*sentences_per_s=([0-9.]+).*/\1/')"
      fi
      if [ "$int8" = 1 ]; then
        cs=$(dotnet "$root/bench/Semblance.Peers/bin/Release/net10.0/Semblance.Peers.dll" throughput --model "$anchors/work/$model" \
             --onnx "$anchors/work/$model/model.onnx" --onnx-int8 "$int8_onnx" --input "$anchors/work/sentences.txt" --contestants ort-int8 \
             --threads "$t" --batches "$b" --rounds 3 --per-round "${ORT_CSHARP_PER_ROUND:-500}" | grep '^RESULT' | tail -1)
        printf '%s\t%s\t%s\tort-int8\t%s\t%s\n' "$model" "$t" "$b" \
          "$(echo "$cs" | sed -E 's/.*tokens_per_s=([0-9.]+).*/\1/')" "$(echo "$cs" | sed -E 's/.*sentences_per_s=([0-9.]+).*/\1/')"
        ours=$("$root/semblance" bench encode --model "$anchors/work/$model" --input "$anchors/work/sentences.txt" \
               --batch-size "$b" --threads "$t" --seconds "$seconds" --precision int8 | tail -1)
        printf '%s\t%s\t%s\tsemblance-int8\t%s\t%s\n' "$model" "$t" "$b" \
          "$(echo "$ours" | sed -E 's/.*tokens_per_s=([0-9.]+).*/\1/')" "$(echo "$ours" | sed -E 's/sentences_per_s=([0-9.]+).*/\1/')"
      fi
      ours=$("$root/semblance" bench encode --model "$anchors/work/$model" --input "$anchors/work/sentences.txt" \
             --batch-size "$b" --threads "$t" --seconds "$seconds" | tail -1)
      printf '%s\t%s\t%s\tsemblance\t%s\t%s\n' "$model" "$t" "$b" \
        "$(echo "$ours" | sed -E 's/.*tokens_per_s=([0-9.]+).*/\1/')" "$(echo "$ours" | sed -E 's/sentences_per_s=([0-9.]+).*/\1/')"
    done
  done
done
