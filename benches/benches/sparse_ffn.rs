//! One RELU-gated FFN on the CPU: kiln's sparse engine (skipping inactive units) against its
//! own dense path (same kernels, no skipping) and against the dense FFN that `kiln generate`
//! runs on the CPU without `--sparse` (three `RowLinear`s), at batch 1 (decoding) and 16, for the paper-like shape (dim 2048, hidden
//! 8192) and the default model's (256 × 688), at set sparsities and at the sparsity measured
//! by `kiln sparsity` on the RELU-trained default model (BENCHMARKS.md).
//!
//!     cargo test --workspace --all-targets -- --bench sparse_ffn   (not `cargo bench`: see BENCHMARKS.md)
//!
//! NumPy's dense FFN on the same shapes: benches/peers/ffn_numpy.py.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kiln_model::cpu::RowLinear;
use kiln_model::rng::Rng;
use kiln_model::sparse::{FfnPath, SparseFfn, dot};

/// Mean zero fraction of the FFN activations of the default model trained 200 steps with RELU
/// from scratch, on the held-out text (`kiln sparsity`, BENCHMARKS.md).
const MEASURED_SPARSITY: f64 = 0.678;
const SPARSITIES: [f64; 4] = [0.5, 0.8, 0.9, 0.95];
const SHAPES: [(usize, usize); 2] = [(2048, 8192), (256, 688)];
const BATCHES: [usize; 2] = [1, 16];

/// Bytes of FFN weights above which the bench rotates through copies of the FFN, like the
/// layers of a model: one paper-shape FFN (201 MB, or 80 MB touched at 90% sparsity) fits in
/// the 260 MB last-level cache of the machine in BENCHMARKS.md, and a bench that calls the
/// same one again would time cache-resident weights, which decoding a real model never sees.
const COLD_ABOVE: usize = 64 << 20;
/// Copies rotated through: 4 × 201 MB, well past the last-level cache.
const COLD_COPIES: u64 = 4;

/// Random weights and inputs whose gates are zero for a fraction `sparsity` of the (unit,
/// token) pairs. The last input feature is a constant 1 and the last gate column a bias, set
/// to minus the `sparsity`-quantile of the other features' gate values; which units are active
/// is then independent from token to token, as in a trained model.
fn problem(dim: usize, hidden: usize, rows: usize, sparsity: f64, seed: u64) -> Problem {
    let mut rng = Rng::seed(17 + seed);
    let mut uniform = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| (2.0 * rng.next_f64() - 1.0) as f32)
            .collect()
    };
    let mut gate = uniform(hidden * dim);
    let (up, down) = (uniform(hidden * dim), uniform(hidden * dim));
    let mut x = uniform(rows * dim);
    for t in 0..rows {
        x[t * dim + dim - 1] = 1.0;
    }
    let mut pre: Vec<f32> = (0..hidden)
        .flat_map(|i| {
            let w = &gate[i * dim..(i + 1) * dim - 1];
            let x = &x;
            (0..rows).map(move |t| dot(w, &x[t * dim..(t + 1) * dim - 1]))
        })
        .collect();
    let k = ((sparsity * pre.len() as f64) as usize).min(pre.len() - 1);
    let threshold = *pre.select_nth_unstable_by(k, f32::total_cmp).1;
    for i in 0..hidden {
        gate[i * dim + dim - 1] = -threshold;
    }
    // The dense FFN of `kiln generate`: W_down as [dim, hidden] rows.
    let down_rows: Vec<f32> = (0..dim)
        .flat_map(|j| (0..hidden).map(move |i| (i, j)))
        .map(|(i, j)| down[i * dim + j])
        .collect();
    let rows = [
        RowLinear::new(dim, hidden, gate.clone(), None).expect("valid shapes"),
        RowLinear::new(dim, hidden, up.clone(), None).expect("valid shapes"),
        RowLinear::new(hidden, dim, down_rows, None).expect("valid shapes"),
    ];
    let ffn = SparseFfn::new(dim, hidden, gate, up, down, 0.0).expect("valid shapes");
    Problem { ffn, rows, x }
}

struct Problem {
    ffn: SparseFfn,
    /// gate, up, down as `kiln generate` holds them without `--sparse`.
    rows: [RowLinear; 3],
    x: Vec<f32>,
}

/// `down(relu(gate x) ⊙ up x)` through three `RowLinear`s.
fn dense_rows([gate, up, down]: &[RowLinear; 3], x: &[f32]) -> Vec<f32> {
    let mut h = gate.forward(x);
    for (h, u) in h.iter_mut().zip(up.forward(x)) {
        *h = h.max(0.0) * u;
    }
    down.forward(&h)
}

fn sparse_ffn(c: &mut Criterion) {
    for (dim, hidden) in SHAPES {
        let copies = if 3 * 4 * dim * hidden > COLD_ABOVE {
            COLD_COPIES
        } else {
            1
        };
        for rows in BATCHES {
            let mut group = c.benchmark_group(format!("sparse_ffn/{dim}x{hidden}/batch{rows}"));
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
            let problems: Vec<Problem> = (0..copies)
                .map(|c| problem(dim, hidden, rows, 0.5, c))
                .collect();
            let mut next = rotation(copies);
            group.bench_function("dense", |b| {
                b.iter(|| {
                    let p = &problems[next()];
                    black_box(p.ffn.forward_with(&p.x, FfnPath::Dense))
                })
            });
            group.bench_function("dense_rowlinear", |b| {
                b.iter(|| {
                    let p = &problems[next()];
                    black_box(dense_rows(&p.rows, &p.x))
                })
            });
            drop(problems);
            for s in [MEASURED_SPARSITY].into_iter().chain(SPARSITIES) {
                let problems: Vec<Problem> = (0..copies)
                    .map(|c| problem(dim, hidden, rows, s, c))
                    .collect();
                let name = format!("sparse{:.1}", 100.0 * s);
                group.bench_function(name, |b| {
                    b.iter(|| {
                        let p = &problems[next()];
                        black_box(p.ffn.forward_with(&p.x, FfnPath::Sparse))
                    })
                });
            }
            group.finish();
        }
    }
}

/// 0, 1, …, n − 1, 0, 1, …
fn rotation(n: u64) -> impl FnMut() -> usize {
    let mut i = 0;
    move || {
        i = (i + 1) % n as usize;
        i
    }
}

criterion_group!(benches, sparse_ffn);
criterion_main!(benches);
