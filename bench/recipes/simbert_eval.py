# Generation quality of a SimBERT-style model on held-out sources, with `semblance generate --greedy` and `encode`.
"""Usage: simbert_eval.py SEMBLANCE MODEL HELDOUT.txt OUT_DIR [--judge JUDGE_MODEL] [--examples N] [--per-half N]
                        [--max-new-tokens N]

HELDOUT.txt is simbert_data.py's: two halves (STS-B test, SNLI test premises); --per-half N uses the first N of each
(default all), --max-new-tokens bounds each generation (default 24).

Candidates: until sampling/beams land in `generate`, each source gets up to 3 greedy candidates, decoded from the
source as given, without its last word and without its first word (distinct inputs only). Reports, over all
candidates: the share that are not copies of the source (lower-cased, spaces and final punctuation ignored),
distinct-2 (distinct word bigrams / all bigrams), and the cosine of candidate to source by the model's own
vectors ([CLS], as trained) and by a judge encoder: "unranked" averages every non-copy candidate, "ranked" takes per
source the non-copy candidate the model's own vector ranks first (the SimBERT recipe). Writes report.json and
examples.md (the first N sources with their ranked candidate) into OUT_DIR.
"""
import json
import os
import re
import subprocess
import sys


def run(cmd, lines):
    done = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, encoding="utf-8")
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def encode(semblance, model, texts, pooling):
    cmd = [semblance, "encode", "--model", model, "--normalize", "--threads", "1"] + (["--pooling", pooling] if pooling else [])
    return [row["embedding"] for row in run(cmd, texts)]


def cos(a, b):
    return sum(x * y for x, y in zip(a, b))


def key(text):
    return re.sub(r"[\s.!?]+", "", text.lower())


def variants(source):
    body, tail = re.match(r"^(.*?)([.!?]*)$", source.strip()).groups()
    words = body.split()
    out = [source]
    if len(words) > 3:
        out.append(" ".join(words[:-1]) + tail)
        out.append(" ".join(words[1:]) + tail)
    return list(dict.fromkeys(out))


def main():
    args = sys.argv[1:]
    options = {"--judge": "sentence-transformers/all-MiniLM-L6-v2", "--examples": "20", "--per-half": "0", "--max-new-tokens": "24"}
    for name in options:
        if name in args:
            i = args.index(name)
            options[name] = args[i + 1]
            del args[i:i + 2]
    judge, examples, per_half = options["--judge"], int(options["--examples"]), int(options["--per-half"])
    if len(args) != 4:
        raise SystemExit(__doc__)
    semblance, model, heldout, out = args
    sources = [l.rstrip("\n") for l in open(heldout, encoding="utf-8") if l.strip()]
    if per_half:
        half = len(sources) // 2
        sources = sources[:per_half] + sources[half:half + per_half]
    inputs, owner = [], []
    for s, source in enumerate(sources):
        for v in variants(source):
            inputs.append(v)
            owner.append(s)
    generated = run([semblance, "generate", "--model", model, "--greedy", "--max-new-tokens", options["--max-new-tokens"], "--threads", "1"], inputs)
    candidates = [[] for _ in sources]
    for s, g in zip(owner, generated):
        candidates[s].append(g["text"])
    flat = [c for cs in candidates for c in cs]
    own = encode(semblance, model, sources + flat, "cls")
    judged = encode(semblance, judge, sources + flat, None)
    n = len(sources)
    report = {"sources": n, "candidates": len(flat)}
    copies = sum(1 for s, cs in enumerate(candidates) for c in cs if key(c) == key(sources[s]))
    report["non_copy_share"] = 1 - copies / len(flat)
    bigrams = [tuple(w[i:i + 2]) for c in flat for w in [c.lower().split()] for i in range(len(w) - 1)]
    report["distinct_2"] = len(set(bigrams)) / max(1, len(bigrams))
    at, rows = n, []
    for s, cs in enumerate(candidates):
        scored = []
        for c in cs:
            scored.append((c, cos(own[s], own[at]), cos(judged[s], judged[at])))
            at += 1
        rows.append(scored)
    for name, col in (("own", 1), ("judge", 2)):
        unranked = [r[col] for s, scored in enumerate(rows) for r in scored if key(r[0]) != key(sources[s])]
        ranked = []
        for s, scored in enumerate(rows):
            fresh = [r for r in scored if key(r[0]) != key(sources[s])]
            if fresh:
                ranked.append(max(fresh, key=lambda r: r[1])[col])
        report[f"cosine_{name}_unranked"] = sum(unranked) / max(1, len(unranked))
        report[f"cosine_{name}_ranked"] = sum(ranked) / max(1, len(ranked))
        report["sources_with_a_non_copy"] = len(ranked)
    report["judge"] = judge
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    picks = list(range(min(examples // 2, n))) + list(range(n // 2, min(n // 2 + examples - examples // 2, n)))
    with open(os.path.join(out, "examples.md"), "w", encoding="utf-8") as f:
        f.write("| source | ranked candidate | own cos | judge cos |\n| --- | --- | --- | --- |\n")
        for s in picks:
            fresh = [r for r in rows[s] if key(r[0]) != key(sources[s])] or rows[s]
            best = max(fresh, key=lambda r: r[1])
            f.write(f"| {sources[s]} | {best[0]} | {best[1]:.3f} | {best[2]:.3f} |\n")
    with open(os.path.join(out, "candidates.jsonl"), "w", encoding="utf-8") as f:
        for s, scored in enumerate(rows):
            f.write(json.dumps({"source": sources[s], "candidates": [{"text": c, "own": o, "judge": j} for c, o, j in scored]}) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
