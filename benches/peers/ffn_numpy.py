#!/usr/bin/env python3
"""NumPy (OpenBLAS) dense RELU-gated FFN on the shapes of benches/benches/sparse_ffn.rs, as the
outside baseline for kiln's own dense and sparse FFN.

    tools/reference/.venv/bin/python benches/peers/ffn_numpy.py [--repeats 20]

y = (relu(x @ Wg) * (x @ Wu)) @ Wd with Wg, Wu of [dim, hidden] and Wd of [hidden, dim], f32, at
batch 1 and 16, with OpenBLAS's default threads (2 on the project machine). Also times NumPy's
obvious sparse variant at 90% sparsity (gather the active columns / rows, then multiply), which
copies what it selects. Prints the median milliseconds of each.

As in the Rust bench, an FFN whose weights exceed 64 MB (the paper shape, 201 MB) is timed
rotating through 4 copies, so that its weights come from memory as they do when decoding a
model larger than the last-level cache, not from a cache that still holds the last call's.
"""
import argparse
import statistics
import time

import numpy as np

SHAPES = [(2048, 8192), (256, 688)]
COLD_ABOVE = 64 << 20
COLD_COPIES = 4
BATCHES = [1, 16]


def median_ms(f, repeats):
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}")
    for dim, hidden in SHAPES:
        copies = COLD_COPIES if 3 * 4 * dim * hidden > COLD_ABOVE else 1
        weights = [
            tuple(rng.uniform(-1, 1, shape).astype(np.float32)
                  for shape in [(dim, hidden), (dim, hidden), (hidden, dim)])
            for _ in range(copies)
        ]
        turn = [0]

        def next_weights():
            turn[0] = (turn[0] + 1) % copies
            return weights[turn[0]]

        for batch in BATCHES:
            x = rng.uniform(-1, 1, (batch, dim)).astype(np.float32)

            def dense():
                wg, wu, wd = next_weights()
                return (np.maximum(x @ wg, 0) * (x @ wu)) @ wd

            # 90% of the units inactive for every token: the gate stays dense, up and down
            # use the active 10% only.
            active = np.sort(rng.choice(hidden, hidden // 10, replace=False))

            def gathered():
                wg, wu, wd = next_weights()
                g = np.maximum(x @ wg, 0)[:, active]
                return (g * (x @ wu[:, active])) @ wd[active]

            d, s = median_ms(dense, args.repeats), median_ms(gathered, args.repeats)
            print(
                f"{dim}x{hidden} batch {batch} ({copies} cop{'ies' if copies > 1 else 'y'}): "
                f"dense {d:.3f} ms, "
                f"gather at 90% {s:.3f} ms ({d / s:.2f}x)"
            )


if __name__ == "__main__":
    main()
