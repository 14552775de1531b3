#!/usr/bin/env python3
"""Training throughput of kiln's default model against the same architecture in PyTorch, on
this machine's CPU, measured in one run.

    tools/reference/.venv/bin/python benches/peers/train_throughput.py [--steps 40]

kiln runs `kiln train` (release build) on the built-in corpus with the default config except
for the step count, once per backend, and reports the median tokens/s of its logged steps
after warm-up. PyTorch trains the same Llama-style decoder (model/presets/small.json: dim 256,
4 layers, 4 heads, SwiGLU 688, tied embeddings, vocab 4096, seq 128, batch 16, AdamW) on
random tokens of the same shape with 2 threads.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f = c["hidden_size"], c["intermediate_size"]
        self.h = c["num_attention_heads"]
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.gate, self.up = nn.Linear(d, f, bias=False), nn.Linear(d, f, bias=False)
        self.down = nn.Linear(f, d, bias=False)
        self.n1, self.n2 = nn.RMSNorm(d, eps=1e-5), nn.RMSNorm(d, eps=1e-5)

    def forward(self, x, cos, sin):
        b, s, d = x.shape
        hd = d // self.h
        y = self.n1(x)
        q, k, v = (p(y).view(b, s, self.h, hd).transpose(1, 2) for p in (self.q, self.k, self.v))

        def rope(t):
            t1, t2 = t[..., : hd // 2], t[..., hd // 2:]
            return t * cos + torch.cat([-t2, t1], -1) * sin

        att = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
        x = x + self.o(att.transpose(1, 2).reshape(b, s, d))
        y = self.n2(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = nn.RMSNorm(c["hidden_size"], eps=1e-5)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens):
        s = tokens.shape[1]
        hd = self.c["hidden_size"] // self.c["num_attention_heads"]
        inv = self.c["rope_theta"] ** (-torch.arange(0, hd, 2).float() / hd)
        ang = torch.arange(s).float()[:, None] * inv[None]
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        x = self.embed(tokens)
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return self.norm(x) @ self.embed.weight.T


def torch_tokens_per_sec(c, steps, batch, seq):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = Model(c)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    times = []
    for _ in range(steps):
        tokens = torch.randint(0, c["vocab_size"], (batch, seq + 1))
        t0 = time.perf_counter()
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), tokens[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    return batch * seq / statistics.median(times[5:])


def kiln_tokens_per_sec(device, steps):
    kiln = ROOT / "target/release/kiln"
    if not kiln.exists():
        kiln = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/kiln/target")) / "release/kiln"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({"model": "small", "train": {"steps": steps, "log_every": 1,
                                                                  "eval_every": 100000, "eval_batches": 1,
                                                                  "checkpoint_every": 100000}}))
        out = Path(tmp) / "run"
        subprocess.run([str(kiln), "train", "--device", device, "--config", str(config), "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL, env={**os.environ, "XDG_RUNTIME_DIR": "/tmp"})
        records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    # Each record's tokens/s covers the step since the previous record; skip warm-up steps
    # (and the last, which includes the final evaluation).
    skip = min(5, len(records) // 3)
    rates = [r["tokens_per_sec"] for r in records[skip:-1]]
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--devices", default="flex,ndarray,wgpu")
    ap.add_argument("--wgpu-steps", type=int, default=4, help="lavapipe takes tens of seconds a step")
    args = ap.parse_args()
    c = json.loads((ROOT / "model/presets/small.json").read_text())
    rows = []
    for device in args.devices.split(","):
        steps = args.wgpu_steps if device == "wgpu" else args.steps
        rows.append((f"kiln {device}", kiln_tokens_per_sec(device, steps)))
    rows.append(("PyTorch " + torch.__version__ + " CPU (2 threads)", torch_tokens_per_sec(c, args.steps, 16, 128)))
    base = rows[-1][1]
    print(f"| implementation | tokens/s | ratio to PyTorch |\n|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
