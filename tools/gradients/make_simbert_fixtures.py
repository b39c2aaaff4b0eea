# Reference loss and gradients of `--loss simbert` (SimBERT: seq2seq cross-entropy under the UniLM mask through a tied
# masked-LM head + in-batch contrast of [CLS] vectors) on a tiny BertForMaskedLM, computed by the PyTorch twin
# (bench/recipes/torch_recipes.py: Bert.hidden, unilm_mask, MaskedLmHead, simbert_loss) in float64, dropout off.
# Usage: /usr/bin/python3 tools/gradients/make_simbert_fixtures.py tests/Semblance.Tests/Training/Fixtures/simbert
#   (Debian python3-torch; deterministic for the seeds)
import json, os, sys
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "recipes"))
import torch_recipes as twin  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
config = {"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 40, "hidden_size": 8,
          "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
          "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 24,
          "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0}
torch.manual_seed(5)
model = twin.Bert(config)
head = twin.MaskedLmHead(config, model.embeddings.word_embeddings)
with torch.no_grad():
    for p in list(model.parameters()) + [head.dense.weight, head.dense.bias, head.LayerNorm.weight, head.LayerNorm.bias, head.bias]:
        p.uniform_(-0.5, 0.5)
    for ln in [m for m in list(model.modules()) + [head.LayerNorm] if isinstance(m, torch.nn.LayerNorm)]:
        ln.weight.add_(1.0)
# The float32 values are the model; the reference runs them in float64.
body = {name: p.detach().float().clone() for name, p in model.named_parameters()}
own = {name: p.detach().float().clone() for name, p in head.named_head_parameters().items()}
with torch.no_grad():
    for name, p in model.named_parameters():
        p.copy_(body[name])
    for name, p in head.named_head_parameters().items():
        p.copy_(own[name])
model.double()
head.double()
model.eval()

gen = torch.Generator().manual_seed(13)
CLS, SEP = 2, 3
def sentence():
    n = int(torch.randint(1, 6, (1,), generator=gen))
    return [CLS] + [int(t) for t in torch.randint(4, 40, (n,), generator=gen)] + [SEP]
rows = 4
first = [sentence() for _ in range(rows)]
second = [sentence() for _ in range(rows)]
scale = 30.0
# RoFormer-Sim's distillation target: one teacher vector per packed sequence (float32 values, used in float64).
teacher = (torch.rand(2 * rows, config["hidden_size"], generator=gen) - 0.5).float()

weights = {"bert." + n: t for n, t in body.items()}
weights.update(own)
twin.save_safetensors(os.path.join(out, "model.safetensors"), weights)
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=1)
with open(os.path.join(out, "batch.json"), "w") as f:
    json.dump({"first": first, "second": second, "scale": scale, "teacher": teacher.flatten().tolist()}, f)
named = dict(model.named_parameters())
named.update(head.named_head_parameters())
for file, target in (("simbert", None), ("simbert-distill", teacher.double())):
    for p in named.values():
        p.grad = None
    total, generation, similarity = twin.simbert_loss(model, head, first, second, scale, target)
    total.backward()
    result = {"loss": total.detach().reshape(1), "generation": generation.detach().reshape(1), "similarity": similarity.detach().reshape(1)}
    for name, p in named.items():
        result["grad." + name] = p.grad if p.grad is not None else torch.zeros_like(p)
    twin.save_safetensors(os.path.join(out, file + ".safetensors"), result)
    print(file, "loss", float(total), "generation", float(generation), "similarity", float(similarity),
          "max |grad|", max(float(t.abs().max()) for k, t in result.items() if k.startswith("grad.")))
