//! The kernels of [`RowLinear`](super::RowLinear) and of the sparse FFN: four weight rows
//! against up to four input vectors at once, `out[r][t] = w_r · x_t` ([`rows4`]), and four
//! scaled rows added to one output, `y += Σ a_r · w_r` ([`axpy4`]).
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

use super::kernels::{axpy, dot, dot4};

/// Floats prefetched ahead in each row: 2 KB, measured best of 0.5, 2 and 4 KB.
#[cfg(target_arch = "x86_64")]
const PREFETCH: usize = 512;

/// `out[r * tokens + t] = w_r · x_t` for four rows `w_r` of length `k` (contiguous in `w`) and
/// `tokens` ≤ 4 inputs `x_t` of length `k` (contiguous in `x`).
pub fn rows4(w: &[f32], x: &[f32], k: usize, tokens: usize, out: &mut [f32]) {
    assert_eq!(w.len(), 4 * k);
    let (a, rest) = w.split_at(k);
    let (b, rest) = rest.split_at(k);
    let (c, d) = rest.split_at(k);
    rows4_at([a, b, c, d], x, k, tokens, out);
}

/// [`rows4`] for four rows anywhere in memory (e.g. the active units of a sparse FFN).
pub fn rows4_at(w: [&[f32]; 4], x: &[f32], k: usize, tokens: usize, out: &mut [f32]) {
    assert!(w.iter().all(|w| w.len() == k));
    assert!(x.len() == tokens * k && (1..=4).contains(&tokens));
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

/// `y += a_0·w_0 + a_1·w_1 + a_2·w_2 + a_3·w_3`: `y` is read and written once for four rows.
pub fn axpy4(y: &mut [f32], a: [f32; 4], w: [&[f32]; 4]) {
    assert!(w.iter().all(|w| w.len() == y.len()));
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has AVX-512F, and every row is as long as `y` (asserted).
        unsafe { axpy4_avx512(y, a, w) };
        return;
    }
    axpy4_portable(y, a, w);
}

/// The same sum with the portable kernel.
fn axpy4_portable(y: &mut [f32], a: [f32; 4], w: [&[f32]; 4]) {
    for (a, w) in a.into_iter().zip(w) {
        axpy(y, a, w);
    }
}

/// The same products with the portable kernels.
fn rows4_portable(w: [&[f32]; 4], x: &[f32], k: usize, tokens: usize, out: &mut [f32]) {
    let input = |t: usize| &x[t * k..(t + 1) * k];
    for (r, row) in w.into_iter().enumerate() {
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
    w: [&[f32]; 4],
    x: &[f32],
    k: usize,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let (pw, px) = (w.map(<[f32]>::as_ptr), x.as_ptr());
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
                let p = pw[r].add(i);
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
            for part in &acc[r][t][1..] {
                sum = _mm512_add_ps(sum, *part);
            }
            let mut v = _mm512_reduce_add_ps(sum);
            for j in i..k {
                v += w[r][j] * x[t * k + j];
            }
            out[r * T + t] = v;
        }
    }
}

/// Four rows per block of 16 floats of `y`, prefetching each row ahead as `rows4_avx512`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn axpy4_avx512(y: &mut [f32], a: [f32; 4], w: [&[f32]; 4]) {
    use std::arch::x86_64::*;
    let n = y.len();
    let (py, pw) = (y.as_mut_ptr(), w.map(<[f32]>::as_ptr));
    let av = a.map(|a| _mm512_set1_ps(a));
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 ≤ n and every row is n long; prefetches never fault.
        unsafe {
            let mut acc = _mm512_loadu_ps(py.add(i));
            for r in 0..4 {
                _mm_prefetch::<_MM_HINT_T0>(pw[r].wrapping_add(i + PREFETCH) as *const i8);
                acc = _mm512_fmadd_ps(av[r], _mm512_loadu_ps(pw[r].add(i)), acc);
            }
            _mm512_storeu_ps(py.add(i), acc);
        }
        i += 16;
    }
    for j in i..n {
        y[j] += a[0] * w[0][j] + a[1] * w[1][j] + a[2] * w[2][j] + a[3] * w[3][j];
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
                let rows = [0, 1, 2, 3].map(|r| &w[r * k..(r + 1) * k]);
                rows4_portable(rows, &x, k, tokens, &mut portable);
                for ((a, b), c) in fast.iter().zip(&portable).zip(&want) {
                    let tol = 1e-4 * (1.0 + c.abs());
                    assert!(
                        (a - c).abs() < tol && (b - c).abs() < tol,
                        "k {k}, tokens {tokens}"
                    );
                }
            }
        }
    }

    #[test]
    fn axpy4_matches_plain_loops() {
        for n in [1, 15, 16, 33, 1024] {
            let w: Vec<Vec<f32>> = (0..4)
                .map(|r| (0..n).map(|i| ((r * n + i) as f32 * 0.37).sin()).collect())
                .collect();
            let rows = [&w[0][..], &w[1][..], &w[2][..], &w[3][..]];
            let a = [0.5, -1.25, 2.0, 0.0];
            let y0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let (mut fast, mut portable) = (y0.clone(), y0.clone());
            axpy4(&mut fast, a, rows);
            axpy4_portable(&mut portable, a, rows);
            for j in 0..n {
                let want: f32 = y0[j] + (0..4).map(|r| a[r] * w[r][j]).sum::<f32>();
                assert!((fast[j] - want).abs() < 1e-5 && (portable[j] - want).abs() < 1e-5);
            }
        }
    }
}
