# Lock-step check of the twin against `semblance train` without dropout: same init, same batches, then compare the weights after N steps.
"""With dropout switched off the only randomness left in `semblance train` is System.Random (weight init, batch
shuffles). This script ports the seeded System.Random (the Knuth subtractive generator .NET keeps for seeded
instances), TrainableTransformer.Initialize's draw order and TrainingData.Batches, trains the PyTorch twin on exactly
those weights and batches, and compares its weights and AdamW moments with a semblance checkpoint (OUTPUT/last,
which records its step count). Agreement to float rounding means the forward and backward passes, the loss, the
clipping, the schedule, the optimizer and the batch order are the same in both; only the random streams (init,
shuffle, dropout) differ in the recipe runs.

Usage (CoSENT on a BERT without dropout; for the GRU recipe use --loss am-softmax with gru.json, groups.tsv,
--scale 30 --margin 0.35 on both commands):
  semblance train --init CONFIG_NO_DROPOUT.json --vocab VOCAB --data train.tsv --loss cosent --output OUT \
      --epochs 1 --batch-size 32 --lr 1e-3 --warmup 50 --max-length 64 --eval-every 10 --threads 1   (stop it any time)
  lockstep_check.py --config CONFIG_NO_DROPOUT.json --tokens DIR --data train.tsv --checkpoint OUT/last \
      --epochs 1 --batch-size 32 --lr 1e-3 --warmup 50 [--seed 42]
"""
import argparse
import json
import math
import os
import sys

import torch

sys.dont_write_bytecode = True  # importing the twin must not leave __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_recipes as tr  # noqa: E402

INT_MAX = 2**31 - 1
MASK64 = 2**64 - 1


def int32(x):
    """C#'s unchecked int arithmetic: the seeding can overflow (a seed above 161803398 makes a negative entry)."""
    return (x + 2**31) % 2**32 - 2**31


class DotNetRandom:
    """System.Random(seed): Knuth's subtractive generator as .NET implements it for seeded instances."""

    def __init__(self, seed):
        seed_array = [0] * 56
        subtraction = INT_MAX if seed == -2**31 else abs(seed)
        mj = int32(161803398 - subtraction)
        seed_array[55] = mj
        mk = 1
        ii = 0
        for _ in range(1, 55):
            ii += 21
            if ii >= 55:
                ii -= 55
            seed_array[ii] = mk
            mk = int32(mj - mk)
            if mk < 0:
                mk += INT_MAX
            mj = seed_array[ii]
        for _ in range(1, 5):
            for i in range(1, 56):
                n = i + 30
                if n >= 55:
                    n -= 55
                seed_array[i] = int32(seed_array[i] - seed_array[1 + n])
                if seed_array[i] < 0:
                    seed_array[i] = int32(seed_array[i] + INT_MAX)
        self.a, self.inext, self.inextp = seed_array, 0, 21

    def internal_sample(self):
        i = self.inext + 1
        if i >= 56:
            i = 1
        j = self.inextp + 1
        if j >= 56:
            j = 1
        value = int32(self.a[i] - self.a[j])
        if value == INT_MAX:
            value -= 1
        if value < 0:
            value = int32(value + INT_MAX)
        self.a[i] = value
        self.inext, self.inextp = i, j
        return value

    def next_double(self):
        return self.internal_sample() * (1.0 / INT_MAX)

    def next_range(self, low, high):
        return int(self.next_double() * (high - low)) + low

    def shuffle(self, items):
        n = len(items)
        for i in range(n - 1):
            j = self.next_range(i, n)
            if j != i:
                items[i], items[j] = items[j], items[i]


def mix(z):
    """SplitMix64's finaliser (DropoutMask.Mix)."""
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def dotnet_batches(loss, data, batch_size, seed, epoch):
    """TrainingData.Batches: the twin's batching rules driven by the generator semblance seeds for (seed, epoch)."""
    return tr.epoch_batches(loss, data, batch_size, DotNetRandom(mix(((seed & 0xFFFFFFFF) << 32) | epoch) & 0x7FFFFFFF))


def normal(rng):
    u1 = 1.0 - rng.next_double()
    u2 = rng.next_double()
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)


def fill(p, values):
    p.copy_(torch.tensor(values, dtype=torch.float64).reshape(p.shape).to(torch.float32))


def dotnet_bert_init(model, seed):
    """TrainableTransformer.Initialize: one Random(seed), Box-Muller normals drawn for each weight in checkpoint order."""
    rng = DotNetRandom(seed)
    std = model.config.get("initializer_range", 0.02)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            else:
                fill(p, [normal(rng) * std for _ in range(p.numel())])
        pad_id = model.config.get("pad_token_id", 0)
        if pad_id is not None and 0 <= pad_id < model.config["vocab_size"]:
            model.embeddings.word_embeddings.weight[pad_id].zero_()


def train_twin(config, init, tokens, epochs, args, steps):
    """The twin from the given initial weights on the given batches for `steps` steps; returns weights and moments."""
    model = tr.build_model(config)
    model.load_state_dict(init)
    named = list(model.named_parameters())
    optimizer = tr.make_optimizer(model, args.lr, 0.01)
    total = sum(len(e) for e in epochs)
    model.train()
    step, loss_sum = 0, 0.0
    for batch in (b for e in epochs for b in e):
        if step == steps:
            break
        loss = tr.batch_loss(model, tokens, args, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for group in optimizer.param_groups:
            group["lr"] = tr.lr_at(step, args.lr, args.warmup, total)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        loss_sum += loss.item()
        if step % 10 == 0:
            print(f"step {step} loss {loss_sum / 10:.4f} (mean of the last 10, as semblance logs it)", file=sys.stderr)
            loss_sum = 0.0
    weights = {n: p.detach().clone() for n, p in named}
    moments = {}
    for n, p in named:
        if p in optimizer.state:
            moments[f"exp_avg.{n}"] = optimizer.state[p]["exp_avg"].clone()
            moments[f"exp_avg_sq.{n}"] = optimizer.state[p]["exp_avg_sq"].clone()
    return weights, moments


def compare(label, weights, moments, ref_weights, ref_moments):
    """Largest |difference| / max|reference| per tensor. The key biases are left out of the summary: softmax over keys
    is invariant to them, so their exact gradient is 0 and both sides only ever see rounding noise there."""
    worst = {"weight": 0.0, "exp_avg": 0.0, "exp_avg_sq": 0.0}
    for name, w in weights.items():
        if f"exp_avg.{name}" not in ref_moments:
            continue
        diffs = {"weight": (w - ref_weights[name]).abs().max().item() / max(1e-12, ref_weights[name].abs().max().item())}
        for key in ("exp_avg", "exp_avg_sq"):
            ref = ref_moments[f"{key}.{name}"].reshape(w.shape)
            diffs[key] = (moments[f"{key}.{name}"] - ref).abs().max().item() / max(1e-30, ref.abs().max().item())
        if not name.endswith("attention.self.key.bias"):
            for key, value in diffs.items():
                worst[key] = max(worst[key], value)
        print(f"{label}: {name:52s} " + " ".join(f"{k} {v:.2e}" for k, v in diffs.items()), file=sys.stderr)
    return worst


def dotnet_gru_init(model, seed):
    """TrainableGru.Initialize: one Random(seed); embeddings N(0, 1), then every GRU tensor U(-b, b), b = float32(1/sqrt(H))."""
    rng = DotNetRandom(seed)
    bound = torch.tensor(1.0 / math.sqrt(model.config["hidden_size"]), dtype=torch.float32).item()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "embeddings.weight":
                fill(p, [normal(rng) for _ in range(p.numel())])
            else:
                fill(p, [(rng.next_double() * 2 - 1) * bound for _ in range(p.numel())])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", choices=["cosent", "am-softmax"], default="cosent")
    parser.add_argument("--config", required=True, help="a BERT config with both dropout probabilities 0, or gru.json")
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--checkpoint", required=True, help="semblance OUTPUT/last (model.safetensors, optimizer.safetensors, trainer_state.json)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--margin", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--control", action="store_true",
                        help="also train the twin from weights perturbed by one float32 rounding step and compare it with the unperturbed twin "
                             "(how far rounding alone drifts in the same number of steps)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    if config.get("hidden_dropout_prob") or config.get("attention_probs_dropout_prob"):
        raise SystemExit(f"{args.config}: set hidden_dropout_prob and attention_probs_dropout_prob to 0 for a lock-step check")
    with open(os.path.join(args.checkpoint, "trainer_state.json"), encoding="utf-8") as f:
        steps = json.load(f)["step"]

    model = tr.build_model(config)
    (dotnet_gru_init if isinstance(model, tr.Gru) else dotnet_bert_init)(model, args.seed)
    init = {n: t.clone() for n, t in model.state_dict().items()}
    tokens = tr.Tokens(args.tokens)
    data = tr.load_rows(args.loss, args.data)
    epochs = [dotnet_batches(args.loss, data, args.batch_size, args.seed, e) for e in range(args.epochs)]

    weights, moments = train_twin(config, init, tokens, epochs, args, steps)
    ours_weights = tr.load_safetensors(os.path.join(args.checkpoint, "model.safetensors"))
    ours_moments = tr.load_safetensors(os.path.join(args.checkpoint, "optimizer.safetensors"))
    result = {"steps": steps, "twin_vs_semblance": compare("twin vs semblance", weights, moments, ours_weights, ours_moments)}
    if args.control:
        generator = torch.Generator().manual_seed(args.seed)
        nudged = {n: t * (1 + (torch.randint(0, 2, t.shape, generator=generator) * 2 - 1) * 2.0**-24) for n, t in init.items()}
        other_weights, other_moments = train_twin(config, nudged, tokens, epochs, args, steps)
        result["twin_vs_nudged_twin"] = compare("twin vs nudged twin", other_weights, other_moments, weights, moments)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
