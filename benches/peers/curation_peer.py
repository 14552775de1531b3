#!/usr/bin/env python3
"""Side-by-side curation throughput: kiln (1 and 2 threads) vs the Python reference.

The reference is the MetaCLIP 2 stage-1 loop (`curate.py:count_per_shard` with
`substr_matching.py`): for each JSON line, strip + spacing(), pyahocorasick `iter` over the
language's automaton, the set of entry ids, and `counts[lang][ids] += 1` on numpy uint64
arrays; implemented in tools/reference/curation_reference.py. Both sides read the same gzip
JSONL shard and the same metadata folder, and both write COUNTS files, which must be equal.
Automaton building is timed apart from matching. Texts/s = lines / matching seconds (wall);
texts per CPU-second = lines / (user + system CPU seconds of all the process's threads during
matching), the per-core figure, which a busy machine disturbs less than wall time.

Usage (after .ci/fetch-curation-data.sh and tools/data/curation_corpus.py):
    tools/reference/.venv/bin/python benches/peers/curation_peer.py \
        --metadata $KILN_DATA/curation/metadata --in $KILN_DATA/curation/bench/texts-1m.jsonl.gz
"""
import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/reference"))
import curation_reference as ref  # noqa: E402


def python_reference(metadata_dir, shard, out):
    start = time.perf_counter()
    metadata = ref.read_metadata(Path(metadata_dir))
    automata = {lang: ref.build_automaton(entries) for lang, entries in metadata.items()}
    counts = {lang: np.zeros(len(e), dtype=np.uint64) for lang, e in metadata.items()}
    build_s = time.perf_counter() - start

    start, cpu_start = time.perf_counter(), time.process_time()
    lines = matched = 0
    with gzip.open(shard, "rt", encoding="utf-8") as f:
        for line in f:
            lines += 1
            rec = json.loads(line)
            lang = rec["lang"]
            if lang not in automata:
                continue
            ids = list({i for _, i in automata[lang].iter(ref.normalise(rec["text"]))})
            if ids:
                matched += 1
                counts[lang][ids] += 1
    match_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start

    with open(out, "w", encoding="utf-8") as f:
        rows = []
        for lang, c in counts.items():
            for i in np.nonzero(c)[0]:
                rows.append((lang, metadata[lang][i], int(c[i])))
        rows.sort(key=lambda r: (r[0].encode(), r[1].encode()))
        f.writelines(f"{l}\t{e}\t{n}\n" for l, e, n in rows)
    return {"impl": "python-reference (pyahocorasick)", "threads": 1, "texts": lines, "matched": matched,
            "build_s": round(build_s, 3), "match_s": round(match_s, 3), "cpu_s": round(cpu_s, 3),
            "texts_per_s": round(lines / match_s), "texts_per_cpu_s": round(lines / cpu_s)}


def kiln(metadata_dir, shard, out, threads):
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache/kiln/target-clip"))
    cmd = ["cargo", "run", "--quiet", "--release", "--manifest-path", str(ROOT / "clip/Cargo.toml"),
           "--example", "curation_throughput", "--", "--metadata", metadata_dir, "--in", shard,
           "--threads", str(threads), "--out", out]
    res = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


LOAD_BEFORE = os.getloadavg()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metadata", required=True)
    ap.add_argument("--in", dest="shard", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [kiln(args.metadata, args.shard, f"{tmp}/kiln1.tsv", 1),
                kiln(args.metadata, args.shard, f"{tmp}/kiln2.tsv", 2),
                python_reference(args.metadata, args.shard, f"{tmp}/py.tsv")]
        same = all(Path(f"{tmp}/{n}.tsv").read_bytes() == Path(f"{tmp}/py.tsv").read_bytes()
                   for n in ("kiln1", "kiln2"))
    py, py_cpu = rows[-1]["texts_per_s"], rows[-1]["texts_per_cpu_s"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"COUNTS identical across implementations: {same}")
    print(f"load average before: {LOAD_BEFORE}; after: {os.getloadavg()}")
    print("| implementation | threads | texts | build (s) | match wall (s) | match CPU (s) | texts/s (wall) "
          "| × reference (wall) | texts per CPU-second | × reference (per core) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['impl']} | {r['threads']} | {r['texts']:,} | {r['build_s']:.1f} | {r['match_s']:.1f} | "
              f"{r['cpu_s']:.1f} | {r['texts_per_s']:,.0f} | {r['texts_per_s'] / py:.1f}× | "
              f"{r['texts_per_cpu_s']:,.0f} | {r['texts_per_cpu_s'] / py_cpu:.1f}× |")
    if not same:
        sys.exit("COUNTS differ between kiln and the reference")


if __name__ == "__main__":
    main()
