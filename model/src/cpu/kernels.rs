//! The vector kernels of the CPU engines, `dot`, `dot4` and `axpy`, written so LLVM vectorises
//! them (independent lanes, no reassociation needed) and compiled twice: for the baseline
//! x86-64 target and, chosen at run time, for AVX2 + FMA, which the default build does not
//! assume but nearly every x86 CPU in use has.

/// Lanes kept in flight: four AVX registers of eight f32, enough to hide the FMA latency.
const LANES: usize = 32;

#[inline(always)]
fn dot_lanes<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let (a_blocks, a_tail) = a.as_chunks::<LANES>();
    let (b_blocks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in a_blocks.iter().zip(b_blocks) {
        for k in 0..LANES {
            acc[k] = if FMA {
                x[k].mul_add(y[k], acc[k])
            } else {
                acc[k] + x[k] * y[k]
            };
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    // Pairwise sum of the lanes.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            acc[k] += acc[k + width];
        }
    }
    acc[0] + tail
}

/// Four dot products sharing `w`: each block of `w` is loaded once for four inputs, which
/// halves the loads per multiply-add when several tokens go through the same unit.
#[inline(always)]
fn dot4_lanes<const FMA: bool>(w: &[f32], x: [&[f32]; 4]) -> [f32; 4] {
    const L: usize = 16;
    debug_assert!(x.iter().all(|x| x.len() == w.len()));
    let (w_blocks, w_tail) = w.as_chunks::<L>();
    let [x0, x1, x2, x3] = x.map(|x| x.as_chunks::<L>().0);
    let mut acc = [[0f32; L]; 4];
    let blocks = w_blocks.iter().zip(x0).zip(x1).zip(x2).zip(x3);
    for ((((wj, a), b), c), d) in blocks {
        for k in 0..L {
            let wk = wj[k];
            if FMA {
                acc[0][k] = wk.mul_add(a[k], acc[0][k]);
                acc[1][k] = wk.mul_add(b[k], acc[1][k]);
                acc[2][k] = wk.mul_add(c[k], acc[2][k]);
                acc[3][k] = wk.mul_add(d[k], acc[3][k]);
            } else {
                acc[0][k] += wk * a[k];
                acc[1][k] += wk * b[k];
                acc[2][k] += wk * c[k];
                acc[3][k] += wk * d[k];
            }
        }
    }
    let done = w_blocks.len() * L;
    let mut out = [0f32; 4];
    for r in 0..4 {
        let tail: f32 = w_tail.iter().zip(&x[r][done..]).map(|(a, b)| a * b).sum();
        let mut width = L;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                acc[r][k] += acc[r][k + width];
            }
        }
        out[r] = acc[r][0] + tail;
    }
    out
}

#[inline(always)]
fn axpy_lanes<const FMA: bool>(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = if FMA { x.mul_add(a, *y) } else { *y + a * x };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<true>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot4_avx2(w: &[f32], x: [&[f32]; 4]) -> [f32; 4] {
    dot4_lanes::<true>(w, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn axpy_avx2(y: &mut [f32], a: f32, x: &[f32]) {
    axpy_lanes::<true>(y, a, x)
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    // Cached by std after the first call: one relaxed load.
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `Σ a[k]·b[k]` over the common length.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features `dot_avx2` is compiled for.
        return unsafe { dot_avx2(a, b) };
    }
    dot_lanes::<false>(a, b)
}

/// `[w·x₀, w·x₁, w·x₂, w·x₃]`; every `x` as long as `w`.
pub fn dot4(w: &[f32], x: [&[f32]; 4]) -> [f32; 4] {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features `dot4_avx2` is compiled for.
        return unsafe { dot4_avx2(w, x) };
    }
    dot4_lanes::<false>(w, x)
}

/// `y += a·x`.
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    debug_assert_eq!(y.len(), x.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features `axpy_avx2` is compiled for.
        return unsafe { axpy_avx2(y, a, x) };
    }
    axpy_lanes::<false>(y, a, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_plain_loops_at_every_length() {
        for n in [0, 1, 7, 31, 32, 33, 100, 257] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - want).abs() < 1e-4, "dot, n = {n}");
            for variant in [dot_lanes::<false>(&a, &b), dot_lanes::<true>(&a, &b)] {
                assert!((variant as f64 - want).abs() < 1e-4, "dot variant, n = {n}");
            }
            let c: Vec<f32> = (0..n).map(|i| (i as f32 * 0.53).sin() - 0.2).collect();
            let got = dot4(&a, [&b, &c, &a, &b]);
            let want_c: f64 = a.iter().zip(&c).map(|(x, y)| *x as f64 * *y as f64).sum();
            let want_a: f64 = a.iter().map(|x| *x as f64 * *x as f64).sum();
            for (g, w) in got.iter().zip([want, want_c, want_a, want]) {
                assert!((*g as f64 - w).abs() < 1e-4, "dot4, n = {n}");
            }
            let mut y = b.clone();
            axpy(&mut y, 0.5, &a);
            for k in 0..n {
                assert!((y[k] - (b[k] + 0.5 * a[k])).abs() < 1e-6);
            }
        }
    }
}
