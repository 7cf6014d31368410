#!/usr/bin/env python3
"""A/B of two cartaflow builds on the in-memory experiments (statistics and histogram of an open image,
result caches off), interleaved round by round so both see the same machine noise.

Usage: .venv/bin/python bench/ab.py BASE_ROOT NEW_ROOT [--sizes 8000,20000] [--rounds 3] [--runs 5]
Each ROOT is a checkout with target/release/{cartaflow,examples/bench_client} built (cargo build --release
--bin cartaflow --example bench_client). Images come from bench/data (generated like bench/run.sh's)."""
import argparse
import os
import statistics
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base")
    ap.add_argument("new")
    ap.add_argument("--sizes", default="8000,20000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    a = ap.parse_args()
    os.makedirs(a.data, exist_ok=True)
    results = {}
    for n in [int(s) for s in a.sizes.split(",")]:
        path = harness.image_path(a.data, n)
        harness.make_image(path, n)
        for _ in range(a.rounds):
            for name, root in (("base", a.base), ("new", a.new)):
                args = types.SimpleNamespace(
                    binary=os.path.join(root, "target/release/cartaflow"),
                    client=os.path.join(root, "target/release/examples/bench_client"),
                    data=a.data)
                stats, hist = harness.cartaflow_memory(args, path, a.runs)
                r = results.setdefault((n, name), {"stats": [], "histogram": []})
                r["stats"] += stats
                r["histogram"] += hist
    print("| size | build | statistics median (min) | histogram median (min) | runs |")
    print("|---|---|---|---|---|")
    for (n, name), r in sorted(results.items()):
        s, h = r["stats"], r["histogram"]
        print(f"| {n}² | {name} | {statistics.median(s):.4f} s ({min(s):.4f}) | "
              f"{statistics.median(h):.4f} s ({min(h):.4f}) | {len(s)} |")


if __name__ == "__main__":
    main()
