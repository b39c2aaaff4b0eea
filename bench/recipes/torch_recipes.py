# PyTorch twins of `semblance train` (CoSENT / SimCSE / supervised SimCSE on a BERT, AM-Softmax on a GRU) for the quality comparison.
"""PyTorch (CPU) re-implementation of src/Semblance/Training for the recipe comparison in docs/BENCHMARKS.md.

What is mirrored from Trainer.cs and friends (the random streams differ, the rules do not):
  * models: Hugging Face BertModel (post-LN, exact GELU, dropout on embeddings, attention probabilities, attention
    output and FFN output) initialised as transformers' _init_weights (N(0, initializer_range^2) weights, zero biases,
    LayerNorm 1/0, pad row 0); the GRU encoder as nn.Embedding (N(0,1)) + nn.GRU(config "bidirectional", batch_first,
    U(-1/sqrt(H), 1/sqrt(H))) over packed sequences, pooled as config "pooling" says (mean, or last: h_n).
  * BERT sentence vectors (--pooling, as `semblance train --pooling`): mean / last-avg over real tokens ([CLS]/[SEP]
    included; the default), cls (last layer's [CLS] row), first-last-avg (mean of the first transformer layer's and the
    last layer's states), pooler (tanh(pooler.dense([CLS]))) or pooler-linear (pooler.dense([CLS])).
  * pretrained start (--init-from DIR): a Hugging Face BERT directory's config.json and model.safetensors (e.g. the
    directory `semblance info --model sentence-transformers/all-MiniLM-L6-v2` prints), instead of the random init.
  * losses: CoSENT log(1 + sum_{y_i > y_j} exp(lambda (cos_j - cos_i))); unsupervised SimCSE (each sentence twice
    through dropout, InfoNCE over the batch, cos/tau); supervised SimCSE (anchor<TAB>positive[<TAB>hard negative]
    rows; InfoNCE of each anchor over all positives and all hard negatives of the batch, cos/tau); AM-Softmax logits s (cos(a_i, p_j) - m [i = j]), loss
    (CE(logits) + CE(logits^T)) / 2; am-softmax-proxy (text<TAB>group rows, one class per group): a learned proxy per
    class, mean CE of s (cos(e_i, w_j) - m [j = c_i]).
  * optimisation: AdamW (betas 0.9/0.999, eps 1e-6, decoupled decay 0.01, none on biases, LayerNorm and any 1-D
    tensor), global-norm clipping at 1.0, lr(s) = lr0 s/W for s < W, then (--schedule) linear lr0 max(0, (T-s)/(T-W)),
    constant lr0 or cosine lr0 max(0, (1 + cos(pi (s-W)/(T-W)))/2), with s the number of steps already taken (so step 1
    runs with lr 0), T = the number of batches of all epochs; --dropout overrides both config.json dropout rates.
  * batches: a seeded shuffle per epoch chunked into batch-size rows, batches of fewer than 2 rows dropped; for
    AM-Softmax each group's members are shuffled and paired (an odd last member pairs with the first), the pairs
    shuffled, and batches filled greedily with at most one pair per group (the rest wait for the next batch).
  * evaluation: dev Spearman x100 of cosine between mean-pooled embeddings (no dropout) every --eval-every steps and
    at each epoch end not already evaluated; the best (strictly greater) checkpoint is kept and scored on test.
Token ids come from `semblance tokenize` (bench/recipes/prepare.sh), so tokenisation cannot differ.
Stdlib + torch only: Spearman (average ranks for ties) and safetensors I/O are implemented here.

Usage:
  torch_recipes.py train --loss cosent|simcse|sup-simcse|am-softmax|am-softmax-proxy (--config CONFIG.json | --init-from MODEL_DIR)
      --tokens DIR --data FILE --output DIR
      [--epochs N] [--batch-size B] [--lr LR] [--warmup W] [--temperature T] [--margin M] [--scale S] [--seed S]
      [--eval-data DEV.tsv] [--test-data TEST.tsv] [--eval-every N] [--threads N] [--vocab FILE]
      [--pooling P] [--dropout P] [--schedule constant|linear|cosine] [--simcse-batch views|duplicate]
  torch_recipes.py eval --model DIR --tokens DIR --data STS.tsv [...]   (scores a saved model, ours or this script's)
"""
import argparse
import array
import copy
import json
import math
import os
import random
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- data

class Tokens:
    """text -> token ids, from texts.txt and the tokens.jsonl `semblance tokenize` wrote for it (line by line)."""

    def __init__(self, directory):
        with open(os.path.join(directory, "texts.txt"), encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f]
        with open(os.path.join(directory, "tokens.jsonl"), encoding="utf-8") as f:
            ids = [json.loads(line)["ids"] for line in f]
        if len(texts) != len(ids):
            raise SystemExit(f"{directory}: {len(texts)} texts but {len(ids)} tokenized lines; rerun prepare.sh")
        self.ids = dict(zip(texts, ids))

    def __call__(self, text):
        try:
            return self.ids[text]
        except KeyError:
            raise SystemExit(f"text not in the tokenized set (rerun prepare.sh): {text!r}") from None


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def read_sts(path):
    rows = []
    for line in read_lines(path):
        a, b, score = line.split("\t")
        rows.append((a, b, float(score)))
    return rows


def load_rows(loss, path):
    """Rows as Trainer sees them: (texts, score); am-softmax-proxy: ((text,), class index in order of first
    appearance); for am-softmax the groups instead."""
    if loss == "cosent":
        return [((a, b), s) for a, b, s in read_sts(path)]
    if loss == "simcse":
        return [((line, line), 0.0) for line in read_lines(path)]
    if loss == "am-softmax-proxy":
        classes, rows = {}, []
        for line in read_lines(path):
            text, group = line.split("\t")
            rows.append(((text,), classes.setdefault(group, len(classes))))
        if len(classes) < 2:
            raise SystemExit(f"{path}: only one group; am-softmax-proxy needs at least two")
        return rows
    if loss == "sup-simcse":
        rows = [tuple(line.split("\t")) for line in read_lines(path)]
        if any(len(r) != len(rows[0]) or len(r) not in (2, 3) for r in rows):
            raise SystemExit(f"{path}: expected anchor<TAB>positive[<TAB>hard negative] on every line, all with the same columns")
        return [(r, 0.0) for r in rows]
    groups = {}
    for line in read_lines(path):
        text, group = line.split("\t")
        groups.setdefault(group, []).append(text)
    small = [g for g, m in groups.items() if len(m) < 2]
    if small:
        raise SystemExit(f"{path}: group {small[0]!r} has one member")
    return groups


def epoch_batches(loss, data, batch_size, rng):
    """One epoch's batches; `rng` is anything with shuffle(list) (random.Random here, System.Random's port in lockstep_check)."""
    if loss != "am-softmax":
        order = list(data)
        rng.shuffle(order)
        batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        return [b for b in batches if len(b) >= 2]
    pairs = []
    for group in sorted(data):
        members = list(data[group])
        rng.shuffle(members)
        for i in range(0, len(members) - 1, 2):
            pairs.append(((members[i], members[i + 1]), group))
        if len(members) % 2 == 1:
            pairs.append(((members[-1], members[0]), group))
    rng.shuffle(pairs)
    batches, queue = [], pairs
    while queue:
        batch, used, rest = [], set(), []
        for row in queue:
            if len(batch) < batch_size and row[1] not in used:
                used.add(row[1])
                batch.append(row)
            else:
                rest.append(row)
        batches.append(batch)
        queue = rest
    return [b for b in batches if len(b) >= 2]


def pad(sequences):
    """[B, T] ids (0-padded) and the [B, T] bool mask of real tokens."""
    t = max(len(s) for s in sequences)
    ids = torch.zeros(len(sequences), t, dtype=torch.long)
    mask = torch.zeros(len(sequences), t, dtype=torch.bool)
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = True
    return ids, mask


# ---------------------------------------------------------------- models

def mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1)


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], h)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(c.get("type_vocab_size", 2), h)
        self.LayerNorm = nn.LayerNorm(h, eps=c.get("layer_norm_eps", 1e-12))
        self.dropout = nn.Dropout(c.get("hidden_dropout_prob", 0.1))

    def forward(self, ids, types=None):
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        types = torch.zeros_like(ids) if types is None else types
        x = self.word_embeddings(ids) + self.token_type_embeddings(types) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.dropout = nn.Dropout(c.get("attention_probs_dropout_prob", 0.1))

    def forward(self, x, additive_mask):
        b, t, h = x.shape
        d = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + additive_mask
        probs = self.dropout(torch.softmax(scores, dim=-1))
        return (probs @ v).transpose(1, 2).reshape(b, t, h)


class BertSelfOutput(nn.Module):
    def __init__(self, c, inner):
        super().__init__()
        self.dense = nn.Linear(inner, c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c.get("layer_norm_eps", 1e-12))
        self.dropout = nn.Dropout(c.get("hidden_dropout_prob", 0.1))

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c, c["hidden_size"])

    def forward(self, x, additive_mask):
        return self.output(self.self(x, additive_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        if c.get("hidden_act", "gelu") != "gelu":
            raise SystemExit(f"hidden_act {c['hidden_act']!r}: only the exact (erf) gelu is mirrored")
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return F.gelu(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertSelfOutput(c, c["intermediate_size"])

    def forward(self, x, additive_mask):
        a = self.attention(x, additive_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(c) for _ in range(c["num_hidden_layers"]))


class BertPooler(nn.Module):
    """Created and saved as BertModel has it; it gets a gradient only under --pooling pooler / pooler-linear."""

    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)
        self.pooling = "mean"

    def initialize(self, generator):
        std = self.config.get("initializer_range", 0.02)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("LayerNorm.weight"):
                    p.fill_(1.0)
                elif name.endswith(".bias"):
                    p.zero_()
                else:
                    p.normal_(0.0, std, generator=generator)
            pad_id = self.config.get("pad_token_id", 0)
            if pad_id is not None and 0 <= pad_id < self.config["vocab_size"]:
                self.embeddings.word_embeddings.weight[pad_id].zero_()

    def forward(self, ids, mask):
        """Sentence vectors [B, H] pooled as self.pooling says (semblance train --pooling)."""
        additive = (~mask)[:, None, None, :].to(torch.float32) * torch.finfo(torch.float32).min
        first, last = self.hidden(ids, additive, first_layer=True)
        if self.pooling in ("mean", "last-avg"):
            return mean_pool(last, mask)
        if self.pooling == "first-last-avg":
            return mean_pool((first + last) / 2, mask)
        if self.pooling == "cls":
            return last[:, 0]
        dense = self.pooler.dense(last[:, 0])
        return torch.tanh(dense) if self.pooling == "pooler" else dense

    def hidden(self, ids, additive, types=None, first_layer=False):
        """Last-layer token states [B, T, H] under an additive attention mask broadcastable to [B, heads, T, T];
        with first_layer, (first transformer layer's states, last layer's states)."""
        x = self.embeddings(ids, types)
        first = None
        for layer in self.encoder.layer:
            x = layer(x, additive)
            first = x if first is None else first
        return (first, x) if first_layer else x


def unilm_mask(types):
    """The UniLM seq2seq additive mask [B, 1, T, T] of unpadded [B, T] token types: key j visible to query i iff
    cumsum(types)[j] <= cumsum(types)[i] (bert4keras' unilm_mask)."""
    c = torch.cumsum(types, dim=1)
    hidden = c[:, None, :] > c[:, :, None]
    return hidden[:, None].to(torch.float32) * torch.finfo(torch.float32).min


class MaskedLmHead(nn.Module):
    """BertForMaskedLM's cls.predictions: LayerNorm(gelu(dense(h))) . E^T + bias, the decoder tied to the word embeddings."""

    def __init__(self, c, word_embeddings):
        super().__init__()
        h = c["hidden_size"]
        self.dense = nn.Linear(h, h)
        self.LayerNorm = nn.LayerNorm(h, eps=c.get("layer_norm_eps", 1e-12))
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.word_embeddings = word_embeddings

    def forward(self, x):
        return self.LayerNorm(F.gelu(self.dense(x))) @ self.word_embeddings.weight.T + self.bias

    def named_head_parameters(self):
        """The head's own tensors under their checkpoint names (the tied decoder is the embeddings')."""
        return {"cls.predictions.transform.dense.weight": self.dense.weight, "cls.predictions.transform.dense.bias": self.dense.bias,
                "cls.predictions.transform.LayerNorm.weight": self.LayerNorm.weight,
                "cls.predictions.transform.LayerNorm.bias": self.LayerNorm.bias, "cls.predictions.bias": self.bias}

class BertForSequenceClassification(nn.Module):
    """Hugging Face's head for pair scoring (cross-encoders): classifier(dropout(tanh(pooler.dense(h[CLS]))))."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.bert = Bert(c)
        self.dropout = nn.Dropout(c.get("hidden_dropout_prob", 0.1))
        self.classifier = nn.Linear(c["hidden_size"], c.get("num_labels", 1))

    def forward(self, ids, mask, types):
        """Logits [B, num_labels] of pairs tokenized [CLS] a [SEP] b [SEP] with their token type ids."""
        additive = (~mask)[:, None, None, :].to(torch.float32) * torch.finfo(torch.float32).min
        pooled = torch.tanh(self.bert.pooler.dense(self.bert.hidden(ids, additive, types)[:, 0]))
        return self.classifier(self.dropout(pooled))


class Gru(nn.Module):
    """embedding -> GRU over the real tokens (config "bidirectional", default true) -> config "pooling": "mean" of the
    states (directions concatenated; the default) or "last" (each direction's final state, h_n, concatenated)."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.pooling = c.get("pooling", "mean")
        if self.pooling not in ("mean", "last"):
            raise SystemExit(f"config.json: pooling {self.pooling!r}, expected mean or last")
        self.embeddings = nn.Embedding(c["vocab_size"], c["embedding_size"])
        self.gru = nn.GRU(c["embedding_size"], c["hidden_size"], batch_first=True, bidirectional=c.get("bidirectional", True))

    def initialize(self, generator):
        bound = 1.0 / math.sqrt(self.config["hidden_size"])
        with torch.no_grad():
            self.embeddings.weight.normal_(0.0, 1.0, generator=generator)
            for p in self.gru.parameters():
                p.uniform_(-bound, bound, generator=generator)

    def forward(self, ids, mask):
        lengths = mask.sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(self.embeddings(ids), lengths, batch_first=True, enforce_sorted=False)
        out, final = self.gru(packed)
        if self.pooling == "last":
            return torch.cat(list(final), dim=1)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        return mean_pool(out, mask)


def build_model(config):
    kind = config.get("model_type")
    if kind == "bert":
        return Bert(config)
    if kind == "semblance-gru":
        return Gru(config)
    raise SystemExit(f"model_type {kind!r}: expected bert or semblance-gru")


# ---------------------------------------------------------------- safetensors (F32 only)

def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        data = array.array("f", t.detach().to(torch.float32).flatten().tolist()).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, only F32 is read")
        begin, end = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(info["shape"])
    return out


def save_model(model, directory, vocab):
    os.makedirs(directory, exist_ok=True)
    save_safetensors(os.path.join(directory, "model.safetensors"), model.state_dict())
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(model.config, f)
        f.write("\n")
    if vocab:
        with open(vocab, "rb") as src, open(os.path.join(directory, "vocab.txt"), "wb") as dst:
            dst.write(src.read())
        with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True,
                       "model_max_length": model.config.get("max_position_embeddings", 512)}, f)
            f.write("\n")


# ---------------------------------------------------------------- evaluation

def ranks(values):
    """1-based ranks; ties share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and values[order[end]] == values[order[start]]:
            end += 1
        for j in range(start, end):
            r[order[j]] = (start + 1 + end) / 2.0
        start = end
    return r


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def spearman(x, y):
    return pearson(ranks(x), ranks(y))


@torch.no_grad()
def evaluate(model, tokens, sts, batch_size=64):
    """Spearman x100 of cosine(mean-pooled a, b) against gold, dropout off."""
    was_training = model.training
    model.eval()
    sentences = list(dict.fromkeys(t for a, b, _ in sts for t in (a, b)))
    order = sorted(range(len(sentences)), key=lambda i: len(tokens(sentences[i])))
    vectors = {}
    for i in range(0, len(order), batch_size):
        chunk = order[i:i + batch_size]
        ids, mask = pad([tokens(sentences[j]) for j in chunk])
        pooled = model(ids, mask)
        for j, v in zip(chunk, pooled):
            vectors[sentences[j]] = v
    cosines = [F.cosine_similarity(vectors[a], vectors[b], dim=0).item() for a, b, _ in sts]
    model.train(was_training)
    return 100.0 * spearman(cosines, [s for _, _, s in sts])


# ---------------------------------------------------------------- losses

def cosent_loss(a, b, scores, lam):
    c = lam * F.cosine_similarity(a, b, dim=-1)
    z = c[None, :] - c[:, None]          # z[i, j] = c_j - c_i
    ranked = scores[:, None] > scores[None, :]
    return torch.logsumexp(torch.cat([torch.zeros(1), z[ranked]]), dim=0)


def simcse_duplicate_loss(a, p, temperature):
    """The 2B x 2B layout: both views stacked, each row's target its other view, its own column masked out."""
    e = F.normalize(torch.cat([a, p]), dim=-1)
    n, b = e.shape[0], a.shape[0]
    logits = (e @ e.T / temperature).masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(logits, torch.cat([torch.arange(b, n), torch.arange(0, b)]))


def pair_cosent_loss(logits, scores, lam):
    """CoSENT on a cross-encoder's pair scores s: log(1 + sum_{y_i > y_j} exp(lambda (s_j - s_i)))."""
    s = lam * logits[:, 0]
    z = s[None, :] - s[:, None]
    ranked = scores[:, None] > scores[None, :]
    return torch.logsumexp(torch.cat([torch.zeros(1, dtype=s.dtype), z[ranked]]), dim=0)


def pair_bce_loss(logits, targets):
    """BCEWithLogits on the one-label score against targets in [0, 1] (0/1 labels or soft, e.g. STS score / 5)."""
    return F.binary_cross_entropy_with_logits(logits[:, 0], targets)


def pair_mse_loss(logits, targets):
    return F.mse_loss(logits[:, 0], targets)


def pair_ce_loss(logits, classes):
    return F.cross_entropy(logits, classes)


def simcse_loss(a, p, temperature, hard=None):
    candidates = p if hard is None else torch.cat([p, hard])
    logits = F.normalize(a, dim=-1) @ F.normalize(candidates, dim=-1).T / temperature
    return F.cross_entropy(logits, torch.arange(a.shape[0]))


class ProxyHead(nn.Module):
    """am-softmax-proxy's class proxies W [classes, H] ("proxies.weight"), Glorot-uniform as Keras Dense, decayed
    and clipped with the encoder's parameters."""

    def __init__(self, classes, dimension, generator):
        super().__init__()
        limit = math.sqrt(6.0 / (classes + dimension))
        self.weight = nn.Parameter(torch.empty(classes, dimension).uniform_(-limit, limit, generator=generator))

    def forward(self, e, labels, margin, scale):
        """mean_i CE(s (cos(e_i, w_j) - m [j = c_i]), c_i), e and w L2-normalised."""
        cos = F.normalize(e, dim=-1) @ F.normalize(self.weight, dim=-1).T
        return F.cross_entropy(scale * (cos - margin * F.one_hot(labels, cos.shape[1]).to(cos.dtype)), labels)


def am_softmax_loss(a, p, margin, scale):
    cos = F.normalize(a, dim=-1) @ F.normalize(p, dim=-1).T
    logits = scale * (cos - margin * torch.eye(a.shape[0]))
    targets = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def simbert_loss(model, head, first, second, scale, teacher=None):
    """SimBERT on pairs given as token ids [CLS] .. [SEP]: each pair packed both ways (all (a, b), then all (b, a)) as
    source (type 0) + target without its [CLS] (type 1), one sequence at a time under the UniLM mask. Returns
    (total, generation, similarity): generation = mean CE of token t+1 predicted at t wherever token t+1 is type 1;
    similarity = CE of scale * cos over the [CLS] vectors, diagonal masked, each row's target its partner; with
    teacher ([2B, H], the sources' vectors in sequence order) the total adds RoFormer-Sim's mse_loss(cls, teacher)."""
    sequences = [(a, b) for a, b in zip(first, second)] + [(b, a) for a, b in zip(first, second)]
    logits, targets, cls = [], [], []
    for source, target in sequences:
        ids = torch.tensor([source + target[1:]])
        types = torch.tensor([[0] * len(source) + [1] * (len(target) - 1)])
        hidden = model.hidden(ids, unilm_mask(types), types)[0]
        cls.append(hidden[0])
        logits.append(head(hidden[len(source) - 1:-1]))
        targets.append(ids[0, len(source):])
    generation = F.cross_entropy(torch.cat(logits), torch.cat(targets))
    vectors = F.normalize(torch.stack(cls), dim=-1)
    n = len(sequences)
    scores = scale * vectors @ vectors.T - 1e12 * torch.eye(n, dtype=vectors.dtype)
    partners = torch.tensor([i + n // 2 if i < n // 2 else i - n // 2 for i in range(n)])
    similarity = F.cross_entropy(scores, partners)
    total = generation + similarity
    if teacher is not None:
        total = total + F.mse_loss(torch.stack(cls), teacher)
    return total, generation, similarity


# ---------------------------------------------------------------- training

def batch_loss(model, tokens, args, batch, proxies=None):
    """All columns of a batch in one padded forward pass, then the loss of args.loss."""
    n, columns = len(batch), len(batch[0][0])
    ids, mask = pad([tokens(row[0][c]) for c in range(columns) for row in batch])
    pooled = model(ids, mask)
    if args.loss == "am-softmax-proxy":
        return proxies(pooled, torch.tensor([row[1] for row in batch]), args.margin, args.scale)
    a, b = pooled[:n], pooled[n:2 * n]
    if args.loss == "cosent":
        return cosent_loss(a, b, torch.tensor([row[1] for row in batch]), args.scale)
    if args.loss == "simcse" and args.simcse_batch == "duplicate":
        return simcse_duplicate_loss(a, b, args.temperature)
    if args.loss in ("simcse", "sup-simcse"):
        return simcse_loss(a, b, args.temperature, pooled[2 * n:] if columns == 3 else None)
    return am_softmax_loss(a, b, args.margin, args.scale)


def make_optimizer(model, lr, weight_decay):
    named = list(model.named_parameters())  # model: any nn.Module (the encoder and a loss's own weights together)
    return torch.optim.AdamW(
        [{"params": [p for n, p in named if decays(n, p)], "weight_decay": weight_decay},
         {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.999), eps=1e-6)


def decays(name, p):
    return not (name.endswith(".bias") or "LayerNorm" in name or p.dim() == 1)


def lr_at(step, peak, warmup, total, schedule="linear"):
    """peak s/W for s < W; then with p = (s - W)/(T - W): linear peak max(0, 1 - p), constant peak, cosine
    peak max(0, (1 + cos pi p)/2) (semblance train --schedule)."""
    if step < warmup:
        return peak * step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        return peak * max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))
    return peak * max(0.0, 1 - progress)


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.init_from:
        model = load_model(args.init_from, args.dropout)
    else:
        with open(args.config, encoding="utf-8") as f:
            config = with_dropout(json.load(f), args.dropout)
        model = build_model(config)
        model.initialize(torch.Generator().manual_seed(args.seed))
    if args.pooling != "mean":
        if not isinstance(model, Bert):
            raise SystemExit(f"--pooling {args.pooling}: the GRU pools as its config.json's \"pooling\" says")
        model.pooling = args.pooling
    tokens = Tokens(args.tokens)
    data = load_rows(args.loss, args.data)
    proxies = None
    if args.loss == "am-softmax-proxy":
        width = model.config["hidden_size"] * (2 if isinstance(model, Gru) and model.config.get("bidirectional", True) else 1)
        proxies = ProxyHead(len(set(c for _, c in data)), width, torch.Generator().manual_seed(args.seed + 1))
    dev = read_sts(args.eval_data) if args.eval_data else None
    test = read_sts(args.test_data) if args.test_data else None

    epochs = [epoch_batches(args.loss, data, args.batch_size, random.Random(args.seed * 1_000_003 + e)) for e in range(args.epochs)]
    total = sum(len(e) for e in epochs)
    trained = nn.ModuleDict({"model": model, "proxies": proxies}) if proxies is not None else model
    optimizer = make_optimizer(trained, args.lr, args.weight_decay)
    print(f"recipe: pooling {args.pooling}, {args.schedule} schedule, dropout {args.dropout if args.dropout is not None else 'from config'}", file=sys.stderr)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}: {args.loss} on {type(model).__name__}, "
          f"{args.epochs} epoch(s) x {len(epochs[0])} batches of {args.batch_size}, {total} steps, seed {args.seed}", file=sys.stderr)

    best, best_step, best_state = float("nan"), 0, None

    def evaluate_and_keep(step):
        nonlocal best, best_step, best_state
        if dev is None:
            best_state = copy.deepcopy(model.state_dict())
            return
        score = evaluate(model, tokens, dev)
        if math.isnan(best) or score > best:
            best, best_step, best_state = score, step, copy.deepcopy(model.state_dict())
        print(f"step {step}: dev spearman {score:.2f} (best {best:.2f} at step {best_step})", file=sys.stderr)

    model.train()
    clock, start = time.perf_counter(), time.perf_counter()
    step, loss_sum, loss_count, seen = 0, 0.0, 0, 0
    for epoch, batches in enumerate(epochs):
        evaluated = False
        for batch in batches:
            n = len(batch)
            loss = batch_loss(model, tokens, args, batch, proxies)
            if not torch.isfinite(loss):
                raise SystemExit(f"step {step + 1}: the loss is {loss.item()}")
            loss.backward()
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(trained.parameters(), args.max_grad_norm)
            lr = lr_at(step, args.lr, args.warmup, total, args.schedule)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_sum += loss.item()
            loss_count += 1
            seen += n
            evaluated = False
            if step % 10 == 0 or step == total:
                now = time.perf_counter()
                print(f"epoch {epoch + 1}/{args.epochs} step {step}/{total} loss {loss_sum / loss_count:.4f} lr {lr:.2e} "
                      f"{seen / max(1e-9, now - clock):.1f} ex/s", file=sys.stderr)
                clock, loss_sum, loss_count, seen = now, 0.0, 0, 0
            if args.eval_every and step % args.eval_every == 0:
                evaluate_and_keep(step)
                evaluated = True
        if not evaluated:
            evaluate_and_keep(step)
    wall = time.perf_counter() - start

    model.load_state_dict(best_state)
    result = {"side": "pytorch", "loss": args.loss, "seed": args.seed, "steps": total, "best_step": best_step,
              "dev": round(best, 2) if dev else None, "train_wall_s": round(wall, 1)}
    if test is not None:
        result["test"] = round(evaluate(model, tokens, test), 2)
    if args.output:
        save_model(model, args.output, args.vocab)
        with open(os.path.join(args.output, "result.json"), "w", encoding="utf-8") as f:
            json.dump(result, f)
            f.write("\n")
    print(json.dumps(result))


def evaluate_saved(args):
    """Scores a saved model directory (semblance's or this script's) with this script's forward pass and Spearman."""
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    tokens = Tokens(args.tokens)
    for path in args.data:
        print(json.dumps({"model": args.model, "data": path, "spearman": round(evaluate(model, tokens, read_sts(path)), 4),
                          "unused_tensors": model.unused_tensors}))


def with_dropout(config, dropout):
    """config.json with hidden_dropout_prob and attention_probs_dropout_prob set to dropout (None: unchanged)."""
    if dropout is None:
        return config
    if config.get("model_type") == "semblance-gru":
        raise SystemExit("--dropout: the GRU encoder has no dropout")
    return dict(config, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)


def load_model(directory, dropout=None):
    """The model of a saved directory (Hugging Face BERT layout, or this script's GRU): config.json + model.safetensors."""
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        config = with_dropout(json.load(f), dropout)
    model = build_model(config)
    weights = load_safetensors(os.path.join(directory, "model.safetensors"))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing:
        raise SystemExit(f"{directory}: missing tensors {missing}")
    model.unused_tensors = unexpected
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--loss", choices=["cosent", "simcse", "sup-simcse", "am-softmax", "am-softmax-proxy"], required=True)
    start = t.add_mutually_exclusive_group(required=True)
    start.add_argument("--config", help="bert-small.json or gru.json (random init)")
    start.add_argument("--init-from", help="a Hugging Face BERT directory (config.json + model.safetensors) to fine-tune")
    t.add_argument("--tokens", required=True, help="prepare.sh output directory (texts.txt + tokens.jsonl)")
    t.add_argument("--data", required=True)
    t.add_argument("--output")
    t.add_argument("--vocab", help="vocab.txt copied into --output so `semblance eval sts` can load the model")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--warmup", type=int, default=0)
    t.add_argument("--temperature", type=float, default=0.05)
    t.add_argument("--margin", type=float, default=0.3)
    t.add_argument("--scale", type=float, default=20.0)
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--eval-data")
    t.add_argument("--test-data")
    t.add_argument("--eval-every", type=int, default=0)
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--max-grad-norm", type=float, default=1.0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--pooling", choices=["mean", "last-avg", "cls", "first-last-avg", "pooler", "pooler-linear"], default="mean",
                   help="BERT sentence vector (semblance train --pooling); dev and test scoring use it too")
    t.add_argument("--dropout", type=float, help="overrides hidden_dropout_prob and attention_probs_dropout_prob")
    t.add_argument("--schedule", choices=["constant", "linear", "cosine"], default="linear", help="after the warm-up")
    t.add_argument("--simcse-batch", choices=["views", "duplicate"], default="views",
                   help="simcse: B x B cross-view (default) or 2B x 2B over duplicated sentences, diagonal masked")
    e = sub.add_parser("eval")
    e.add_argument("--model", required=True)
    e.add_argument("--tokens", required=True)
    e.add_argument("--data", required=True, nargs="+")
    e.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.command == "train":
        train(args)
    else:
        evaluate_saved(args)


if __name__ == "__main__":
    main()
