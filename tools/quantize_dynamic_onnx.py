#!/usr/bin/env python3
"""Dynamic int8 quantisation of an ONNX encoder graph, for the ONNX Runtime int8 peer (issue 18).

ONNX Runtime's own `onnxruntime.quantization.quantize_dynamic` is a Python tool and python onnxruntime cannot be
installed on this machine (no PyPI), so this script rewrites the graph itself with the `onnx` package (Debian
python3-onnx) and numpy. Run it with /usr/bin/python3 (the Debian interpreter that has both).

What it does, for every MatMul whose second input B is a constant float32 initializer of rank 2 ([K, N]):
  * B becomes an int8 initializer with symmetric scaling: one scale for the whole tensor (default) or one per output
    column n (--per-channel), scale = max|B| / 127, code = round-half-even(B / scale) clipped to [-127, 127], zero
    point 0 (an int8 scalar, or an [N] vector per channel).
  * the activation A goes through DynamicQuantizeLinear (uint8, asymmetric, one scale and zero point per tensor,
    computed at run time from the tensor's min and max, range widened to include 0);
  * MatMulInteger(A_q, B_q, A_zp, B_zp) gives int32, Cast to float, and Mul by (A_scale * B_scale) (a Mul node of the
    two scales) restores the float product under the MatMul's original output name, so the bias Add and everything
    after it read the same tensor as before.
That is the node pattern quantize_dynamic emits for such a MatMul (QuantizationMode.IntegerOps), and the one ONNX
Runtime's graph optimiser fuses into its DynamicQuantizeMatMul kernel. One DynamicQuantizeLinear is shared by all the
MatMuls reading the same activation (Q, K and V read one), as quantize_dynamic also does.

How it differs from quantize_dynamic (defaults: QInt8 weights, per_channel False, reduce_range False, MatMulConstBOnly):
  * only MatMul is rewritten. quantize_dynamic by default also quantises Gather on constant data (the word, position
    and token-type embedding tables become int8 with a DequantizeLinear after them) and fused Attention/LSTM/
    EmbedLayerNormalization nodes (none occur in a plain torch.onnx.export graph); here the embeddings stay float32.
  * MatMuls whose B is not an initializer (the attention score and context products) stay float32, as with
    quantize_dynamic's MatMulConstBOnly behaviour; Gemm (the pooler) stays float32 as well.
  * no pre-processing pass (quantize_dynamic may run shape inference / a model optimisation first); the graph is
    otherwise left exactly as it was.
  * --exclude SUBSTRING keeps MatMuls whose node name or weight name contains it in float32 (quantize_dynamic's
    nodes_to_exclude takes exact node names).
  * --roles picks MatMuls by their role in a BERT layer, told apart by shape and sharing, since exported node names
    are often just numbers: qkv (three [H, H] weights reading one activation), attention-output (the other [H, H]),
    intermediate ([H, I], I > H), output ([I, H]). `--roles attention-output,intermediate` is Semblance's int8 plan.

Usage: /usr/bin/python3 tools/quantize_dynamic_onnx.py IN.onnx OUT.onnx [--per-channel] [--roles R,...] [--exclude SUBSTR ...]
       /usr/bin/python3 tools/quantize_dynamic_onnx.py --check FP32.onnx INT8.onnx   (prints the rewritten MatMuls)
"""
import argparse
import collections
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize_weight(b, per_channel):
    """Symmetric int8 codes of b [K, N] with one scale (or one per column n); returns codes, scale, zero point."""
    if per_channel:
        peak = np.abs(b).max(axis=0)
    else:
        peak = np.array(np.abs(b).max(), dtype=np.float32)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(b / scale), -127, 127).astype(np.int8)
    zero = np.zeros(scale.shape, dtype=np.int8)
    return codes, scale, zero


ROLES = ("qkv", "attention-output", "intermediate", "output")


def role(node, initializers, weight_readers):
    """The MatMul's role in a BERT layer (see --roles), from its weight's shape and how many weights share its input."""
    k, n = initializers[node.input[1]].dims
    if k < n:
        return "intermediate"
    if k > n:
        return "output"
    return "qkv" if weight_readers[node.input[0]] >= 3 else "attention-output"


def rewrite(model, per_channel, exclude, roles=ROLES):
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    readers = collections.Counter(name for node in graph.node for name in node.input)
    weight_readers = collections.Counter(node.input[0] for node in graph.node
                                         if node.op_type == "MatMul" and node.input[1] in initializers)
    quantized_activation = {}  # activation name -> (codes, scale, zero point) outputs of its DynamicQuantizeLinear
    new_nodes, new_initializers, dropped = [], [], set()
    rewritten = 0
    for node in graph.node:
        weight = initializers.get(node.input[1]) if node.op_type == "MatMul" else None
        if (weight is None or weight.data_type != TensorProto.FLOAT or len(weight.dims) != 2
                or any(s in node.name or s in node.input[1] for s in exclude)
                or role(node, initializers, weight_readers) not in roles):
            new_nodes.append(node)
            continue
        a, b_name, out = node.input[0], node.input[1], node.output[0]
        prefix = (node.name or out).replace("/", "_").strip("_")
        if a not in quantized_activation:
            q = (f"{prefix}_{len(quantized_activation)}_a_quantized", f"{prefix}_{len(quantized_activation)}_a_scale",
                 f"{prefix}_{len(quantized_activation)}_a_zero_point")
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [a], list(q), name=f"{prefix}_a_quantize"))
            quantized_activation[a] = q
        a_q, a_scale, a_zero = quantized_activation[a]
        codes, scale, zero = quantize_weight(numpy_helper.to_array(weight), per_channel)
        b_q, b_scale, b_zero = f"{b_name}_quantized", f"{b_name}_scale", f"{b_name}_zero_point"
        if b_q not in {t.name for t in new_initializers}:
            new_initializers += [numpy_helper.from_array(codes, b_q), numpy_helper.from_array(scale, b_scale),
                                 numpy_helper.from_array(zero, b_zero)]
        readers[b_name] -= 1
        if readers[b_name] == 0:
            dropped.add(b_name)
        product, as_float, scales = f"{prefix}_int32", f"{prefix}_int32_float", f"{prefix}_scales"
        new_nodes += [
            helper.make_node("MatMulInteger", [a_q, b_q, a_zero, b_zero], [product], name=f"{prefix}_quant"),
            helper.make_node("Cast", [product], [as_float], name=f"{prefix}_cast", to=TensorProto.FLOAT),
            helper.make_node("Mul", [a_scale, b_scale], [scales], name=f"{prefix}_scales_mul"),
            helper.make_node("Mul", [as_float, scales], [out], name=f"{prefix}_output_scale_mul"),
        ]
        rewritten += 1
    kept = [t for t in graph.initializer if t.name not in dropped]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_initializers)
    del graph.node[:]
    graph.node.extend(new_nodes)
    # MatMulInteger (opset 10) and DynamicQuantizeLinear (opset 11) are default-domain ops: make sure the opset has them.
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version < 11:
            opset.version = 11
    # Intermediate value_info entries for the rewritten outputs stay valid (same names, same float type).
    return rewritten, len(quantized_activation)


def check(fp32_path, int8_path):
    fp32, int8 = onnx.load(fp32_path), onnx.load(int8_path)
    ops = lambda m: collections.Counter(n.op_type for n in m.graph.node)
    size = lambda m: sum(numpy_helper.to_array(t).nbytes for t in m.graph.initializer)
    print(f"fp32: {dict(ops(fp32))}\n      initializers {size(fp32) / 1e6:.1f} MB")
    print(f"int8: {dict(ops(int8))}\n      initializers {size(int8) / 1e6:.1f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--per-channel", action="store_true", help="one weight scale per output column (default: per tensor)")
    parser.add_argument("--roles", default=",".join(ROLES), help="BERT-layer MatMuls to quantise (default: all): " + ", ".join(ROLES))
    parser.add_argument("--exclude", action="append", default=[], help="keep MatMuls whose node or weight name contains this")
    parser.add_argument("--check", action="store_true", help="compare the op counts and sizes of INPUT (fp32) and OUTPUT (int8)")
    args = parser.parse_args()
    try:
        if args.check:
            check(args.input, args.output)
            return 0
        roles = [r for r in args.roles.split(",") if r]
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            print(f"error: --roles: unknown role '{unknown[0]}' (known: {', '.join(ROLES)})", file=sys.stderr)
            return 2
        model = onnx.load(args.input)
        rewritten, activations = rewrite(model, args.per_channel, args.exclude, roles)
        if rewritten == 0:
            print(f"error: {args.input}: no MatMul with a constant float32 [K, N] weight to quantise", file=sys.stderr)
            return 1
        onnx.checker.check_model(model)
        onnx.save(model, args.output)
        print(f"{args.output}: {rewritten} MatMuls int8 ({'per channel' if args.per_channel else 'per tensor'} weights), "
              f"{activations} DynamicQuantizeLinear")
        return 0
    except (OSError, onnx.checker.ValidationError, onnx.onnx_cpp2py_export.checker.ValidationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
