//! CPU kernels of the causal key-query convolution: the forward pass and both gradients,
//! written as row-by-row shifted AXPYs and dot products over contiguous `f32` rows (the
//! vector kernels of [`crate::cpu`]).
//!
//! The operation (Golovneva et al. 2025, eq. 5 and 6, with the masks folded in) is
//!
//! ```text
//! y[q, k] = M(q, k) · Σ_{i < c_q} Σ_{j < c_k} θ[i, j] · M(r, c) · x[r, c],
//!           r = q − (c_q − 1) + i,  c = k + j − c_k/2,
//! ```
//!
//! where `M(r, c) = 1` when key `c` is visible from row `r` (`c ≤ r + first`) and 0 otherwise,
//! and reads outside the map are 0. Masking the input is eq. 5's Mask₀; masking the output
//! changes nothing the layer keeps (the pre-softmax output is masked with −∞ next, the
//! post-softmax one with 0). Since `M` zeroes the upper triangle on both sides, the kernels
//! skip it: they do about half the multiply-adds of a dense convolution. The operation is
//! linear in `x` and in `θ`, so its gradients are
//!
//! ```text
//! ∂L/∂x[r, c] = M(r, c) · Σ_{i, j} θ[i, j] · M(q, k) · g[q, k]   (same q, k as above)
//! ∂L/∂θ[i, j] = Σ_{q, k} M(q, k) · g[q, k] · M(r, c) · x[r, c]
//! ```
//!
//! with `g = ∂L/∂y`. Burn's generic `conv2d` computes the same thing densely; its backward
//! on the CPU goes through a general transposed convolution (an outer product by GEMM and a
//! scatter) that cost more than the rest of the layer together.

use rayon::prelude::*;

use crate::cpu::{axpy, dot};

/// The sizes of one call: `maps` score maps of `rows × keys`, one `c_q × c_k` kernel per head,
/// map `m` using kernel `m % heads`.
#[derive(Debug, Clone, Copy)]
pub struct ConvShape {
    pub maps: usize,
    pub heads: usize,
    pub rows: usize,
    pub keys: usize,
    pub query_kernel: usize,
    pub key_kernel: usize,
    /// Row `r` sees keys `0..=r + first`.
    pub first: usize,
}

impl ConvShape {
    fn map_len(&self) -> usize {
        self.rows * self.keys
    }

    fn taps(&self) -> usize {
        self.query_kernel * self.key_kernel
    }

    /// Visible keys of row `r`: `0..visible(r)`.
    fn visible(&self, r: usize) -> usize {
        (r + self.first + 1).min(self.keys)
    }

    /// Tap `(i, j)` between output row `q` and the source row it reads, if any key lines up.
    fn tap(&self, q: usize, i: usize, j: usize) -> Option<Tap> {
        let r = (q + i).checked_sub(self.query_kernel - 1)?;
        let half = self.key_kernel / 2;
        // c = k + j − half must lie in 0..visible(r); k in 0..visible(q).
        let k = half.saturating_sub(j);
        let k_end = self
            .visible(q)
            .min((self.visible(r) + half).saturating_sub(j));
        (k < k_end).then(|| Tap {
            index: i * self.key_kernel + j,
            q,
            r,
            k,
            c: k + j - half,
            len: k_end - k,
        })
    }

    /// The taps that write output row `q`.
    fn taps_into(&self, q: usize) -> impl Iterator<Item = Tap> + '_ {
        (0..self.query_kernel)
            .flat_map(move |i| (0..self.key_kernel).filter_map(move |j| self.tap(q, i, j)))
    }

    /// The taps that read source row `r`: output rows `q = r + c_q − 1 − i`.
    fn taps_from(&self, r: usize) -> impl Iterator<Item = Tap> + '_ {
        (0..self.query_kernel)
            .map(move |i| (i, r + self.query_kernel - 1 - i))
            .filter(|&(_, q)| q < self.rows)
            .flat_map(move |(i, q)| (0..self.key_kernel).filter_map(move |j| self.tap(q, i, j)))
    }
}

/// One kernel weight between two rows: `y[q, k..k + len] += θ[index] · x[r, c..c + len]`.
#[derive(Debug, Clone, Copy)]
struct Tap {
    /// `i · c_k + j`.
    index: usize,
    q: usize,
    r: usize,
    k: usize,
    c: usize,
    len: usize,
}

/// `y = M ⊙ conv(M ⊙ x)`.
///
/// # Shapes
/// - `x`, `y`: `[maps, rows, keys]`, row-major
/// - `kernel`: `[heads, c_q, c_k]`
pub fn forward(x: &[f32], kernel: &[f32], shape: ConvShape) -> Vec<f32> {
    let mut y = vec![0.0f32; shape.maps * shape.map_len()];
    y.par_chunks_mut(shape.map_len())
        .enumerate()
        .for_each(|(m, y)| {
            let x = &x[m * shape.map_len()..][..shape.map_len()];
            let theta = &kernel[(m % shape.heads) * shape.taps()..][..shape.taps()];
            for q in 0..shape.rows {
                let out = &mut y[q * shape.keys..][..shape.keys];
                for t in shape.taps_into(q).filter(|t| theta[t.index] != 0.0) {
                    let src = &x[t.r * shape.keys + t.c..][..t.len];
                    axpy(&mut out[t.k..][..t.len], theta[t.index], src);
                }
            }
        });
    y
}

/// `∂L/∂x` from `g = ∂L/∂y`: each output row's gradient is spread back over the rows and keys
/// it read, with the same kernel.
///
/// # Shapes
/// - `grad`, output: `[maps, rows, keys]`
/// - `kernel`: `[heads, c_q, c_k]`
pub fn input_grad(grad: &[f32], kernel: &[f32], shape: ConvShape) -> Vec<f32> {
    let mut dx = vec![0.0f32; shape.maps * shape.map_len()];
    dx.par_chunks_mut(shape.map_len())
        .enumerate()
        .for_each(|(m, dx)| {
            let g = &grad[m * shape.map_len()..][..shape.map_len()];
            let theta = &kernel[(m % shape.heads) * shape.taps()..][..shape.taps()];
            // Walk the source rows so that each one is written by one task and stays in cache.
            for r in 0..shape.rows {
                let out = &mut dx[r * shape.keys..][..shape.keys];
                for t in shape.taps_from(r).filter(|t| theta[t.index] != 0.0) {
                    let src = &g[t.q * shape.keys + t.k..][..t.len];
                    axpy(&mut out[t.c..][..t.len], theta[t.index], src);
                }
            }
        });
    dx
}

/// `∂L/∂θ` from the input `x` and `g = ∂L/∂y`, summed over every map of the same head.
///
/// # Shapes
/// - `x`, `grad`: `[maps, rows, keys]`
/// - output: `[heads, c_q, c_k]`
pub fn kernel_grad(x: &[f32], grad: &[f32], shape: ConvShape) -> Vec<f32> {
    let per_map: Vec<Vec<f64>> = (0..shape.maps)
        .into_par_iter()
        .map(|m| {
            let x = &x[m * shape.map_len()..][..shape.map_len()];
            let g = &grad[m * shape.map_len()..][..shape.map_len()];
            let mut sums = vec![0.0f64; shape.taps()];
            for q in 0..shape.rows {
                for t in shape.taps_into(q) {
                    sums[t.index] += dot(
                        &g[q * shape.keys + t.k..][..t.len],
                        &x[t.r * shape.keys + t.c..][..t.len],
                    ) as f64;
                }
            }
            sums
        })
        .collect();
    let mut dk = vec![0.0f64; shape.heads * shape.taps()];
    for (m, sums) in per_map.iter().enumerate() {
        let head = &mut dk[(m % shape.heads) * shape.taps()..][..shape.taps()];
        for (d, s) in head.iter_mut().zip(sums) {
            *d += s;
        }
    }
    dk.into_iter().map(|d| d as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The definition, term by term.
    fn naive(x: &[f32], kernel: &[f32], s: ConvShape) -> Vec<f32> {
        let seen = |r: usize, c: usize| c <= r + s.first;
        let mut y = vec![0.0f32; s.maps * s.map_len()];
        for m in 0..s.maps {
            let h = m % s.heads;
            for q in 0..s.rows {
                for k in 0..s.keys {
                    if !seen(q, k) {
                        continue;
                    }
                    let mut acc = 0.0f64;
                    for i in 0..s.query_kernel {
                        for j in 0..s.key_kernel {
                            let r = q as isize - (s.query_kernel - 1) as isize + i as isize;
                            let c = k as isize + j as isize - (s.key_kernel / 2) as isize;
                            if r < 0 || c < 0 || c >= s.keys as isize {
                                continue;
                            }
                            let (r, c) = (r as usize, c as usize);
                            if seen(r, c) {
                                acc += (kernel[(h * s.query_kernel + i) * s.key_kernel + j]
                                    * x[(m * s.rows + r) * s.keys + c])
                                    as f64;
                            }
                        }
                    }
                    y[(m * s.rows + q) * s.keys + k] = acc as f32;
                }
            }
        }
        y
    }

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect()
    }

    fn dot64(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    }

    fn shapes() -> Vec<ConvShape> {
        let mut out = Vec::new();
        for (rows, keys, first) in [(7, 7, 0), (5, 9, 4), (1, 6, 5), (13, 13, 0)] {
            for (cq, ck) in [(1, 1), (2, 3), (3, 5), (6, 11)] {
                out.push(ConvShape {
                    maps: 6,
                    heads: 3,
                    rows,
                    keys,
                    query_kernel: cq,
                    key_kernel: ck,
                    first,
                });
            }
        }
        out
    }

    #[test]
    fn forward_matches_the_definition() {
        let mut rng = Rng::seed(1);
        for s in shapes() {
            let x = random(s.maps * s.map_len(), &mut rng);
            let k = random(s.heads * s.taps(), &mut rng);
            let (got, want) = (forward(&x, &k, s), naive(&x, &k, s));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{s:?}: {g} vs {w}");
            }
        }
    }

    /// The gradients are the adjoints of the (bilinear) forward pass:
    /// ⟨g, y(x, θ)⟩ = ⟨∂/∂x, x⟩ = ⟨∂/∂θ, θ⟩.
    #[test]
    fn gradients_are_the_adjoints_of_the_forward() {
        let mut rng = Rng::seed(2);
        for s in shapes() {
            let x = random(s.maps * s.map_len(), &mut rng);
            let k = random(s.heads * s.taps(), &mut rng);
            let g = random(s.maps * s.map_len(), &mut rng);
            let inner = dot64(&g, &naive(&x, &k, s));
            let dx = input_grad(&g, &k, s);
            let dk = kernel_grad(&x, &g, s);
            assert!((dot64(&dx, &x) - inner).abs() < 1e-4, "{s:?}: input");
            assert!((dot64(&dk, &k) - inner).abs() < 1e-4, "{s:?}: kernel");
            // And each gradient is masked: nothing flows to or from hidden entries.
            for m in 0..s.maps {
                for r in 0..s.rows {
                    for c in s.visible(r)..s.keys {
                        assert_eq!(dx[(m * s.rows + r) * s.keys + c], 0.0);
                    }
                }
            }
        }
    }
}
