# Writes Python jieba's segmentations (precise mode, HMM off) of Chinese sentences from ../shared/data, for JiebaReferenceTests.
"""Usage: /usr/bin/python3 tools/jieba_reference.py [--shared DIR] [--output FILE] [--max N] [--hmm]

Needs Python jieba 0.42.1 (Debian: apt-get install -y python3-jieba). Reads both sentence columns of the Chinese
files under DIR/data (default: ../shared beside the repository, or SEMBLANCE_SHARED), keeps distinct sentences in
file order, takes every k-th so at most N remain (default 20000; 0 = all), and writes one JSON object per line,
{"text": ..., "words": [...]}, to FILE (default: $TMPDIR/semblance-jieba-reference.jsonl, where the test looks;
SEMBLANCE_JIEBA_REFERENCE overrides both). --hmm segments with the HMM on instead (to measure what it changes).
"""
import argparse
import json
import os
import sys
import tempfile

FILES = ["sts-b-zh/train.tsv", "sts-b-zh/dev.tsv", "sts-b-zh/test.tsv", "atec/train_partial.tsv", "atec/dev.tsv",
         "bq/dev.tsv", "lcqmc/dev.tsv", "pawsx/dev.tsv", "ocnli-zh/train.tsv", "ocnli-zh/dev.tsv"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_shared = os.environ.get("SEMBLANCE_SHARED") or os.path.join(here, "..", "..", "shared")
    default_out = os.environ.get("SEMBLANCE_JIEBA_REFERENCE") or os.path.join(tempfile.gettempdir(), "semblance-jieba-reference.jsonl")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=default_shared)
    parser.add_argument("--output", default=default_out)
    parser.add_argument("--max", type=int, default=20000)
    parser.add_argument("--hmm", action="store_true")
    args = parser.parse_args()
    import jieba
    if jieba.__version__ != "0.42.1":
        print(f"jieba_reference.py: warning: jieba {jieba.__version__}, the reference is 0.42.1", file=sys.stderr)
    jieba.setLogLevel(60)
    seen, sentences = set(), []
    for name in FILES:
        path = os.path.join(args.shared, "data", name)
        if not os.path.exists(path):
            raise SystemExit(f"jieba_reference.py: {path} not found (is --shared the ../shared folder?)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                for text in line.rstrip("\n").split("\t")[:2]:
                    if text and text not in seen:
                        seen.add(text)
                        sentences.append(text)
    k = 1 if args.max <= 0 else max(1, -(-len(sentences) // args.max))
    chosen = sentences[::k]
    with open(args.output + ".tmp", "w", encoding="utf-8") as out:
        for text in chosen:
            words = list(jieba.cut(text, cut_all=False, HMM=args.hmm))
            out.write(json.dumps({"text": text, "words": words}, ensure_ascii=False) + "\n")
    os.replace(args.output + ".tmp", args.output)
    print(f"wrote {len(chosen)} of {len(sentences)} distinct sentences (every {k}th), jieba {jieba.__version__}, "
          f"HMM {'on' if args.hmm else 'off'}, to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
