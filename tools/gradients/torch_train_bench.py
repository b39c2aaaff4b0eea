# Training-speed reference: the same BERT (post-LN, GELU-erf, mean pooling) and unsupervised SimCSE step in PyTorch.
# Usage: python3 torch_train_bench.py CONFIG.json SENTENCES.txt VOCAB.txt [batch=64] [max_len=32] [steps=20] [threads=1]
# Prints examples per wall second and per CPU second over the steps after the first (warm-up).
import json, math, sys, time, unicodedata
import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.load(open(sys.argv[1]))
lines = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
vocab = {t.rstrip("\n"): i for i, t in enumerate(open(sys.argv[3], encoding="utf-8").read().split("\n"))}
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 64
max_len = int(sys.argv[5]) if len(sys.argv) > 5 else 32
steps = int(sys.argv[6]) if len(sys.argv) > 6 else 20
torch.set_num_threads(int(sys.argv[7]) if len(sys.argv) > 7 else 1)
torch.manual_seed(0)

def tokenize(text):
    # Rough lowercase/punctuation split + greedy WordPiece: only the token counts matter for speed.
    words, cur = [], ""
    for ch in unicodedata.normalize("NFD", text.lower()):
        if unicodedata.category(ch) == "Mn": continue
        if ch.isspace() or unicodedata.category(ch).startswith("P"):
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
p_drop = cfg.get("hidden_dropout_prob", 0.1)

class Layer(nn.Module):
    def __init__(s):
        super().__init__()
        s.q, s.k, s.v, s.o = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        s.ln1, s.i, s.out, s.ln2 = nn.LayerNorm(H, eps=1e-12), nn.Linear(H, I), nn.Linear(I, H), nn.LayerNorm(H, eps=1e-12)
    def forward(s, x, mask):
        B, T, _ = x.shape
        sh = lambda t: t.view(B, T, A, H // A).transpose(1, 2)
        scores = sh(s.q(x)) @ sh(s.k(x)).transpose(-1, -2) / math.sqrt(H // A) + mask
        ctx = (F.dropout(scores.softmax(-1), p_drop, True) @ sh(s.v(x))).transpose(1, 2).reshape(B, T, H)
        a = s.ln1(F.dropout(s.o(ctx), p_drop, True) + x)
        return s.ln2(F.dropout(s.out(F.gelu(s.i(a))), p_drop, True) + a)

class Bert(nn.Module):
    def __init__(s):
        super().__init__()
        s.word, s.pos, s.typ = nn.Embedding(cfg["vocab_size"], H), nn.Embedding(cfg["max_position_embeddings"], H), nn.Embedding(2, H)
        s.ln, s.layers = nn.LayerNorm(H, eps=1e-12), nn.ModuleList([Layer() for _ in range(L)])
    def forward(s, ids, m):
        T = ids.shape[1]
        x = F.dropout(s.ln(s.word(ids) + s.typ(torch.zeros_like(ids)) + s.pos(torch.arange(T))), p_drop, True)
        add = (1.0 - m[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in s.layers: x = layer(x, add)
        mf = m.unsqueeze(-1).float()
        return (x * mf).sum(1) / mf.sum(1)

model = Bert()
opt = torch.optim.AdamW(model.parameters(), lr=3e-5, eps=1e-6, weight_decay=0.01)
toks = [tokenize(t) for t in lines]
def make(rows):
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (T - len(r)) for r in rows])
    return ids, (ids != 0) | (torch.arange(T)[None, :] == 0)

times = []
for step in range(steps):
    rows = [toks[(step * batch + i) % len(toks)] for i in range(batch)]
    ids, m = make(rows)
    w0, c0 = time.perf_counter(), time.process_time()
    a = F.normalize(model(ids, m), dim=-1); b = F.normalize(model(ids, m), dim=-1)
    loss = F.cross_entropy(a @ b.T / 0.05, torch.arange(batch))
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
    times.append((time.perf_counter() - w0, time.process_time() - c0))
wall = sum(t[0] for t in times[1:]); cpu = sum(t[1] for t in times[1:])
print(f"torch {torch.__version__}: {batch * (steps - 1) / wall:.1f} ex/s wall, {batch * (steps - 1) / cpu:.1f} ex/s per CPU second, loss {loss.item():.4f}")
