# Collects the result.json files of bench/recipes/run.sh into a Markdown table (per seed, then the mean per recipe and side).
"""Usage: summarize.py [OUT_ROOT]   (default /tmp/recipes-runs)"""
import glob
import json
import os
import statistics
import sys


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/tmp/recipes-runs"
    results = []
    for path in sorted(glob.glob(os.path.join(root, "*", "result.json"))):
        with open(path, encoding="utf-8") as f:
            results.append(json.load(f))
    if not results:
        raise SystemExit(f"{root}: no */result.json; run bench/recipes/run.sh first")
    print("| recipe | side | seed | best step | dev Spearman x100 | test Spearman x100 | wall s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in sorted(results, key=lambda r: (r["recipe"], r["side"], r["seed"])):
        print(f"| {r['recipe']} | {r['side']} | {r['seed']} | {r['best_step']} | {r['dev']:.2f} | {r['test']:.2f} | {r['wall_s']:.0f} |")
    print()
    print("| recipe | seeds | ours dev | ours test | PyTorch dev | PyTorch test | gap dev / test (ours - PyTorch) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for recipe in sorted({r["recipe"] for r in results}):
        sides = {}
        for side in ("ours", "pytorch"):
            rows = [r for r in results if r["recipe"] == recipe and r["side"] == side]
            sides[side] = rows
        seeds = sorted({r["seed"] for rows in sides.values() for r in rows})

        def cell(rows, key):
            if not rows:
                return "pending"
            values = [r[key] for r in rows]
            if len(values) == 1:
                return f"{values[0]:.2f}"
            return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"

        gap = "n/a"
        if sides["ours"] and sides["pytorch"]:
            gap = " / ".join(f"{statistics.mean(r[k] for r in sides['ours']) - statistics.mean(r[k] for r in sides['pytorch']):+.2f}"
                             for k in ("dev", "test"))
        print(f"| {recipe} | {', '.join(map(str, seeds))} | {cell(sides['ours'], 'dev')} | {cell(sides['ours'], 'test')} | "
              f"{cell(sides['pytorch'], 'dev')} | {cell(sides['pytorch'], 'test')} | {gap} |")


if __name__ == "__main__":
    main()
