# The PyTorch twin of a BertForSequenceClassification cross-encoder, exported to ONNX for the pair-throughput peer.
"""BertForSequenceClassification (bert.* + pooler + classifier.*) in PyTorch, built on bench/recipes/torch_recipes.py's
BERT modules, and exported with torch.onnx for ONNX Runtime (bench/Semblance.Peers `pairs`).

  export_cross_encoder.py head --encoder DIR --output DIR [--num-labels 1] [--seed 0]
      a MiniLM-shaped cross-encoder for speed runs: the encoder's weights (config.json, model.safetensors with
      pooler.dense.*, vocab.txt) under the bert. prefix and a random classifier (N(0, 0.02^2) weight, zero bias).
  export_cross_encoder.py export --model DIR --output FILE.onnx [--opset 14]
      inputs input_ids / attention_mask / token_type_ids [batch, sequence] int64, output logits [batch, num_labels].

Stdlib + torch only (safetensors read and written by torch_recipes).
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "recipes"))
import torch_recipes as twin  # noqa: E402


class CrossEncoder(nn.Module):
    """bert.embeddings (with token types) -> bert.encoder -> bert.pooler (tanh(dense([CLS]))) -> classifier."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.bert = twin.Bert(c)
        self.classifier = nn.Linear(c["hidden_size"], int(c.get("num_labels", len(c.get("id2label", {})) or 1)))

    def forward(self, input_ids, attention_mask, token_type_ids):
        e = self.bert.embeddings
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = e.LayerNorm(e.word_embeddings(input_ids) + e.token_type_embeddings(token_type_ids) + e.position_embeddings(positions))
        additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        for layer in self.bert.encoder.layer:
            x = layer(x, additive)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return self.classifier(pooled)


def load(directory):
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("model_type") != "bert":
        raise SystemExit(f"{directory}: model_type {config.get('model_type')!r}; only bert cross-encoders are exported")
    model = CrossEncoder(config)
    weights = twin.load_safetensors(os.path.join(directory, "model.safetensors"))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise SystemExit(f"{directory}: not a BertForSequenceClassification checkpoint (missing {missing[:4]}, unexpected {unexpected[:4]})")
    return model.eval()


def make_head(args):
    with open(os.path.join(args.encoder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    weights = twin.load_safetensors(os.path.join(args.encoder, "model.safetensors"))
    if "pooler.dense.weight" not in weights:
        raise SystemExit(f"{args.encoder}: no pooler.dense weights; BertForSequenceClassification reads the pooler")
    generator = torch.Generator().manual_seed(args.seed)
    h = config["hidden_size"]
    tensors = {"bert." + k: v for k, v in weights.items()}
    tensors["classifier.weight"] = torch.randn(args.num_labels, h, generator=generator) * 0.02
    tensors["classifier.bias"] = torch.zeros(args.num_labels)
    config.update(architectures=["BertForSequenceClassification"], num_labels=args.num_labels,
                  id2label={str(i): f"LABEL_{i}" for i in range(args.num_labels)},
                  label2id={f"LABEL_{i}": i for i in range(args.num_labels)})
    os.makedirs(args.output, exist_ok=True)
    twin.save_safetensors(os.path.join(args.output, "model.safetensors"), tensors)
    with open(os.path.join(args.output, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)
        f.write("\n")
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(args.encoder, name)):
            shutil.copyfile(os.path.join(args.encoder, name), os.path.join(args.output, name))
    print(f"wrote {args.output}: {args.encoder} + random classifier [{args.num_labels}, {h}] (seed {args.seed})")


def export(args):
    model = load(args.model)
    ids = torch.tensor([[101, 2023, 2003, 102, 2009, 2003, 102], [101, 7592, 102, 2088, 102, 0, 0]])
    mask = (ids != 0).to(torch.long)
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0]])
    with torch.no_grad():
        reference = model(ids, mask, types)
        torch.onnx.export(model, (ids, mask, types), args.output, opset_version=args.opset,
                          input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ("input_ids", "attention_mask", "token_type_ids")} | {"logits": {0: "batch"}})
    print(f"wrote {args.output} (opset {args.opset}); twin logits of the probe batch: {[round(x, 6) for x in reference.flatten().tolist()]}")
    if not all(math.isfinite(x) for x in reference.flatten().tolist()):
        raise SystemExit("non-finite logits")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    h = sub.add_parser("head")
    h.add_argument("--encoder", required=True)
    h.add_argument("--output", required=True)
    h.add_argument("--num-labels", type=int, default=1)
    h.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("export")
    e.add_argument("--model", required=True)
    e.add_argument("--output", required=True)
    e.add_argument("--opset", type=int, default=14)
    args = parser.parse_args()
    torch.set_num_threads(1)
    make_head(args) if args.command == "head" else export(args)


if __name__ == "__main__":
    main()
