//! Key/value cache for incremental decoding: every layer keeps the rotated keys and the values
//! of the tokens seen so far, so each new token costs one row of attention instead of a full
//! forward pass.

use burn::tensor::{Bool, Device, Tensor, TensorData};

/// Cached keys and values of one attention layer.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    kv: Option<(Tensor<4>, Tensor<4>)>,
    /// Number of padding tokens at the start of every row of a left-padded batch (empty: none).
    left_padding: Vec<usize>,
    /// The last rotated queries, for Multi-Token Attention's query-direction convolutions.
    queries: Option<Tensor<4>>,
}

impl LayerCache {
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.kv.as_ref().map_or(0, |(k, _)| k.dims()[2])
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.kv.is_none()
    }

    /// Appends this step's keys and values and returns everything cached so far.
    ///
    /// # Shapes
    /// - `k`, `v`: `[batch, kv_heads, new, head_dim]`
    /// - returns: `[batch, kv_heads, cached + new, head_dim]` each
    pub fn append(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let (k, v) = match self.kv.take() {
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
            None => (k, v),
        };
        self.kv = Some((k.clone(), v.clone()));
        (k, v)
    }

    /// Where keys are padding in a left-padded batch, `None` when no row is padded.
    ///
    /// # Shapes
    /// - returns: `[batch, 1, 1, keys]`, true at the padding keys of each row
    pub fn padding_mask(&self, keys: usize, device: &Device) -> Option<Tensor<4, Bool>> {
        if self.left_padding.iter().all(|&p| p == 0) {
            return None;
        }
        let batch = self.left_padding.len();
        let mask: Vec<bool> = self
            .left_padding
            .iter()
            .flat_map(|&pad| (0..keys).map(move |k| k < pad))
            .collect();
        Some(Tensor::from_data(
            TensorData::new(mask, [batch, 1, 1, keys]),
            device,
        ))
    }

    /// Prepends the queries kept from earlier steps to this step's, and keeps the last `keep`
    /// of them for the next step.
    ///
    /// # Shapes
    /// - `q`: `[batch, heads, new, head_dim]`
    /// - returns: `[batch, heads, kept + new, head_dim]`, kept ≤ `keep`
    pub fn extend_queries(&mut self, q: Tensor<4>, keep: usize) -> Tensor<4> {
        let q = match self.queries.take() {
            Some(past) => Tensor::cat(vec![past, q], 2),
            None => q,
        };
        let rows = q.dims()[2];
        self.queries = (keep > 0).then(|| q.clone().slice_dim(2, rows.saturating_sub(keep)..rows));
        q
    }
}

/// The caches of every layer of a model.
#[derive(Debug, Clone)]
pub struct KvCache {
    pub layers: Vec<LayerCache>,
}

impl KvCache {
    /// An empty cache for a model with `n_layers` layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![LayerCache::default(); n_layers],
        }
    }

    /// An empty cache for a batch whose row `b` starts with `left_padding[b]` padding tokens:
    /// attention skips them and positions count from each row's first real token.
    pub fn with_left_padding(n_layers: usize, left_padding: Vec<usize>) -> Self {
        let layer = LayerCache {
            kv: None,
            left_padding,
            queries: None,
        };
        Self {
            layers: vec![layer; n_layers],
        }
    }

    /// Padding tokens at the start of every row (empty when the batch is not padded).
    pub fn left_padding(&self) -> &[usize] {
        self.layers.first().map_or(&[], |l| &l.left_padding)
    }

    /// Number of cached positions (the position of the next token).
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, LayerCache::len)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
