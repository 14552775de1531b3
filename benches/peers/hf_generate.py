#!/usr/bin/env python3
"""Greedy decoding speed of a Hugging Face Llama checkpoint: kiln (`kiln generate --hf`,
release build, CPU) against transformers (`generate`, 2 threads) on this machine, in one run.

    cargo build --release --workspace --bins
    tools/reference/.venv/bin/python benches/peers/hf_generate.py [--new-tokens 32] [--rounds 3]
        [--kiln-arg=--burn-linear]

kiln runs on `--device cpu` (flex); `KILN_DEVICE=ndarray` (or any `--device` value) picks another;
`--kiln-arg` passes a flag through (e.g. `--burn-linear`: Burn's matmul instead of kiln's CPU rows).

The checkpoint is a random LlamaForCausalLM (8 layers, dim 1024, GQA 16/4 heads, SwiGLU 2816,
vocab 32000, f32) saved with a word-level tokenizer.json (token `wN` is id N), so both sides
read the same prompts. Batch 1 and batch 8 (equal-length prompts of 32 tokens), greedy, EOS
ignored on both sides (the config has none). Tokens/s = generated tokens / wall time of the
generation, prompt processing included, model loading excluded: kiln reports it on stderr,
transformers is timed around `generate` after one warm-up call. Both sides must produce the
same greedy tokens, which the script checks. Each round runs kiln then transformers; the
table gives the median of the rounds for each side (a 2-vCPU machine drifts by ±20% between
calls, so one round is not a measurement).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parents[2]
KILN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/kiln"
CONFIG = dict(vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
              num_attention_heads=16, num_key_value_heads=4, max_position_embeddings=512,
              rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=None,
              eos_token_id=None)
PROMPT_LEN = 32


def checkpoint(dir):
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**CONFIG)).eval()
    model.save_pretrained(dir, safe_serialization=True)
    vocab = {f"w{i}": i for i in range(CONFIG["vocab_size"])}
    tokenizer = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
                 "normalizer": None, "pre_tokenizer": {"type": "Whitespace"},
                 "post_processor": None, "decoder": None,
                 "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "w0"}}
    (Path(dir) / "tokenizer.json").write_text(json.dumps(tokenizer))
    return model


def kiln(dir, prompts, new_tokens, kiln_bin, extra):
    args = [str(kiln_bin), "generate", "--hf", str(dir), "--temperature", "0",
            "--max-tokens", str(new_tokens), "--device", os.environ.get("KILN_DEVICE", "cpu"),
            *extra]
    for p in prompts:
        args += ["--prompt", " ".join(f"w{i}" for i in p)]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    rate = float(re.search(r"\(([\d.]+) tokens/s\)", out.stderr).group(1))
    if len(prompts) == 1:
        texts = [out.stdout[len(args[-1]):]]
    else:
        texts = re.split(r"=== \d+\n", out.stdout)[1:]
        texts = [t[len(a):] for t, a in zip(texts, args[-2 * len(prompts) + 1::2])]
    return rate, [[int(w[1:]) for w in re.findall(r"w\d+", t)] for t in texts]


def transformers(model, prompts, new_tokens):
    ids = torch.tensor(prompts)
    kwargs = dict(attention_mask=torch.ones_like(ids), do_sample=False, pad_token_id=0,
                  eos_token_id=None)
    with torch.no_grad():
        model.generate(ids, max_new_tokens=2, **kwargs)
        start = time.perf_counter()
        out = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kwargs)
        secs = time.perf_counter() - start
    return len(prompts) * new_tokens / secs, out[:, ids.shape[1]:].tolist()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--kiln", type=Path, default=KILN)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kiln-arg", action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    g = torch.Generator().manual_seed(1)
    with tempfile.TemporaryDirectory() as dir:
        model = checkpoint(dir)
        rows = []
        for batch in (1, 8):
            prompts = torch.randint(3, CONFIG["vocab_size"], (batch, PROMPT_LEN),
                                    generator=g).tolist()
            k_rates, t_rates, same = [], [], True
            for round in range(args.rounds):
                k_rate, k_tokens = kiln(dir, prompts, args.new_tokens, args.kiln, args.kiln_arg)
                t_rate, t_tokens = transformers(model, prompts, args.new_tokens)
                same &= k_tokens == t_tokens
                k_rates.append(k_rate)
                t_rates.append(t_rate)
                print(f"batch {batch}, round {round + 1}: kiln {k_rate:.1f} tokens/s, "
                      f"transformers {t_rate:.1f} tokens/s, same greedy tokens: {same}", flush=True)
            rows.append((batch, k_rates, t_rates, same))
        print("| batch | kiln tokens/s (median; rounds) | transformers tokens/s (median; rounds) "
              "| ratio of medians | same tokens |")
        print("|---|---|---|---|---|")
        fmt = lambda rates: ", ".join(f"{r:.1f}" for r in rates)
        for batch, k, t, same in rows:
            km, tm = statistics.median(k), statistics.median(t)
            print(f"| {batch} | {km:.1f} ({fmt(k)}) | {tm:.1f} ({fmt(t)}) | {km / tm:.2f} | {same} |")


if __name__ == "__main__":
    main()
