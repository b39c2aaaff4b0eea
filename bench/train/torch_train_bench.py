# PyTorch twin of `semblance bench train`: the same BERT (post-LN, GELU-erf, mean pooling), unsupervised SimCSE step,
# grad-norm clipping and AdamW, on the same sentences in the same order; the same last line. PyTorch runs padded
# [batch, longest] tensors with an additive mask, as Hugging Face does; Semblance packs the sequences (no padding),
# so padded_tokens / tokens is work torch does that Semblance does not. OMP_WAIT_POLICY=PASSIVE keeps torch's
# 2-thread runs sane on a busy machine (its default busy-waiting barriers collapse there).
# Usage: python3 torch_train_bench.py --init CONFIG.json --vocab VOCAB.txt --data SENTENCES.txt
#        [--batch-size 64] [--max-length 32] [--steps 20] [--warmup-steps 2] [--threads 1]
import argparse, json, math, time, unicodedata
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--init", required=True)
ap.add_argument("--vocab", required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--batch-size", type=int, default=64)
ap.add_argument("--max-length", type=int, default=32)
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--warmup-steps", type=int, default=2)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()

cfg = json.load(open(args.init))
lines = [l.rstrip("\n") for l in open(args.data, encoding="utf-8") if l.strip()]
vocab = {t.rstrip("\r"): i for i, t in enumerate(open(args.vocab, encoding="utf-8").read().split("\n"))}
batch, max_len = args.batch_size, min(args.max_length, cfg["max_position_embeddings"])
torch.set_num_threads(args.threads)
torch.manual_seed(0)

# The BLAS torch really uses: a Debian torch on the reference BLAS runs a 1024^3 product at a few GFLOPS.
x = torch.randn(1024, 1024)
x @ x
t = time.perf_counter()
for _ in range(5): x @ x
print(f"torch {torch.__version__} threads={torch.get_num_threads()} sgemm_1024_gflops={5 * 2 * 1024 ** 3 / (time.perf_counter() - t) / 1e9:.1f}", flush=True)


def tokenize(text):
    # BERT basic tokenizer (lower case, strip accents, split on whitespace and punctuation) + greedy WordPiece.
    words, cur = [], ""
    for ch in unicodedata.normalize("NFD", text.lower()):
        if unicodedata.category(ch) == "Mn": continue
        if ch.isspace() or unicodedata.category(ch).startswith("P") or (ord(ch) < 128 and not ch.isalnum()):
            if cur: words.append(cur); cur = ""
            if not ch.isspace(): words.append(ch)
        else: cur += ch
    if cur: words.append(cur)
    ids = [vocab["[CLS]"]]
    for w in words:
        start, pieces = 0, []
        while start < len(w):
            end = len(w)
            while end > start and (("##" if start else "") + w[start:end]) not in vocab: end -= 1
            if end == start: pieces = [vocab["[UNK]"]]; break
            pieces.append(vocab[("##" if start else "") + w[start:end]]); start = end
        ids.extend(pieces)
    return ids[: max_len - 1] + [vocab["[SEP]"]]


H, L, A, I = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["intermediate_size"]
p_hidden, p_attn = cfg.get("hidden_dropout_prob", 0.1), cfg.get("attention_probs_dropout_prob", 0.1)
eps = cfg.get("layer_norm_eps", 1e-12)


class Layer(nn.Module):
    def __init__(s):
        super().__init__()
        s.q, s.k, s.v, s.o = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        s.ln1, s.i, s.out, s.ln2 = nn.LayerNorm(H, eps=eps), nn.Linear(H, I), nn.Linear(I, H), nn.LayerNorm(H, eps=eps)

    def forward(s, x, mask):
        B, T, _ = x.shape
        sh = lambda t: t.view(B, T, A, H // A).transpose(1, 2)
        scores = sh(s.q(x)) @ sh(s.k(x)).transpose(-1, -2) / math.sqrt(H // A) + mask
        ctx = (F.dropout(scores.softmax(-1), p_attn, True) @ sh(s.v(x))).transpose(1, 2).reshape(B, T, H)
        a = s.ln1(F.dropout(s.o(ctx), p_hidden, True) + x)
        return s.ln2(F.dropout(s.out(F.gelu(s.i(a))), p_hidden, True) + a)


class Bert(nn.Module):
    def __init__(s):
        super().__init__()
        s.word, s.pos, s.typ = nn.Embedding(cfg["vocab_size"], H), nn.Embedding(cfg["max_position_embeddings"], H), nn.Embedding(cfg.get("type_vocab_size", 2), H)
        s.ln, s.layers = nn.LayerNorm(H, eps=eps), nn.ModuleList([Layer() for _ in range(L)])

    def forward(s, ids, m):
        T = ids.shape[1]
        x = F.dropout(s.ln(s.word(ids) + s.typ(torch.zeros_like(ids)) + s.pos(torch.arange(T))), p_hidden, True)
        add = (1.0 - m[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in s.layers: x = layer(x, add)
        mf = m.unsqueeze(-1).float()
        return (x * mf).sum(1) / mf.sum(1)


model = Bert()
# The parameter groups of Semblance's AdamW: no decay on biases and LayerNorm.
no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or ".ln" in n or n.startswith("ln.")]
decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or ".ln" in n or n.startswith("ln."))]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=5e-5, eps=1e-6)
toks = [tokenize(t) for t in lines]


def make(rows):
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (T - len(r)) for r in rows])
    return ids, torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows], dtype=torch.bool)


print(f"config={args.init} hidden={H} layers={L} heads={A} intermediate={I} batch_size={batch} max_length={max_len} threads={args.threads} rows={len(toks)}", flush=True)
wall = cpu = 0.0
examples = tokens = sequences = padded = 0
for step in range(args.warmup_steps + args.steps):
    rows = [toks[(step * batch + i) % len(toks)] for i in range(batch)]
    ids, m = make(rows)
    w0, c0 = time.perf_counter(), time.process_time()
    a = F.normalize(model(ids, m), dim=-1)
    b = F.normalize(model(ids, m), dim=-1)
    loss = F.cross_entropy(a @ b.T / 0.05, torch.arange(batch))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if step < args.warmup_steps: continue
    wall += time.perf_counter() - w0
    cpu += time.process_time() - c0
    examples += batch
    tokens += 2 * sum(len(r) for r in rows)
    sequences += 2 * batch
    padded += 2 * ids.numel()
print(f"elapsed_s={wall:.3f} steps={args.steps} examples={examples} tokens={tokens} mean_tokens_per_sentence={tokens / sequences:.2f} padded_tokens={padded} loss={loss.item():.4f} cpu_s={cpu:.3f}")
print(f"ms_per_step={1000 * wall / args.steps:.1f}")
print(f"examples_per_s={examples / wall:.2f} tokens_per_s={tokens / wall:.2f}")
