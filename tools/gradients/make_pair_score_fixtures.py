# Reference losses and gradients of the cross-encoder (pair-score) losses through BertForSequenceClassification: the
# PyTorch twin's model and losses (bench/recipes/torch_recipes.py) on a tiny random BERT, in float64, no dropout.
# Usage: /usr/bin/python3 tools/gradients/make_pair_score_fixtures.py tests/Semblance.Tests/Training/Fixtures/pair-score
#   Writes cls1/ (num_labels 1: cosent, bce, mse) and cls3/ (num_labels 3: ce), each a Hugging Face directory
#   (config.json, vocab.txt, model.safetensors with bert./classifier. names) plus batch.json and LOSS.safetensors
#   (loss, logits, grad.NAME for every tensor). Deterministic for the seeds.
import json, os, sys
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "recipes"))
import torch_recipes as twin  # noqa: E402

out = sys.argv[1]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(35)]
CLS, SEP = 2, 3
base = {"model_type": "bert", "vocab_size": len(vocab), "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 16, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 32, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0}

gen = torch.Generator().manual_seed(5)
rows = 6
pairs = []
for _ in range(rows):
    a = [int(t) for t in torch.randint(5, len(vocab), (int(torch.randint(1, 6, (1,), generator=gen)),), generator=gen)]
    b = [int(t) for t in torch.randint(5, len(vocab), (int(torch.randint(1, 6, (1,), generator=gen)),), generator=gen)]
    pairs.append(([CLS] + a + [SEP] + b + [SEP], [0] * (len(a) + 2) + [1] * (len(b) + 1)))
targets = {
    "cosent": [3.2, 0.4, 5.0, 1.8, 3.2, 2.6],   # a tie (rows 0 and 4) contributes no term
    "bce": [1.0, 0.0, 0.64, 1.0, 0.0, 0.3],     # 0/1 labels and soft targets
    "mse": [0.9, 0.1, 0.5, 0.72, 0.0, 1.0],
    "ce": [2, 0, 1, 1, 0, 2],
}

t = max(len(p[0]) for p in pairs)
ids = torch.zeros(rows, t, dtype=torch.long)
types = torch.zeros(rows, t, dtype=torch.long)
mask = torch.zeros(rows, t, dtype=torch.bool)
for i, (p, ty) in enumerate(pairs):
    ids[i, :len(p)] = torch.tensor(p)
    types[i, :len(ty)] = torch.tensor(ty)
    mask[i, :len(p)] = True

for name, labels, losses in [("cls1", 1, ["cosent", "bce", "mse"]), ("cls3", 3, ["ce"])]:
    directory = os.path.join(out, name)
    os.makedirs(directory, exist_ok=True)
    config = dict(base, architectures=["BertForSequenceClassification"], num_labels=labels,
                  id2label={str(i): f"LABEL_{i}" for i in range(labels)}, label2id={f"LABEL_{i}": i for i in range(labels)})
    torch.manual_seed(11)
    model = twin.BertForSequenceClassification(config)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
    # The float32 weights are the model; the reference runs them in float64.
    twin.save_safetensors(os.path.join(directory, "model.safetensors"), model.state_dict())
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(directory, "batch.json"), "w") as f:
        json.dump({"input_ids": [p for p, _ in pairs], "token_type_ids": [ty for _, ty in pairs], "targets": targets}, f)
    model.double().eval()
    for loss in losses:
        model.zero_grad()
        logits = model(ids, mask, types)
        y = targets[loss]
        if loss == "cosent":
            value = twin.pair_cosent_loss(logits, torch.tensor(y, dtype=torch.float64), 20.0)
        elif loss == "bce":
            value = twin.pair_bce_loss(logits, torch.tensor(y, dtype=torch.float64))
        elif loss == "mse":
            value = twin.pair_mse_loss(logits, torch.tensor(y, dtype=torch.float64))
        else:
            value = twin.pair_ce_loss(logits, torch.tensor(y))
        value.backward()
        result = {"loss": value.detach().reshape(1), "logits": logits.detach()}
        for n, p in model.named_parameters():
            result["grad." + n] = p.grad
        twin.save_safetensors(os.path.join(directory, loss + ".safetensors"), result)
        print(name, loss, float(value), max(float(p.grad.abs().max()) for p in model.parameters()))
