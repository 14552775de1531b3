//! One RELU-gated FFN on the CPU: kiln's sparse engine (skipping inactive units) against its
//! own dense path, at batch 1 (decoding) and 16, for the paper-like shape (dim 2048, hidden
//! 8192) and the default model's (256 × 688), at set sparsities and at the sparsity measured
//! by `kiln sparsity` on the RELU-trained default model (BENCHMARKS.md).
//!
//!     cargo bench --workspace --bench sparse_ffn
//!
//! NumPy's dense FFN on the same shapes: benches/peers/ffn_numpy.py.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kiln_model::rng::Rng;
use kiln_model::sparse::{FfnPath, SparseFfn, dot};

/// Mean zero fraction of the FFN activations of the default model trained 200 steps with RELU
/// from scratch, on the held-out text (`kiln sparsity`, BENCHMARKS.md).
const MEASURED_SPARSITY: f64 = 0.678;
const SPARSITIES: [f64; 4] = [0.5, 0.8, 0.9, 0.95];
const SHAPES: [(usize, usize); 2] = [(2048, 8192), (256, 688)];
const BATCHES: [usize; 2] = [1, 16];

/// Random weights and inputs whose gates are zero for a fraction `sparsity` of the (unit,
/// token) pairs. The last input feature is a constant 1 and the last gate column a bias, set
/// to minus the `sparsity`-quantile of the other features' gate values; which units are active
/// is then independent from token to token, as in a trained model.
fn problem(dim: usize, hidden: usize, rows: usize, sparsity: f64) -> (SparseFfn, Vec<f32>) {
    let mut rng = Rng::seed(17);
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
    let ffn = SparseFfn::new(dim, hidden, gate, up, down, 0.0).expect("valid shapes");
    (ffn, x)
}

fn sparse_ffn(c: &mut Criterion) {
    for (dim, hidden) in SHAPES {
        for rows in BATCHES {
            let mut group = c.benchmark_group(format!("sparse_ffn/{dim}x{hidden}/batch{rows}"));
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
            let (ffn, x) = problem(dim, hidden, rows, 0.5);
            group.bench_function("dense", |b| {
                b.iter(|| black_box(ffn.forward_with(&x, FfnPath::Dense)))
            });
            drop(ffn);
            for s in [MEASURED_SPARSITY].into_iter().chain(SPARSITIES) {
                let (ffn, x) = problem(dim, hidden, rows, s);
                let name = format!("sparse{:.1}", 100.0 * s);
                group.bench_function(name, |b| {
                    b.iter(|| black_box(ffn.forward_with(&x, FfnPath::Sparse)))
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, sparse_ffn);
criterion_main!(benches);
