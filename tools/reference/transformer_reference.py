#!/usr/bin/env python3
"""Reference logits and loss of kiln's decoder transformer, written in PyTorch from the
equations (Llama layout: pre-RMSNorm, rotate-half RoPE, grouped-query causal attention,
SwiGLU), with weights given by a closed formula so no weight file is needed.

    python3 -m venv tools/reference/.venv && tools/reference/.venv/bin/pip install torch
    tools/reference/.venv/bin/python tools/reference/transformer_reference.py

writes model/tests/fixtures/transformer_reference.json, read by model/tests/reference.rs.
The weight formula is mirrored there: tensor number s (in the order of `tensors()` below),
flat row-major index j of its PyTorch-layout value:
    matrix:  0.2 * sin(0.7 * j + 1.3 * s)
    norm:    1.0 + 0.1 * sin(0.7 * j + 1.3 * s)
"""
import json
import math
from pathlib import Path

import torch

CASES = {
    "gqa_untied": dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                       rms_norm_eps=1e-5, tie_word_embeddings=False),
    "mha_tied": dict(vocab_size=64, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                     num_attention_heads=2, num_key_value_heads=2, rope_theta=500.0,
                     rms_norm_eps=1e-6, tie_word_embeddings=True),
}
TOKENS = [[1, 5, 9, 33, 2, 60, 17, 17, 4, 0, 63, 8], [40, 41, 42, 3, 3, 3, 7, 50, 22, 11, 9, 1]]


def tensors(c):
    """(name, PyTorch shape, kind) in the canonical order of the weight formula."""
    d, f, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd = d // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * hd
    out = [("model.embed_tokens.weight", (v, d), "matrix")]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [
            (p + "self_attn.q_proj.weight", (d, d), "matrix"),
            (p + "self_attn.k_proj.weight", (kv, d), "matrix"),
            (p + "self_attn.v_proj.weight", (kv, d), "matrix"),
            (p + "self_attn.o_proj.weight", (d, d), "matrix"),
            (p + "mlp.gate_proj.weight", (f, d), "matrix"),
            (p + "mlp.up_proj.weight", (f, d), "matrix"),
            (p + "mlp.down_proj.weight", (d, f), "matrix"),
            (p + "input_layernorm.weight", (d,), "norm"),
            (p + "post_attention_layernorm.weight", (d,), "norm"),
        ]
    out.append(("model.norm.weight", (d,), "norm"))
    if not c["tie_word_embeddings"]:
        out.append(("lm_head.weight", (v, d), "matrix"))
    return out


def weight(s, shape, kind):
    j = torch.arange(math.prod(shape), dtype=torch.float64)
    w = torch.sin(0.7 * j + 1.3 * s)
    w = 0.2 * w if kind == "matrix" else 1.0 + 0.1 * w
    return w.reshape(shape)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, theta):
    # x: [B, H, S, hd]; rotate-half convention.
    hd, s = x.shape[-1], x.shape[-2]
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.arange(s, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward(c, w, tokens):
    d, h, kvh = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = d // h
    x = w["model.embed_tokens.weight"][tokens]
    b, s, _ = x.shape
    mask = torch.triu(torch.ones(s, s, dtype=torch.bool), 1)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        y = rms_norm(x, w[p + "input_layernorm.weight"], c["rms_norm_eps"])
        q = (y @ w[p + "self_attn.q_proj.weight"].T).view(b, s, h, hd).transpose(1, 2)
        k = (y @ w[p + "self_attn.k_proj.weight"].T).view(b, s, kvh, hd).transpose(1, 2)
        v = (y @ w[p + "self_attn.v_proj.weight"].T).view(b, s, kvh, hd).transpose(1, 2)
        q, k = rope(q, c["rope_theta"]), rope(k, c["rope_theta"])
        k, v = k.repeat_interleave(h // kvh, 1), v.repeat_interleave(h // kvh, 1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = torch.softmax(scores.masked_fill(mask, float("-inf")), -1) @ v
        x = x + att.transpose(1, 2).reshape(b, s, d) @ w[p + "self_attn.o_proj.weight"].T
        y = rms_norm(x, w[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
        gate = torch.nn.functional.silu(y @ w[p + "mlp.gate_proj.weight"].T)
        x = x + (gate * (y @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], c["rms_norm_eps"])
    head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def main():
    out = {"tokens": TOKENS, "cases": {}}
    tokens = torch.tensor(TOKENS)
    for name, c in CASES.items():
        w = {n: weight(s, shape, kind) for s, (n, shape, kind) in enumerate(tensors(c))}
        logits = forward(c, w, tokens)
        # Next-token loss: position t predicts token t+1.
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, c["vocab_size"]), tokens[:, 1:].reshape(-1))
        out["cases"][name] = {
            "config": c,
            "logits": [round(float(v), 7) for v in logits.flatten()],
            "loss": float(loss),
        }
    path = Path(__file__).resolve().parents[2] / "model/tests/fixtures/transformer_reference.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    print(f"wrote {path} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
