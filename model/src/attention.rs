//! Causal self-attention with grouped-query heads (Vaswani et al. 2017, eq. 1; GQA, Ainslie et
//! al. 2023) and rotary positions, named like Hugging Face's `LlamaAttention`.

use std::sync::Arc;

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor};

use crate::cache::LayerCache;
use crate::cpu::RowLinear;
use crate::init::normal_linear;
use crate::mta::Mta;
use crate::rms_norm::{RmsNorm, RmsNormConfig};
use crate::rope::RotaryEmbedding;

/// Configuration of [`Attention`].
#[derive(Config, Debug)]
pub struct AttentionConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of query heads.
    pub n_heads: usize,
    /// Number of key/value heads; each serves `n_heads / n_kv_heads` query heads.
    pub n_kv_heads: usize,
    /// Standard deviation of the normal weight initialisation.
    #[config(default = 0.02)]
    pub init_std: f64,
    /// Size of one head; `d_model / n_heads` when not given (Qwen3 sets it apart).
    pub head_dim: Option<usize>,
    /// RMSNorm every query and key head before RoPE (Qwen3, `q_norm` / `k_norm`).
    #[config(default = false)]
    pub qk_norm: bool,
    /// ε of the q/k RMSNorm.
    #[config(default = 1e-6)]
    pub norm_eps: f64,
}

/// `softmax(Q Kᵀ / sqrt(d_head) + causal mask) V`, heads concatenated and projected by `o_proj`.
#[derive(Module, Debug)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    /// Per-head RMSNorm of the queries (Qwen3), over `head_dim`.
    pub q_norm: Option<RmsNorm>,
    /// Per-head RMSNorm of the keys (Qwen3), over `head_dim`.
    pub k_norm: Option<RmsNorm>,
    /// Multi-Token Attention parts; `None` for standard attention.
    pub mta: Option<Mta>,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    /// When set, CPU copies of `q_proj`, `k_proj`, `v_proj`, `o_proj` that inference runs
    /// instead (see [`crate::cpu`]).
    #[module(skip)]
    pub cpu: Option<Arc<[RowLinear; 4]>>,
}

impl AttentionConfig {
    /// Builds the layer with bias-free projections drawn from N(0, init_std²).
    pub fn init(&self, device: &Device) -> Attention {
        let head_dim = self.head_dim.unwrap_or(self.d_model / self.n_heads);
        let linear = |d_in, d_out| normal_linear(d_in, d_out, self.init_std, device);
        let norm = || {
            self.qk_norm.then(|| {
                RmsNormConfig::new(head_dim)
                    .with_epsilon(self.norm_eps)
                    .init(device)
            })
        };
        Attention {
            q_proj: linear(self.d_model, self.n_heads * head_dim),
            k_proj: linear(self.d_model, self.n_kv_heads * head_dim),
            v_proj: linear(self.d_model, self.n_kv_heads * head_dim),
            o_proj: linear(self.n_heads * head_dim, self.d_model),
            q_norm: norm(),
            k_norm: norm(),
            mta: None,
            n_heads: self.n_heads,
            n_kv_heads: self.n_kv_heads,
            head_dim,
            cpu: None,
        }
    }
}

impl Attention {
    /// Attends over the cached keys/values (if any) followed by this call's tokens, which sit
    /// at positions `cache.len()..cache.len() + seq_len`. Keys the cache marks as left padding
    /// are skipped.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq_len, d_model]`
    /// - `rope`: tables for the positions of this call's tokens
    /// - output: `[batch, seq_len, d_model]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        rope: &RotaryEmbedding,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let [batch, seq_len, _] = x.dims();
        let heads = |t: Tensor<3>, n: usize| {
            t.reshape([batch, seq_len, n, self.head_dim])
                .swap_dims(1, 2)
        };
        let norm = |t: Tensor<4>, n: &Option<RmsNorm>| match n {
            Some(n) => n.forward(t),
            None => t,
        };
        let cpu = self.cpu.as_deref().filter(|_| RowLinear::serves(&x));
        let project = |i: usize, linear: &Linear, x: Tensor<3>| match cpu {
            Some(rows) => rows[i].forward_tensor(x),
            None => linear.forward(x),
        };
        let q = heads(project(0, &self.q_proj, x.clone()), self.n_heads);
        let k = heads(project(1, &self.k_proj, x.clone()), self.n_kv_heads);
        let q = rope.apply(norm(q, &self.q_norm));
        let k = rope.apply(norm(k, &self.k_norm));
        let v = heads(project(2, &self.v_proj, x), self.n_kv_heads);

        let (k, v, past, q, padding) = match cache {
            Some(cache) => {
                let past = cache.len();
                let (k, v) = cache.append(k, v);
                let padding = cache.padding_mask(k.dims()[2], &k.device());
                // MTA's convolutions also read the score rows of a few earlier queries.
                let q = match &self.mta {
                    Some(mta) => cache.extend_queries(q, mta.query_context()),
                    None => q,
                };
                (k, v, past, q, padding)
            }
            None => (k, v, 0, q, None),
        };
        let (k, v) = (self.repeat_kv(k), self.repeat_kv(v));

        let context = match &self.mta {
            Some(mta) => {
                let rows = q.dims()[2];
                let context = mta.attend(q, k, v, past + seq_len - rows, padding);
                let context = context.slice_dim(2, rows - seq_len..rows).swap_dims(1, 2);
                mta.normalise_heads(context)
            }
            None => {
                let keys = k.dims()[2];
                let scores = q
                    .matmul(k.swap_dims(2, 3))
                    .div_scalar((self.head_dim as f64).sqrt());
                // Query i sits at position past + i and may see keys 0..=past + i.
                let mask =
                    Tensor::<2, Bool>::tril_mask([seq_len, keys], past as i64, &scores.device());
                let mut scores = scores.mask_fill(mask.unsqueeze::<4>(), f32::NEG_INFINITY);
                if let Some(padding) = padding {
                    // Finite, so that a padding query, which sees only padding keys, still gets
                    // a (meaningless but finite) softmax instead of NaNs that would reach real
                    // rows.
                    scores = scores.mask_fill(padding, -1e30);
                }
                softmax(scores, 3).matmul(v).swap_dims(1, 2)
            }
        };
        let context = context.reshape([batch, seq_len, self.n_heads * self.head_dim]);
        project(3, &self.o_proj, context)
    }

    /// Installs CPU copies of the four projections (inference only: they do not train).
    pub fn with_cpu_projections(mut self) -> Self {
        let rows = |l: &Linear| RowLinear::from_linear(l);
        self.cpu = Some(Arc::new([
            rows(&self.q_proj),
            rows(&self.k_proj),
            rows(&self.v_proj),
            rows(&self.o_proj),
        ]));
        self
    }

    /// Repeats each key/value head for the query heads it serves (head h reads kv head
    /// h / group, as `repeat_interleave` in the reference implementations).
    fn repeat_kv(&self, x: Tensor<4>) -> Tensor<4> {
        let group = self.n_heads / self.n_kv_heads;
        if group == 1 {
            return x;
        }
        let [batch, kv, len, dim] = x.dims();
        x.unsqueeze_dim::<5>(2)
            .expand([batch, kv, group, len, dim])
            .reshape([batch, kv * group, len, dim])
    }
}
