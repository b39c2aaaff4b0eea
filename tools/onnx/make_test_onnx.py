#!/usr/bin/env python3
"""Makes the small ONNX exports the ONNX-import tests read (tests/Semblance.Tests/Models/Onnx/Data).

A tiny BERT written here with Hugging Face's module names (so torch.onnx.export gives the initializer names a
transformers export gives: `embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.bias`, ...,
anonymous `onnx::MatMul_*` for the transposed Linear weights) is exported in three variants, plus an MLP that is
not a BERT, with reference outputs computed by torch on fixed token ids:

  bert_pooler.onnx   2 layers, hidden 32, 4 heads, FFN 64, exact GELU (Erf), LN eps 1e-12, pooler, token_type_ids input
  bert_notype.onnx   3 layers, hidden 24, 2 heads, FFN 40, tanh GELU, LN eps 1e-5, no pooler, no token_type_ids input
  bert_relu.onnx     1 layer, hidden 16, 4 heads, FFN 32, ReLU, LN eps 1e-7, pooler, opset 17 LayerNormalization
  bert_nofold.onnx   2 layers, hidden 16, 2 heads, FFN 24, exact GELU, no constant folding (named Linear weights behind
                     Transpose nodes, Constant nodes), token types from a zeros buffer as transformers does, no pooler
  bert_rows.onnx     2 layers, hidden 16, 4 heads, FFN 24, every Linear a Gemm on flattened rows between Reshapes,
                     token types gathered from a zeros buffer at the position ids, LN eps 1e-6, pooler
  roberta_positions.onnx, silu.onnx, prenorm.onnx   BERT names with RoBERTa-style positions / a SiLU activation /
                     pre-LN layers (must be refused)
  mlp.onnx           Linear-ReLU-Linear over a 16-wide input (another architecture: must be refused)

  <name>.ids.npy     (exports the importer accepts) int64 [batch, seq] token ids (all sequences have the same length; the mask is all ones)
  <name>.last.npy    float32 [batch*seq, hidden] last hidden state; <name>.pooler.npy [batch, hidden] when pooled
  vocab.txt          the tiny vocabulary the models use (CRLF line ends, as in the NuGet packages)

Run from the repository root: /usr/bin/python3 tools/onnx/make_test_onnx.py (torch >= 1.13, numpy).
"""
import math
import os
import sys

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "Semblance.Tests", "Models", "Onnx", "Data")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [
    "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "fast", "slow", "red", "blue", "is", "was", "and",
    "##s", "##ed", "##ing", ".", ",", "?", "!", "i", "you", "he", "she", "it", "we", "they", "big", "small",
    "hello", "world", "model", "onnx", "import", "test", "##ly", "un", "##able",
]


PRENORM = False  # pre-LN layers (LayerNorm before each block): the same names, another network; must be refused
ROWS = False  # run every Linear on flattened [rows, in] (a Gemm), as exporters that lower linear to addmm do


def linear(module, x):
    if not ROWS:
        return module(x)
    return module(x.reshape(-1, x.size(-1))).reshape(x.size(0), x.size(1), module.out_features)


class SelfAttention(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.heads, self.d = heads, h // heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)

    def split(self, x):
        return x.view(x.size()[:-1] + (self.heads, self.d)).permute(0, 2, 1, 3)

    def forward(self, x, mask_bias):
        q, k, v = self.split(linear(self.query, x)), self.split(linear(self.key, x)), self.split(linear(self.value, x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d) + mask_bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.heads * self.d,))


class DenseNorm(nn.Module):
    def __init__(self, n_in, h, eps):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(n_in, h), nn.LayerNorm(h, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(linear(self.dense, x) + residual)


class Attention(nn.Module):
    def __init__(self, h, heads, eps):
        super().__init__()
        self.self, self.output = SelfAttention(h, heads), DenseNorm(h, h, eps)

    def forward(self, x, mask_bias):
        if PRENORM:
            return x + linear(self.output.dense, self.self(self.output.LayerNorm(x), mask_bias))
        return self.output(self.self(x, mask_bias), x)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Intermediate(nn.Module):
    def __init__(self, h, ffn, act):
        super().__init__()
        self.dense, self.act = nn.Linear(h, ffn), act

    def forward(self, x):
        y = linear(self.dense, x)
        if self.act == "gelu":
            return y * 0.5 * (1.0 + torch.erf(y / math.sqrt(2.0)))
        if self.act == "gelu_new":
            return gelu_tanh(y)
        if self.act == "silu":
            return y * torch.sigmoid(y)
        return torch.relu(y)


class Layer(nn.Module):
    def __init__(self, h, heads, ffn, act, eps):
        super().__init__()
        self.attention = Attention(h, heads, eps)
        self.intermediate = Intermediate(h, ffn, act)
        self.output = DenseNorm(ffn, h, eps)

    def forward(self, x, mask_bias):
        a = self.attention(x, mask_bias)
        if PRENORM:
            return a + linear(self.output.dense, self.intermediate(self.output.LayerNorm(a)))
        return self.output(self.intermediate(a), a)


class Embeddings(nn.Module):
    def __init__(self, vocab, h, positions, types, eps):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, h, padding_idx=0)
        self.position_embeddings = nn.Embedding(positions, h)
        self.token_type_embeddings = nn.Embedding(types, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.register_buffer("position_ids", torch.arange(positions).expand((1, -1)))
        self.register_buffer("token_type_ids", torch.zeros((1, positions), dtype=torch.int64))
        self.buffered_types = False
        self.roberta_positions = False

    def forward(self, ids, types):
        pos = self.position_ids[:, : ids.size(1)]
        if self.roberta_positions:
            mask = ids.ne(0).int()
            pos = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + 1
        if types is None and self.buffered_types == "gather":
            # transformers >= 4.48: the zero buffer gathered at the position ids
            types = torch.gather(self.token_type_ids.expand(ids.size(0), -1), 1, pos.expand(ids.size(0), -1))
        elif types is None and self.buffered_types:
            types = self.token_type_ids[:, : ids.size(1)].expand(ids.size(0), ids.size(1))
        elif types is None:
            types = torch.zeros_like(ids)
        return self.LayerNorm(self.word_embeddings(ids) + self.token_type_embeddings(types) + self.position_embeddings(pos))


class Encoder(nn.Module):
    def __init__(self, n, *args):
        super().__init__()
        self.layer = nn.ModuleList([Layer(*args) for _ in range(n)])


class Pooler(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.dense = nn.Linear(h, h)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class TinyBert(nn.Module):
    def __init__(self, layers, h, heads, ffn, act, eps, positions, types, pooler, use_types):
        super().__init__()
        self.embeddings = Embeddings(len(VOCAB), h, positions, types, eps)
        self.encoder = Encoder(layers, h, heads, ffn, act, eps)
        self.pooler = Pooler(h) if pooler else None
        self.use_types = use_types

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        x = self.embeddings(input_ids, token_type_ids if self.use_types else None)
        for layer in self.encoder.layer:
            x = layer(x, mask_bias)
        return (x, self.pooler(x)) if self.pooler is not None else (x,)


def perturb(model, seed):
    """Random weights with non-trivial LayerNorm and biases (the defaults are 1 and 0, which would hide mistakes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


def save_npy(name, array):
    np.save(os.path.join(OUT, name), array)


def export_bert(name, seed, opset, ids, fold=True, buffered_types=False, roberta_positions=False, refused=False, **kw):
    torch.manual_seed(seed)
    model = TinyBert(**kw).eval()
    model.embeddings.buffered_types = buffered_types
    model.embeddings.roberta_positions = roberta_positions
    perturb(model, seed)
    ids_t = torch.tensor(ids, dtype=torch.int64)
    mask = torch.ones_like(ids_t)
    types = torch.zeros_like(ids_t)
    inputs, names = (ids_t, mask), ["input_ids", "attention_mask"]
    if kw["use_types"]:
        inputs, names = (ids_t, mask, types), names + ["token_type_ids"]
    outputs = ["last_hidden_state"] + (["pooler_output"] if kw["pooler"] else [])
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names}
    dynamic["last_hidden_state"] = {0: "batch", 1: "sequence"}
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, inputs, path, input_names=names, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=opset, do_constant_folding=fold)
    print(f"{path}: {os.path.getsize(path)} bytes")
    if refused:
        return
    with torch.no_grad():
        out = model(*inputs)
    save_npy(name + ".ids.npy", ids_t.numpy())
    save_npy(name + ".last.npy", out[0].reshape(-1, kw["h"]).numpy().astype(np.float32))
    if kw["pooler"]:
        save_npy(name + ".pooler.npy", out[1].numpy().astype(np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "vocab.txt"), "wb") as f:
        f.write(("\r\n".join(VOCAB) + "\r\n").encode("utf-8"))
    ids = [[2, 5, 7, 9, 10, 5, 11, 23, 3], [2, 28, 12, 35, 13, 40, 41, 24, 3]]
    export_bert("bert_pooler", 1, 14, ids, layers=2, h=32, heads=4, ffn=64, act="gelu", eps=1e-12,
                positions=64, types=2, pooler=True, use_types=True)
    export_bert("bert_notype", 2, 14, ids, layers=3, h=24, heads=2, ffn=40, act="gelu_new", eps=1e-5,
                positions=40, types=2, pooler=False, use_types=False)
    export_bert("bert_relu", 3, 17, ids, layers=1, h=16, heads=4, ffn=32, act="relu", eps=1e-7,
                positions=16, types=3, pooler=True, use_types=True)
    export_bert("bert_nofold", 5, 13, ids, fold=False, buffered_types=True, layers=2, h=16, heads=2, ffn=24, act="gelu",
                eps=1e-12, positions=20, types=2, pooler=False, use_types=False)
    global ROWS
    ROWS = True
    export_bert("bert_rows", 8, 14, ids, buffered_types="gather", layers=2, h=16, heads=4, ffn=24, act="gelu",
                eps=1e-6, positions=20, types=2, pooler=True, use_types=False)
    ROWS = False
    # Refused by the importer: RoBERTa-style positions (CumSum of the mask), and an activation BERT configs cannot name.
    export_bert("roberta_positions", 6, 14, ids, roberta_positions=True, layers=1, h=8, heads=2, ffn=8, act="gelu",
                eps=1e-12, positions=16, types=1, pooler=False, use_types=False, refused=True)
    export_bert("silu", 7, 14, ids, layers=1, h=8, heads=2, ffn=8, act="silu", eps=1e-12, positions=16, types=1,
                pooler=False, use_types=False, refused=True)
    global PRENORM
    PRENORM = True
    export_bert("prenorm", 9, 14, ids, layers=1, h=8, heads=2, ffn=8, act="gelu", eps=1e-12, positions=16, types=1,
                pooler=False, use_types=False, refused=True)
    PRENORM = False
    torch.manual_seed(4)
    mlp = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8)).eval()
    torch.onnx.export(mlp, (torch.randn(2, 16),), os.path.join(OUT, "mlp.onnx"), input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}}, opset_version=14)
    return 0


if __name__ == "__main__":
    sys.exit(main())
