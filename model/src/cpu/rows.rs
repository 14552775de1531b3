//! The kernel of [`RowLinear`](super::RowLinear): four weight rows against up to four input
//! vectors at once, `out[r][t] = w_r · x_t`.
//!
//! Decoding is a matrix–vector product per layer and per token, bound by how fast the weights
//! stream from memory. Four rows in flight give the core four independent streams to fetch
//! (more misses outstanding), each input block is loaded once for four rows, and a software
//! prefetch 2 KB ahead in every row keeps the line-fill buffers busy. On the 2-vCPU Xeon of
//! BENCHMARKS.md this moves 12 GB/s per core against 5.5 GB/s for one row at a time with the
//! auto-vectorised [`dot`](super::dot) (and PyTorch's 12.8 GB/s).
//!
//! The AVX-512 version is chosen at run time; elsewhere the portable [`dot`]/[`dot4`] kernels
//! compute the same products one row at a time.

use super::kernels::{dot, dot4};

/// Floats prefetched ahead in each row: 2 KB, measured best of 0.5, 2 and 4 KB.
#[cfg(target_arch = "x86_64")]
const PREFETCH: usize = 512;

/// `out[r * tokens + t] = w_r · x_t` for four rows `w_r` of length `k` (contiguous in `w`) and
/// `tokens` ≤ 4 inputs `x_t` of length `k` (contiguous in `x`).
pub fn rows4(w: &[f32], x: &[f32], k: usize, tokens: usize, out: &mut [f32]) {
    assert!(w.len() == 4 * k && x.len() == tokens * k && (1..=4).contains(&tokens));
    assert_eq!(out.len(), 4 * tokens);
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has AVX-512F, and the slices hold what the kernels read (asserted).
        unsafe {
            match tokens {
                1 => rows4_avx512::<1, 2>(w, x, k, out),
                2 => rows4_avx512::<2, 2>(w, x, k, out),
                3 => rows4_avx512::<3, 1>(w, x, k, out),
                _ => rows4_avx512::<4, 1>(w, x, k, out),
            }
        }
        return;
    }
    rows4_portable(w, x, k, tokens, out);
}

/// The same products with the portable kernels.
pub fn rows4_portable(w: &[f32], x: &[f32], k: usize, tokens: usize, out: &mut [f32]) {
    let input = |t: usize| &x[t * k..(t + 1) * k];
    for r in 0..4 {
        let row = &w[r * k..(r + 1) * k];
        let out = &mut out[r * tokens..(r + 1) * tokens];
        if tokens == 4 {
            out.copy_from_slice(&dot4(row, [input(0), input(1), input(2), input(3)]));
        } else {
            for (t, o) in out.iter_mut().enumerate() {
                *o = dot(row, input(t));
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// `T` inputs, each block of 16 floats unrolled `U` times: `4·T·U` accumulators (≤ 16 of
/// the 32 registers), enough independent FMAs to hide their latency.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rows4_avx512<const T: usize, const U: usize>(
    w: &[f32],
    x: &[f32],
    k: usize,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let (pw, px) = (w.as_ptr(), x.as_ptr());
    let step = 16 * U;
    let mut acc = [[[_mm512_setzero_ps(); U]; T]; 4];
    let mut i = 0;
    while i + step <= k {
        // SAFETY (all pointer arithmetic below): i + step ≤ k, rows are k long; a prefetch
        // of an address past the end is a hint and never faults.
        unsafe {
            let mut xs = [[_mm512_setzero_ps(); U]; T];
            for (t, xt) in xs.iter_mut().enumerate() {
                for (u, v) in xt.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(px.add(t * k + i + 16 * u));
                }
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let p = pw.add(r * k + i);
                for u in 0..U {
                    _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(PREFETCH + 16 * u) as *const i8);
                    let wv = _mm512_loadu_ps(p.add(16 * u));
                    for t in 0..T {
                        acc_r[t][u] = _mm512_fmadd_ps(wv, xs[t][u], acc_r[t][u]);
                    }
                }
            }
        }
        i += step;
    }
    for r in 0..4 {
        for t in 0..T {
            let mut sum = acc[r][t][0];
            for u in 1..U {
                sum = _mm512_add_ps(sum, acc[r][t][u]);
            }
            let mut v = _mm512_reduce_add_ps(sum);
            for j in i..k {
                v += w[r * k + j] * x[t * k + j];
            }
            out[r * T + t] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_matches_plain_loops() {
        for k in [1, 15, 16, 33, 64, 100, 1024] {
            let w: Vec<f32> = (0..4 * k).map(|i| (i as f32 * 0.37).sin()).collect();
            for tokens in 1..=4 {
                let x: Vec<f32> = (0..tokens * k).map(|i| (i as f32 * 0.11).cos()).collect();
                let mut want = vec![0f32; 4 * tokens];
                for r in 0..4 {
                    for t in 0..tokens {
                        want[r * tokens + t] = (0..k)
                            .map(|j| w[r * k + j] as f64 * x[t * k + j] as f64)
                            .sum::<f64>() as f32;
                    }
                }
                let (mut fast, mut portable) = (vec![0f32; 4 * tokens], vec![0f32; 4 * tokens]);
                rows4(&w, &x, k, tokens, &mut fast);
                rows4_portable(&w, &x, k, tokens, &mut portable);
                for ((a, b), c) in fast.iter().zip(&portable).zip(&want) {
                    let tol = 1e-4 * (1.0 + c.abs());
                    assert!((a - c).abs() < tol && (b - c).abs() < tol, "k {k}, tokens {tokens}");
                }
            }
        }
    }
}
