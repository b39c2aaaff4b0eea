#!/usr/bin/env python3
# Loads a semblance-gru checkpoint into nn.Embedding + nn.GRU (strict) and compares its vectors with `semblance encode`;
# a BERT checkpoint likewise into torch_recipes.py's BertModel, pooled as POOLING (the twin's --pooling).
"""
Usage (Debian's python3-torch and python3-numpy; no safetensors package needed):
  semblance tokenize --model M --input s.txt > ids.jsonl
  semblance encode --model M --input s.txt --format npy --output v.npy [--pooling P]
  /usr/bin/python3 gru_torch_check.py M ids.jsonl v.npy [P]
P (BERT only): mean (default), last-avg, cls, first-last-avg, pooler, pooler-linear; a GRU pools as its config says.
Prints the largest absolute difference; exits 1 above 1e-5.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_recipes import Bert, load_model, pad  # noqa: E402  (the twin's encoders: one definition)


def main() -> int:
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__.strip())
    model_dir, ids_path, vectors_path = sys.argv[1:4]
    model = load_model(model_dir)  # every tensor the module has must be in the checkpoint
    if model.unused_tensors:
        sys.exit(f"{model_dir}: tensors the torch module does not have: {model.unused_tensors}")
    if len(sys.argv) == 5:
        if not isinstance(model, Bert):
            sys.exit("POOLING applies to BERT checkpoints; a GRU pools as its config.json's \"pooling\" says")
        model.pooling = sys.argv[4]
    model.eval()
    sequences = [json.loads(line)["ids"] for line in open(ids_path, encoding="utf-8")]
    ids, mask = pad(sequences)
    with torch.no_grad():
        expected = model(ids, mask).numpy()
    actual = np.load(vectors_path)
    diff = float(np.abs(expected - actual).max())
    print(f"{len(sequences)} sentences, dim {actual.shape[1]}: max |torch - semblance| = {diff:.3g}")
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
