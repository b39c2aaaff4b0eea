# Adds characters to a BERT model directory's WordPiece vocabulary (new word-embedding rows start as the [UNK] row).
"""Usage: extend_vocab.py SRC_DIR OUT_DIR TEXT_FILE...

Copies the Hugging Face BERT directory SRC_DIR to OUT_DIR and appends to its vocab.txt every CJK character
(U+3400-U+4DBF, U+4E00-U+9FFF, U+F900-U+FAFF) that occurs in the TEXT_FILEs (any UTF-8 text; the .tsv pair files are
read whole) and is not already a token, most frequent first. Each new token's row of
embeddings.word_embeddings.weight is drawn from N(mean, sd^2) of the existing rows, per dimension (EXTEND_SEED,
default 0); EXTEND_INIT=unk copies the [UNK] row instead, so that before training the model embeds every text as
the original did (all these characters were [UNK]), which trains far slower (docs/BENCHMARKS.md).
config.json's vocab_size is updated; the other files (sentence-transformers modules, tokenizer_config.json) are
copied unchanged. The safetensors I/O is torch_recipes.py's (F32 tensors).
"""
import collections
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from torch_recipes import load_safetensors, save_safetensors  # noqa: E402


def is_cjk(ch):
    o = ord(ch)
    return 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    src, out, texts = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(os.path.join(src, "vocab.txt"), encoding="utf-8") as f:
        vocab = [line.rstrip("\n") for line in f]
    known = set(vocab)
    counts = collections.Counter()
    for path in texts:
        with open(path, encoding="utf-8") as f:
            counts.update(ch for ch in f.read() if is_cjk(ch) and ch not in known)
    added = [ch for ch, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    if os.path.exists(out):
        raise SystemExit(f"extend_vocab.py: {out} exists; give a new directory")
    shutil.copytree(src, out)
    weights = load_safetensors(os.path.join(src, "model.safetensors"))
    key = next((k for k in weights if k.endswith("embeddings.word_embeddings.weight")), None)
    if key is None:
        raise SystemExit(f"extend_vocab.py: {src}/model.safetensors has no embeddings.word_embeddings.weight")
    table = weights[key]
    if table.shape[0] != len(vocab):
        raise SystemExit(f"extend_vocab.py: {key} has {table.shape[0]} rows but vocab.txt has {len(vocab)} tokens")
    if os.environ.get("EXTEND_INIT", "random") == "unk":
        rows = table[vocab.index("[UNK]")].unsqueeze(0).repeat(len(added), 1)
    else:
        # Distinct rows from the table's own per-dimension mean and spread (seeded): the new characters are told
        # apart from the first step, so the start model already matches texts by the characters they share.
        generator = torch.Generator().manual_seed(int(os.environ.get("EXTEND_SEED", "0")))
        rows = table.mean(0) + torch.randn(len(added), table.shape[1], generator=generator) * table.std(0)
    weights[key] = torch.cat([table, rows], dim=0)
    save_safetensors(os.path.join(out, "model.safetensors"), weights)
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token in vocab + added))
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["vocab_size"] = len(vocab) + len(added)
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    for stale in ("semblance-packaged.json", "tokenizer.json"):
        if os.path.exists(os.path.join(out, stale)):
            os.remove(os.path.join(out, stale))
    print(f"added {len(added)} characters ({sum(counts.values())} occurrences were [UNK]); vocab_size {config['vocab_size']}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
