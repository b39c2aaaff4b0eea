# Generation quality of a SimBERT-style model on held-out sources, with `semblance generate` (sampling, --rank) and `encode`.
"""Usage: simbert_eval.py SEMBLANCE MODEL HELDOUT.txt OUT_DIR [--judge JUDGE_MODEL] [--examples N] [--per-half N]
                        [--max-new-tokens N] [-n K] [--seed S] [--sampling "GENERATE OPTIONS"]

HELDOUT.txt is simbert_data.py's: two halves (STS-B test, SNLI test premises); --per-half N uses the first N of each
(default all), --max-new-tokens bounds each generation (default 24).

Two candidate sets per source, both sampled with one seed (default 1; top-p 0.95 unless --sampling gives other
`generate` options, e.g. "--top-k 5 --top-p 1"); a seed draws the same candidates in both calls:
  unranked  `generate -n K`: the first K draws, as drawn (copies and duplicates included);
  ranked    `generate -n K --rank`: SimBERT's recipe, 2K draws with empty candidates, copies of the source and
            duplicates dropped, the K closest to the source by the model's own vector kept (K default 5).
For each set: the share of candidates that are not copies of the source (lower-cased, spaces and final punctuation
ignored), distinct-2 (distinct word bigrams / all bigrams over the set), and the mean cosine of non-copy candidates to
their source by the model's own vector (its declared pooling, [CLS] for `train --loss simbert`) and by a judge encoder
(default all-MiniLM-L6-v2, its mean pooling); for ranked also the top-1 candidate's cosines. Writes report.json,
examples.md (the first N/2 sources of each half with their top ranked candidate) and candidates.jsonl into OUT_DIR.
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


def summarise(sources, candidates, own, judged, at):
    """Metrics of one candidate set; own/judged hold the sources' vectors first, this set's from index at."""
    flat = [c for cs in candidates for c in cs]
    rows, copies, fresh = [], 0, {"own": [], "judge": []}
    for s, cs in enumerate(candidates):
        scored = []
        for c in cs:
            scored.append((c, cos(own[s], own[at]), cos(judged[s], judged[at])))
            at += 1
            if key(c) == key(sources[s]):
                copies += 1
            else:
                fresh["own"].append(scored[-1][1])
                fresh["judge"].append(scored[-1][2])
        rows.append(scored)
    bigrams = [tuple(w[i:i + 2]) for c in flat for w in [c.lower().split()] for i in range(len(w) - 1)]
    report = {
        "candidates": len(flat),
        "sources_with_a_candidate": sum(1 for cs in candidates if cs),
        "non_copy_share": 1 - copies / max(1, len(flat)),
        "distinct_2": len(set(bigrams)) / max(1, len(bigrams)),
        "cosine_own": sum(fresh["own"]) / max(1, len(fresh["own"])),
        "cosine_judge": sum(fresh["judge"]) / max(1, len(fresh["judge"])),
    }
    return report, rows, at


def main():
    args = sys.argv[1:]
    options = {"--judge": "sentence-transformers/all-MiniLM-L6-v2", "--examples": "20", "--per-half": "0", "--max-new-tokens": "24",
               "-n": "5", "--seed": "1", "--sampling": "--top-p 0.95"}
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
    n = options["-n"]
    base = [semblance, "generate", "--model", model, *options["--sampling"].split(), "--seed", options["--seed"],
            "--max-new-tokens", options["--max-new-tokens"], "--threads", "1"]
    drawn = run(base + ["-n", n], sources)
    ranked = run(base + ["-n", n, "--rank"], sources)
    sets = {"unranked": [[c["text"] for c in g["candidates"]] for g in drawn],
            "ranked": [[c["text"] for c in g["candidates"]] for g in ranked]}
    texts = sources + [c for name in ("unranked", "ranked") for cs in sets[name] for c in cs]
    own = encode(semblance, model, texts, None)
    judged = encode(semblance, judge, texts, None)
    report = {"sources": len(sources), "n": int(n), "seed": int(options["--seed"]), "sampling": options["--sampling"]}
    at, rows = len(sources), {}
    for name in ("unranked", "ranked"):
        report[name], rows[name], at = summarise(sources, sets[name], own, judged, at)
    tops = [scored[0] for scored in rows["ranked"] if scored]
    report["ranked"]["top1_cosine_own"] = sum(r[1] for r in tops) / max(1, len(tops))
    report["ranked"]["top1_cosine_judge"] = sum(r[2] for r in tops) / max(1, len(tops))
    report["judge"] = judge
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    half = len(sources) // 2
    picks = list(range(min(examples // 2, half))) + list(range(half, min(half + examples - examples // 2, len(sources))))
    with open(os.path.join(out, "examples.md"), "w", encoding="utf-8") as f:
        f.write("| source | top ranked candidate | own cos | judge cos | an unranked sample |\n| --- | --- | --- | --- | --- |\n")
        for s in picks:
            best = rows["ranked"][s][0] if rows["ranked"][s] else ("(none)", float("nan"), float("nan"))
            sample = sets["unranked"][s][0] if sets["unranked"][s] else ""
            f.write(f"| {sources[s]} | {best[0]} | {best[1]:.3f} | {best[2]:.3f} | {sample} |\n")
    with open(os.path.join(out, "candidates.jsonl"), "w", encoding="utf-8") as f:
        for s, source in enumerate(sources):
            f.write(json.dumps({"source": source, **{name: [{"text": c, "own": o, "judge": j} for c, o, j in rows[name][s]]
                                                     for name in ("unranked", "ranked")}}) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
