#!/usr/bin/env python3
"""PyTorch twin of `semblance bench generate`: SimBERT-style greedy decoding (UniLM seq2seq inside one BERT encoder,
next token from the last position) with and without a key/value cache, in plain torch with Hugging Face BertForMaskedLM
math (post-LN layers, exact-erf GELU, LayerNorm eps 1e-12, tied decoder), since `transformers` is not installed here.

  make  --out DIR --shape minilm|base --vocab vocab.txt [--seed S]   random-weight BertForMaskedLM directory (safetensors)
  bench --model DIR --ids ids.jsonl [--batch-size B] [--max-new-tokens N] [--no-cache] [--batches N] [--threads T]
        ids.jsonl: `semblance tokenize --model DIR --input FILE` output ({"ids": [...]} per line)

The made model's output bias has -10 on [SEP], so greedy decoding runs to --max-new-tokens on both sides (equal work).
Last line of bench: new_tokens_per_s=<float>; a line `first_ids=` lets the caller check both sides agree.
"""
import argparse, json, os, shutil, sys, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recipes"))
from torch_recipes import load_safetensors, save_safetensors  # noqa: E402  (the recipes twin's F32 safetensors I/O)

SHAPES = {"minilm": (384, 6, 12, 1536), "base": (768, 12, 12, 3072)}
BANNED = [0, 100, 101, 103]
SEP = 102


def make(args):
    h, layers, heads, inter = SHAPES[args.shape]
    vocab = sum(1 for _ in open(args.vocab, encoding="utf-8"))
    g = torch.Generator().manual_seed(args.seed)
    n = lambda *shape: torch.randn(*shape, generator=g) * 0.02
    t = {}
    p = "bert."
    t[p + "embeddings.word_embeddings.weight"] = n(vocab, h)
    t[p + "embeddings.position_embeddings.weight"] = n(512, h)
    t[p + "embeddings.token_type_embeddings.weight"] = n(2, h)
    t[p + "embeddings.LayerNorm.weight"], t[p + "embeddings.LayerNorm.bias"] = torch.ones(h), torch.zeros(h)
    for l in range(layers):
        q = f"{p}encoder.layer.{l}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            t[q + name + ".weight"], t[q + name + ".bias"] = n(h, h), n(h)
        t[q + "intermediate.dense.weight"], t[q + "intermediate.dense.bias"] = n(inter, h), n(inter)
        t[q + "output.dense.weight"], t[q + "output.dense.bias"] = n(h, inter), n(h)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[q + name + ".weight"], t[q + name + ".bias"] = torch.ones(h), torch.zeros(h)
    t["cls.predictions.transform.dense.weight"], t["cls.predictions.transform.dense.bias"] = n(h, h), n(h)
    t["cls.predictions.transform.LayerNorm.weight"] = 8 * torch.ones(h)
    t["cls.predictions.transform.LayerNorm.bias"] = torch.zeros(h)
    bias = torch.randn(vocab, generator=g) * 0.1
    bias[SEP] = -10.0
    t["cls.predictions.bias"] = bias
    os.makedirs(args.out, exist_ok=True)
    save_safetensors(os.path.join(args.out, "model.safetensors"), t)
    config = {"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": h, "num_hidden_layers": layers,
              "num_attention_heads": heads, "intermediate_size": inter, "hidden_act": "gelu", "max_position_embeddings": 512,
              "type_vocab_size": 2, "vocab_size": vocab, "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "pad_token_id": 0}
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.copy(args.vocab, os.path.join(args.out, "vocab.txt"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f)
    print(f"wrote {args.out}: {args.shape} hidden={h} layers={layers} vocab={vocab}")


class Twin:
    def __init__(self, directory):
        self.c = json.load(open(os.path.join(directory, "config.json")))
        w = load_safetensors(os.path.join(directory, "model.safetensors"))
        self.w = {k[5:] if k.startswith("bert.") else k: v for k, v in w.items()}
        self.heads = self.c["num_attention_heads"]
        self.eps = self.c["layer_norm_eps"]

    def ln(self, x, name):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def lin(self, x, name):
        return torch.nn.functional.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def forward(self, ids, types, pos, add_mask, cache=None):
        """ids/types/pos [B, t]; add_mask [B, 1, t, T] additive; cache: per layer (K, V) [B, heads, T - t, d]."""
        w, B, t = self.w, ids.shape[0], ids.shape[1]
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][types]
        x = self.ln(x + w["embeddings.position_embeddings.weight"][pos], "embeddings.LayerNorm")
        d = x.shape[-1] // self.heads
        new_cache = []
        for l in range(self.c["num_hidden_layers"]):
            p = f"encoder.layer.{l}."
            split = lambda y: y.view(B, t, self.heads, d).transpose(1, 2)
            q, k, v = (split(self.lin(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
            if cache is not None:
                k = torch.cat([cache[l][0], k], dim=2)
                v = torch.cat([cache[l][1], v], dim=2)
            new_cache.append((k, v))
            scores = torch.matmul(q, k.transpose(-1, -2)) / (d ** 0.5) + add_mask
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(B, t, -1)
            a = self.ln(self.lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            i = torch.nn.functional.gelu(self.lin(a, p + "intermediate.dense"))
            x = self.ln(self.lin(i, p + "output.dense") + a, p + "output.LayerNorm")
        return x, new_cache

    def logits(self, rows):
        t = self.ln(torch.nn.functional.gelu(self.lin(rows, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
        return torch.matmul(t, self.w["embeddings.word_embeddings.weight"].t()) + self.w["cls.predictions.bias"]

    def pick(self, rows):
        z = self.logits(rows)
        z[:, BANNED] = float("-inf")
        return z.argmax(dim=-1)

    def generate(self, sources, max_new, use_cache):
        """Greedy decoding of a batch of [CLS] source [SEP] id lists, right-padded; finished rows keep running padded."""
        B, S = len(sources), max(len(s) for s in sources)
        lengths = torch.tensor([len(s) for s in sources])
        ids = torch.zeros(B, S, dtype=torch.long)
        for b, s in enumerate(sources):
            ids[b, :len(s)] = torch.tensor(s)
        valid = torch.arange(S)[None, :] < lengths[:, None]                    # [B, S] real keys
        neg = torch.finfo(torch.float32).min
        out = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool)
        if use_cache:
            mask = torch.where(valid, 0.0, neg)[:, None, None, :].expand(B, 1, S, S)
            h, cache = self.forward(ids, torch.zeros_like(ids), torch.arange(S).expand(B, S), mask)
            nxt = self.pick(h[torch.arange(B), lengths - 1])
            for step in range(max_new):
                for b in range(B):
                    if not done[b]:
                        out[b].append(int(nxt[b]))
                done |= nxt == SEP
                if step + 1 == max_new or bool(done.all()):
                    break
                valid = torch.cat([valid, torch.ones(B, 1, dtype=torch.bool)], dim=1)
                mask = torch.where(valid, 0.0, neg)[:, None, None, :]
                h, cache = self.forward(nxt[:, None], torch.ones(B, 1, dtype=torch.long), (lengths + step)[:, None], mask, cache)
                nxt = self.pick(h[:, 0])
        else:
            generated = torch.zeros(B, 0, dtype=torch.long)
            for step in range(max_new):
                g = generated.shape[1]
                seq = torch.cat([ids, generated], dim=1)
                types = torch.cat([torch.zeros(B, S, dtype=torch.long), torch.ones(B, g, dtype=torch.long)], dim=1)
                pos = torch.cat([torch.arange(S).expand(B, S), lengths[:, None] + torch.arange(g)[None, :]], dim=1)
                c = types.cumsum(dim=1)
                keys = torch.cat([valid, torch.ones(B, g, dtype=torch.bool)], dim=1)
                allowed = (c[:, None, :] <= c[:, :, None]) & keys[:, None, :]
                mask = torch.where(allowed, 0.0, neg)[:, None]
                h, _ = self.forward(seq, types, pos, mask)
                last = h[torch.arange(B), lengths - 1] if g == 0 else h[:, -1]
                nxt = self.pick(last)
                for b in range(B):
                    if not done[b]:
                        out[b].append(int(nxt[b]))
                done |= nxt == SEP
                if bool(done.all()):
                    break
                generated = torch.cat([generated, nxt[:, None]], dim=1)
        return [o[:-1] if o and o[-1] == SEP else o for o in out], sum(len(o) for o in out)


def bench(args):
    torch.set_num_threads(args.threads)
    twin = Twin(args.model)
    sources = [json.loads(l)["ids"] for l in open(args.ids, encoding="utf-8")]
    nxt = 0

    def batch():
        nonlocal nxt
        b = [sources[(nxt + i) % len(sources)] for i in range(args.batch_size)]
        nxt += args.batch_size
        return b

    print(f"torch={torch.__version__} threads={torch.get_num_threads()} batch_size={args.batch_size} "
          f"max_new_tokens={args.max_new_tokens} cache={not args.no_cache}")
    with torch.inference_mode():
        first, _ = twin.generate(batch(), args.max_new_tokens, not args.no_cache)
        print("first_ids=" + ",".join(map(str, first[0])))
        tokens, start = 0, time.perf_counter()
        for _ in range(args.batches):
            _, n = twin.generate(batch(), args.max_new_tokens, not args.no_cache)
            tokens += n
        elapsed = time.perf_counter() - start
    print(f"elapsed_s={elapsed:.3f} sources={args.batches * args.batch_size} new_tokens={tokens}")
    print(f"new_tokens_per_s={tokens / elapsed:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--shape", choices=sorted(SHAPES), default="minilm")
    m.add_argument("--vocab", required=True)
    m.add_argument("--seed", type=int, default=1616)
    b = sub.add_parser("bench")
    b.add_argument("--model", required=True)
    b.add_argument("--ids", required=True)
    b.add_argument("--batch-size", type=int, default=1)
    b.add_argument("--max-new-tokens", type=int, default=24)
    b.add_argument("--no-cache", action="store_true")
    b.add_argument("--batches", type=int, default=5)
    b.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    make(a) if a.cmd == "make" else bench(a)


if __name__ == "__main__":
    sys.exit(main())
