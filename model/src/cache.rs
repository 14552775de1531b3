//! Key/value cache for incremental decoding: every layer keeps the rotated keys and the values
//! of the tokens seen so far, so each new token costs one row of attention instead of a full
//! forward pass.
//!
//! The keys and values live in a buffer with room to spare (the decoding length when it is
//! known, see [`KvCache::with_capacity`]; doubling otherwise), written in place: a step copies
//! only its own new rows, not the whole cache as concatenation would (O(T) per token instead
//! of O(T²) over a generation). Finished rows of a batch can be dropped
//! ([`KvCache::retain_rows`]) so that they stop costing compute.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// Cached keys and values of one attention layer.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    /// Key and value buffers, `[batch, kv_heads, capacity, head_dim]`; positions `0..len` hold
    /// data.
    kv: Option<(Tensor<4>, Tensor<4>)>,
    len: usize,
    /// Capacity to allocate on the first append (0: exactly what the first append needs).
    reserve: usize,
    /// Number of padding tokens at the start of every row of a left-padded batch (empty: none).
    left_padding: Vec<usize>,
    /// The last rotated queries, for Multi-Token Attention's query-direction convolutions.
    queries: Option<Tensor<4>>,
}

impl LayerCache {
    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions the buffers hold before they must grow.
    pub fn capacity(&self) -> usize {
        self.kv.as_ref().map_or(0, |(k, _)| k.dims()[2])
    }

    /// Appends this step's keys and values and returns everything cached so far.
    ///
    /// # Shapes
    /// - `k`, `v`: `[batch, kv_heads, new, head_dim]`
    /// - returns: `[batch, kv_heads, cached + new, head_dim]` each
    pub fn append(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let [batch, heads, new, dim] = k.dims();
        let end = self.len + new;
        let (kb, vb) = match self.kv.take() {
            // The first call of a full (training or scoring) forward: nothing to reserve room
            // for, keep the tensors as they are (no copy, and the autodiff graph stays simple).
            None if self.reserve <= end => (k, v),
            None => {
                let grown = |t: Tensor<4>| {
                    Tensor::zeros([batch, heads, self.reserve, dim], &t.device())
                        .slice_assign([0..batch, 0..heads, 0..new, 0..dim], t)
                };
                (grown(k), grown(v))
            }
            Some((kb, vb)) => {
                let (kb, vb) = if kb.dims()[2] < end {
                    let capacity = end.max(2 * kb.dims()[2]);
                    let grown = |old: Tensor<4>| {
                        let kept = old.slice_dim(2, 0..self.len);
                        Tensor::zeros([batch, heads, capacity, dim], &kept.device())
                            .slice_assign([0..batch, 0..heads, 0..self.len, 0..dim], kept)
                    };
                    (grown(kb), grown(vb))
                } else {
                    (kb, vb)
                };
                // In place on the CPU backends: the buffer is uniquely owned here, because the
                // views handed out by the previous call are gone.
                let range = [0..batch, 0..heads, self.len..end, 0..dim];
                (kb.slice_assign(range.clone(), k), vb.slice_assign(range, v))
            }
        };
        self.len = end;
        let views = (
            kb.clone().slice_dim(2, 0..end),
            vb.clone().slice_dim(2, 0..end),
        );
        self.kv = Some((kb, vb));
        views
    }

    /// Keeps only the batch rows `rows` (in that order), e.g. to stop decoding finished ones.
    pub fn retain_rows(&mut self, rows: &[usize]) {
        let pick = |t: Tensor<4>| {
            let index = Tensor::<1, Int>::from_data(
                TensorData::new(
                    rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                    [rows.len()],
                ),
                &t.device(),
            );
            t.select(0, index)
        };
        self.kv = self.kv.take().map(|(k, v)| (pick(k), pick(v)));
        self.queries = self.queries.take().map(pick);
        if !self.left_padding.is_empty() {
            self.left_padding = rows.iter().map(|&r| self.left_padding[r]).collect();
        }
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
            left_padding,
            ..LayerCache::default()
        };
        Self {
            layers: vec![layer; n_layers],
        }
    }

    /// Reserves room for `positions` cached positions in every layer, allocated at the first
    /// append (the prompt plus the tokens to generate): decoding then never reallocates.
    pub fn with_capacity(mut self, positions: usize) -> Self {
        for layer in &mut self.layers {
            layer.reserve = positions;
        }
        self
    }

    /// Keeps only the batch rows `rows` of every layer (see [`LayerCache::retain_rows`]).
    pub fn retain_rows(&mut self, rows: &[usize]) {
        for layer in &mut self.layers {
            layer.retain_rows(rows);
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
