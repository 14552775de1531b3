#!/usr/bin/env python3
"""Reference outputs and input gradients of Multi-Token Attention (Golovneva et al. 2025,
arXiv 2504.00927), written in PyTorch from the paper's equations as explicit shifted sums
(not F.conv2d), in float64, for every variant of kiln's `Mta` layer.

    /work/main/tools/reference/.venv/bin/python tools/reference/mta_reference.py

writes model/tests/fixtures/mta_reference.json, read by model/tests/mta_reference.rs.
The layer maps queries, keys and values (B, H, S, d) to the group-normalised attention
output (B, S, H, d):
    pre-softmax:  Â = QKᵀ/√d;  Â ← Conv(Mask₀(Â)) (eq. 5);  Â ← head mix over all heads;
    softmax:      A = Softmax(Mask₋∞(Â));
    post-softmax: A ← Mask₀(Conv'(A)) (eq. 6);  A ← head mix in groups of c_h (eq. 7);
    output:       O = A V;  O ← RMSNorm_head(O)·(1 − λ_init)·sigmoid(w·O + b).
The weights are random but far from the identity, so a wrong index fails the test.
Gradients are of sum(output · G) for a fixed random G.
"""
import json
import math
from pathlib import Path

import torch

B, H, S, D = 2, 4, 6, 4
VARIANTS = [
    ("pre_conv", 0, dict(query_kernel_size=3, key_kernel_size=3)),
    ("post_conv", 0, dict(after_sm_query_kernel_size=2, after_sm_key_kernel_size=5)),
    ("pre_head_mix", 0, dict(pre_sm_linear_head=True)),
    ("post_head_mix", 0, dict(head_kernel_size=2)),
    ("group_norm_scaled_gated", 3,
     dict(group_norm=True, layer_norm_rescale=True, add_gating=True)),
    ("all", 1, dict(query_kernel_size=2, key_kernel_size=3, pre_sm_linear_head=True,
                    after_sm_query_kernel_size=3, after_sm_key_kernel_size=3,
                    head_kernel_size=2, group_norm=True, add_gating=True)),
]


def key_query_conv(a, kernel):
    """out[i, j] = Σ_{i'<c_q} Σ_{j'} θ[c_q-1-i', c_k//2 + j'] · a[i-i', j+j'], zero outside."""
    _, _, cq, ck = kernel.shape
    rows, keys = a.shape[-2:]
    out = torch.zeros_like(a)
    for back in range(cq):
        for dj in range(-(ck // 2), ck // 2 + 1):
            shifted = torch.zeros_like(a)
            i0, j0, j1 = back, max(0, -dj), min(keys, keys - dj)
            shifted[..., i0:, j0:j1] = a[..., : rows - back, j0 + dj : j1 + dj]
            w = kernel[:, 0, cq - 1 - back, ck // 2 + dj]
            out = out + w[None, :, None, None] * shifted
    return out


def head_mix(a, weight):
    """weight [groups, from, to]: new head h of group g = Σ_h' weight[g, h', h] · head h'."""
    groups, c, _ = weight.shape
    a = a.reshape(a.shape[0], groups, c, *a.shape[2:])
    out = torch.einsum("gft,bgfij->bgtij", weight, a)
    return out.reshape(a.shape[0], groups * c, *a.shape[3:])


def mta(q, k, v, p, cfg, layer):
    future = torch.triu(torch.ones(S, S, dtype=torch.bool), diagonal=1)
    s = q @ k.transpose(-1, -2) / math.sqrt(D)
    if "pre_conv" in p:
        s = key_query_conv(s.masked_fill(future, 0.0), p["pre_conv"])
    if "pre_head_mix" in p:
        s = head_mix(s, p["pre_head_mix"])
    a = torch.softmax(s.masked_fill(future, -math.inf), dim=-1)
    if "post_conv" in p:
        a = key_query_conv(a, p["post_conv"]).masked_fill(future, 0.0)
    if "post_head_mix" in p:
        a = head_mix(a, p["post_head_mix"])
    o = (a @ v).transpose(1, 2)  # (B, S, H, D)
    if cfg.get("group_norm"):
        o = o / torch.sqrt(o.pow(2).mean(-1, keepdim=True) + 1e-5) * p["norm_weight"]
    if cfg.get("layer_norm_rescale"):
        o = o * (1.0 - (0.8 - 0.6 * math.exp(-0.3 * layer)))
    if cfg.get("add_gating"):
        o = o * torch.sigmoid(o @ p["gate_weight"] + p["gate_bias"])
    return o


def params(cfg, gen):
    rand = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)
    p = {}
    for name, qk, kk in [("pre_conv", "query_kernel_size", "key_kernel_size"),
                         ("post_conv", "after_sm_query_kernel_size", "after_sm_key_kernel_size")]:
        if qk in cfg:
            cq, ck = cfg[qk], cfg[kk]
            ident = torch.zeros(H, 1, cq, ck, dtype=torch.float64)
            ident[:, 0, cq - 1, ck // 2] = 1.0
            p[name] = ident + 0.4 * rand(H, 1, cq, ck)
    if cfg.get("pre_sm_linear_head"):
        p["pre_head_mix"] = torch.eye(H, dtype=torch.float64)[None] + 0.4 * rand(1, H, H)
    if "head_kernel_size" in cfg:
        c = cfg["head_kernel_size"]
        p["post_head_mix"] = torch.eye(c, dtype=torch.float64)[None] + 0.4 * rand(H // c, c, c)
    if cfg.get("group_norm"):
        p["norm_weight"] = 1.0 + 0.3 * rand(D)
    if cfg.get("add_gating"):
        p["gate_weight"] = 0.8 * rand(D, 1)
        p["gate_bias"] = 0.3 * rand(1)
    return p


def flat(t):
    return [round(x, 9) for x in t.detach().reshape(-1).tolist()]


def main():
    gen = torch.Generator().manual_seed(2504)
    q, k, v = (torch.randn(B, H, S, D, generator=gen, dtype=torch.float64) for _ in range(3))
    g = torch.randn(B, S, H, D, generator=gen, dtype=torch.float64)
    cases = []
    for name, layer, cfg in VARIANTS:
        p = params(cfg, gen)
        qq, kk, vv = (t.clone().requires_grad_(True) for t in (q, k, v))
        out = mta(qq, kk, vv, p, cfg, layer)
        (out * g).sum().backward()
        cases.append(dict(
            name=name, layer=layer, config=cfg,
            params={n: dict(shape=list(t.shape), values=flat(t)) for n, t in p.items()},
            out=flat(out), dq=flat(qq.grad), dk=flat(kk.grad), dv=flat(vv.grad),
        ))
    fixture = dict(shape=[B, H, S, D], q=flat(q), k=flat(k), v=flat(v), out_grad=flat(g),
                   cases=cases)
    path = Path(__file__).resolve().parents[2] / "model/tests/fixtures/mta_reference.json"
    path.write_text(json.dumps(fixture) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
