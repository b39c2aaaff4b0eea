#!/usr/bin/env python3
# Loads a semblance-gru checkpoint into nn.Embedding + nn.GRU (strict) and compares its vectors with `semblance encode`.
"""
Usage (Debian's python3-torch and python3-numpy; no safetensors package needed):
  semblance tokenize --model M --input s.txt > ids.jsonl
  semblance encode --model M --input s.txt --format npy --output v.npy
  /usr/bin/python3 gru_torch_check.py M ids.jsonl v.npy
Prints the largest absolute difference; exits 1 above 1e-5.
"""
import json
import struct
import sys

import numpy as np
import torch


class GruSentenceEncoder(torch.nn.Module):
    """embedding -> GRU (config.json's "bidirectional") -> config.json's "pooling": "mean" over the real tokens
    (directions concatenated) or "last" (each direction's final state, h_n)."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, bidirectional: bool, pooling: str):
        super().__init__()
        self.embeddings = torch.nn.Embedding(vocab_size, embedding_size)
        self.gru = torch.nn.GRU(embedding_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.pooling = pooling

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embeddings(ids), lengths, batch_first=True, enforce_sorted=False)
        states, final = self.gru(packed)
        if self.pooling == "last":
            return torch.cat(list(final), dim=1)
        states, _ = torch.nn.utils.rnn.pad_packed_sequence(states, batch_first=True)
        return states.sum(1) / lengths.unsqueeze(1).to(states.dtype)


def read_safetensors(path: str) -> dict:
    raw = open(path, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + size])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        data = np.frombuffer(raw[8 + size + start:8 + size + end], dtype=np.float32).reshape(info["shape"])
        tensors[name] = torch.from_numpy(data.copy())
    return tensors


def main() -> int:
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip())
    model_dir, ids_path, vectors_path = sys.argv[1:]
    config = json.load(open(f"{model_dir}/config.json", encoding="utf-8"))
    model = GruSentenceEncoder(config["vocab_size"], config["embedding_size"], config["hidden_size"],
                               config.get("bidirectional", True), config.get("pooling", "mean"))
    model.load_state_dict(read_safetensors(f"{model_dir}/model.safetensors"), strict=True)
    sequences = [json.loads(line)["ids"] for line in open(ids_path, encoding="utf-8")]
    lengths = torch.tensor([len(s) for s in sequences])
    ids = torch.zeros(len(sequences), int(lengths.max()), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = torch.tensor(s)
    with torch.no_grad():
        expected = model(ids, lengths).numpy()
    actual = np.load(vectors_path)
    diff = float(np.abs(expected - actual).max())
    print(f"{len(sequences)} sentences, dim {actual.shape[1]}: max |torch - semblance| = {diff:.3g}")
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
