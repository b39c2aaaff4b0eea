#!/usr/bin/env python3
"""Bounded /search load on a loopback Semblance server: CONCURRENCY workers for SECONDS, one query per request.

Usage: scripts/search-load.py URL QUERIES_FILE CONCURRENCY SECONDS [K]
  URL           http://127.0.0.1:PORT (loopback only)
  QUERIES_FILE  one query per line, sent in turn
Prints one line: concurrency, seconds, ok, errors (non-200, or an answer with missing_shards), qps, p50/p95/p99 ms.
"""
import json
import sys
import threading
import time
import urllib.parse
import urllib.request


def main() -> int:
    if len(sys.argv) not in (5, 6):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    url, path, conc, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    k = int(sys.argv[5]) if len(sys.argv) == 6 else 10
    host = urllib.parse.urlparse(url).hostname
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"error: {url}: only loopback servers are loaded", file=sys.stderr)
        return 2
    if conc < 1 or conc > 64 or secs <= 0 or secs > 600:
        print("error: CONCURRENCY must be 1..64 and SECONDS in (0, 600]", file=sys.stderr)
        return 2
    with open(path, encoding="utf-8") as f:
        queries = [line.strip() for line in f if line.strip()]
    if not queries:
        print(f"error: {path}: no queries", file=sys.stderr)
        return 2
    latencies, errors, lock = [], [0], threading.Lock()
    stop = time.time() + secs

    def worker(first: int) -> None:
        i = first
        while time.time() < stop:
            body = json.dumps({"query": queries[i % len(queries)], "k": k}).encode()
            i += conc
            start = time.perf_counter()
            try:
                request = urllib.request.Request(url.rstrip("/") + "/search", data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = json.loads(response.read())
                    ok = response.status == 200 and not answer.get("missing_shards")
            except Exception:
                ok = False
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(conc)]
    began = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - began
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    print(f"concurrency={conc} seconds={elapsed:.1f} ok={len(latencies)} errors={errors[0]} qps={len(latencies) / elapsed:.1f} "
          f"p50_ms={pct(.5):.1f} p95_ms={pct(.95):.1f} p99_ms={pct(.99):.1f}")
    return 0 if errors[0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
