//! Multi-Token Attention's attention weights (Golovneva et al. 2025, §2): the score maps of
//! all heads go through the key-query convolution and head mixing before the softmax
//! (eq. 5, 7), the probabilities through their own convolution and head mixing after it
//! (eq. 6, 7), and each head's output through group normalisation (§2.3). The order is the
//! reference's: q-k conv, head mix, softmax, q-k conv, head mix.

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor};

use super::head_mix::HeadMix;
use super::head_norm::HeadNorm;
use super::key_query_conv::KeyQueryConv;

/// The MTA parts of one attention layer; each part is optional, and a layer with none of them
/// computes standard attention.
#[derive(Module, Debug)]
pub struct Mta {
    /// Key-query convolution of the masked scores, before the softmax.
    pub pre_conv: Option<KeyQueryConv>,
    /// Head mixing of the scores, before the softmax.
    pub pre_head_mix: Option<HeadMix>,
    /// Key-query convolution of the probabilities, after the softmax (not renormalised).
    pub post_conv: Option<KeyQueryConv>,
    /// Head mixing of the probabilities, after the softmax.
    pub post_head_mix: Option<HeadMix>,
    /// Group normalisation (and gating) of each head's output.
    pub head_norm: Option<HeadNorm>,
}

impl Mta {
    /// How many query rows before the first new one the convolutions read: each convolution
    /// looks c_q − 1 rows back, and the post-softmax one reads rows that the pre-softmax one
    /// produced. The decoding cache keeps this many past queries.
    pub fn query_context(&self) -> usize {
        [&self.pre_conv, &self.post_conv]
            .into_iter()
            .flatten()
            .map(KeyQueryConv::query_context)
            .sum()
    }

    /// Attention of the query rows `q` over the keys: row r sits at position `first + r` and
    /// sees keys `0..=first + r`. Rows whose convolution window reaches before row 0 read
    /// zeros there, which is exact when `first` is at most the number of rows kept for them
    /// (zero rows are the reference's padding above the sequence). `padding` marks the left
    /// padding keys of each row of a padded batch (see [`Self::weights`]).
    ///
    /// # Shapes
    /// - `q`: `[batch, heads, rows, head_dim]`
    /// - `k`, `v`: `[batch, heads, keys, head_dim]`
    /// - `padding`: `[batch, 1, 1, keys]`, true at padding keys
    /// - output: `[batch, heads, rows, head_dim]`
    pub fn attend(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        first: usize,
        padding: Option<Tensor<4, Bool>>,
    ) -> Tensor<4> {
        let head_dim = q.dims()[3];
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .div_scalar((head_dim as f64).sqrt());
        self.weights(scores, first, padding).matmul(v)
    }

    /// Attention weights from raw scores; row r sees keys `0..=first + r`.
    ///
    /// In a left-padded batch the convolutions would otherwise mix padding into real
    /// positions: a real query's kernel window reaches the score rows of the padding queries
    /// above it and the padding key columns on its left. Every score of a padding query or a
    /// padding key is therefore read as 0 by both convolutions (what the unpadded row reads
    /// there: nothing, or the zeros outside its map), hidden from the softmax and written as
    /// 0, so each real row gets exactly the weights it gets alone.
    ///
    /// # Shapes
    /// - `scores`: `[batch, heads, rows, keys]`
    /// - `padding`: `[batch, 1, 1, keys]`, true at padding keys (query row r is padding when
    ///   key `first + r` is)
    /// - output: `[batch, heads, rows, keys]`
    pub fn weights(
        &self,
        scores: Tensor<4>,
        first: usize,
        padding: Option<Tensor<4, Bool>>,
    ) -> Tensor<4> {
        let [batch, _, rows, keys] = scores.dims();
        let mask = Tensor::<2, Bool>::tril_mask([rows, keys], first as i64, &scores.device())
            .unsqueeze::<4>();
        let padding = padding.map(|keys_mask| {
            let queries = keys_mask
                .clone()
                .slice_dim(3, first..first + rows)
                .swap_dims(2, 3)
                .expand([batch, 1, rows, keys]);
            keys_mask.expand([batch, 1, rows, keys]).bool_or(queries)
        });
        let hide_padding = |t: Tensor<4>| match &padding {
            Some(p) => t.mask_fill(p.clone(), 0.0),
            None => t,
        };
        let mut scores = scores;
        if let Some(conv) = &self.pre_conv {
            // Mask₀ before the kernel: future scores must not leak into the past (eq. 5).
            scores = conv.forward_causal(hide_padding(scores), first);
        }
        if let Some(mix) = &self.pre_head_mix {
            scores = mix.forward(scores);
        }
        let mut scores = scores.mask_fill(mask, f32::NEG_INFINITY);
        if let Some(p) = &padding {
            // Finite, so that a padding query, which sees only padding keys, gets a finite
            // softmax (zeroed below) instead of NaNs.
            scores = scores.mask_fill(p.clone(), -1e30);
        }
        let mut probs = hide_padding(softmax(scores, 3));
        if let Some(conv) = &self.post_conv {
            // Future probabilities are already 0; the kernel would spread mass onto them
            // again, so its output is masked with 0 (not renormalised, eq. 6).
            probs = hide_padding(conv.forward_causal(probs, first));
        }
        if let Some(mix) = &self.post_head_mix {
            probs = mix.forward(probs);
        }
        probs
    }

    /// Group normalisation and gating of the attention output, if configured.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq_len, heads, head_dim]`
    /// - output: same as `x`
    pub fn normalise_heads(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.head_norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }
}
