# Reference losses and gradients for what ../shared/fixtures/gradients does not cover: the GRU sentence encoder
# (nn.Embedding + bidirectional nn.GRU + mean pooling) under AM-Softmax, FlatNCE and SimCSE's two batch layouts
# (B x B cross-view; 2B x 2B over duplicated sentences, diagonal masked), and AM-Softmax with learned class proxies
# (am-softmax-proxy: the anchors only, with classes; the proxies are an input and get a gradient), computed by
# PyTorch in float64.
# Usage: /usr/bin/python3 tools/gradients/make_gru_fixtures.py tests/Semblance.Tests/Training/Fixtures/gru
#   (Debian python3-torch; deterministic for the seeds)
import json, os, struct, sys
import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(7)
V, E, H = 40, 6, 5
emb = torch.nn.Embedding(V, E)
gru = torch.nn.GRU(E, H, batch_first=True, bidirectional=True)
with torch.no_grad():
    for p in list(emb.parameters()) + list(gru.parameters()):
        p.uniform_(-0.8, 0.8)
# The float32 weights are the model; the reference runs them in float64.
weights = {"embeddings.weight": emb.weight.detach().float()}
for name, p in gru.named_parameters():
    weights["gru." + name] = p.detach().float()
emb.double(); gru.double()

gen = torch.Generator().manual_seed(11)
def sequence():
    n = int(torch.randint(2, 9, (1,), generator=gen))
    return [int(t) for t in torch.randint(0, V, (n,), generator=gen)]
rows = 6
anchors = [sequence() for _ in range(rows)]
positives = [sequence() for _ in range(rows)]

def encode(seqs):
    pooled = []
    for s in seqs:
        y, _ = gru(emb(torch.tensor([s])))
        pooled.append(y[0].mean(0))
    return torch.stack(pooled)

def am_softmax(a, p, s=30.0, m=0.35):
    cos = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(p, dim=1).T
    logits = s * (cos - m * torch.eye(len(a), dtype=cos.dtype))
    t = torch.arange(len(a))
    loss = 0.5 * (torch.nn.functional.cross_entropy(logits, t) + torch.nn.functional.cross_entropy(logits.T, t))
    return loss, loss

def flat_nce(a, p, tau=0.05):
    logits = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(p, dim=1).T / tau
    n = len(a)
    eye = torch.eye(n, dtype=torch.bool)
    diff = (logits - logits.diagonal()[:, None]).masked_fill(eye, float("-inf"))
    v = torch.logsumexp(diff, dim=1)
    objective = (torch.exp(v - v.detach()) - 1).mean()
    reported = torch.nn.functional.softplus(v).mean()
    return objective, reported

def simcse_views(a, p, tau=0.05):
    logits = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(p, dim=1).T / tau
    loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(a)))
    return loss, loss

def simcse_duplicate(a, p, tau=0.05):
    # The blog's layout: each sentence twice in one batch of 2B; a row's target is its other copy, itself masked out.
    e = torch.nn.functional.normalize(torch.cat([a, p]), dim=1)
    n, b = len(e), len(a)
    logits = (e @ e.T / tau).masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(b, n), torch.arange(0, b)])
    loss = torch.nn.functional.cross_entropy(logits, targets)
    return loss, loss

classes = [0, 1, 2, 3, 0, 2]
proxy_gen = torch.Generator().manual_seed(13)
proxies32 = (torch.rand(4, 2 * H, generator=proxy_gen) * 2 - 1).float()
proxies = proxies32.double().requires_grad_(True)

def am_softmax_proxy(a, _p, s=30.0, m=0.35):
    cos = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(proxies, dim=1).T
    t = torch.tensor(classes)
    logits = s * (cos - m * torch.nn.functional.one_hot(t, len(proxies)).to(cos.dtype))
    loss = torch.nn.functional.cross_entropy(logits, t)
    return loss, loss

def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes() if hasattr(t, "numpy") else t
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)

write_safetensors(os.path.join(out, "model.safetensors"), weights)
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({"model_type": "semblance-gru", "vocab_size": V, "embedding_size": E, "hidden_size": H,
               "bidirectional": True, "pooling": "mean"}, f)
with open(os.path.join(out, "batch.json"), "w") as f:
    json.dump({"anchors": anchors, "positives": positives, "classes": classes}, f)

params = {"embeddings.weight": emb.weight, **{"gru." + n: p for n, p in gru.named_parameters()}}
for loss_name, fn in [("am-softmax", am_softmax), ("flatnce", flat_nce), ("simcse-views", simcse_views), ("simcse-duplicate", simcse_duplicate),
                      ("am-softmax-proxy", am_softmax_proxy)]:
    for p in list(params.values()) + [proxies]:
        p.grad = None
    objective, reported = fn(encode(anchors), encode(positives))
    objective.backward()
    result = {"loss": reported.detach().reshape(1)}
    for name, p in params.items():
        result["grad." + name] = p.grad
    if fn is am_softmax_proxy:
        result["proxies.weight"] = proxies32
        result["grad.proxies.weight"] = proxies.grad
    write_safetensors(os.path.join(out, loss_name + ".safetensors"), result)
    print(loss_name, float(reported), max(float(p.grad.abs().max()) for p in params.values()))
