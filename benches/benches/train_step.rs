//! One optimiser step (forward, backward, global-norm clip, AdamW) of the default `small`
//! model at batch 16 × 128 tokens.
//!
//! Run it with the test profile over the whole workspace, so that the dependencies keep the
//! feature set `cargo test --workspace` already compiled (`cargo bench`, or any build that
//! selects fewer targets, unifies criterion's features differently and rebuilds Burn); libtest
//! binaries given `--bench` run no tests, criterion runs the benches matching the filter:
//!
//!     cargo test --workspace --all-targets -- --bench train_step
//!     KILN_BENCH_DEVICES=flex,ndarray,wgpu cargo test --workspace --all-targets -- --bench train_step

use std::hint::black_box;

use burn::tensor::{Distribution, Int, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_model::TransformerConfig;
use kiln_model::loss::cross_entropy;
use kiln_trainer::TrainConfig;
use kiln_trainer::clip::clip_global_norm;

fn train_step(c: &mut Criterion) {
    let model_config = TransformerConfig::preset("small").unwrap();
    let train = TrainConfig::new();
    let (batch, seq) = (train.batch_size, train.seq_len);
    let mut group = c.benchmark_group("train_step/small");
    group
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(30))
        .throughput(Throughput::Elements((batch * seq) as u64));
    for (name, base) in kiln_benches::bench_devices() {
        let device = base.autodiff();
        device.seed(0);
        let mut model = Some(model_config.init(&device));
        let mut optim = burn::optim::AdamWConfig::new().init();
        let vocab = model_config.vocab_size as f64;
        let tokens =
            Tensor::<2, Int>::random([batch, seq + 1], Distribution::Uniform(0.0, vocab), &device);
        let (inputs, targets) = (
            tokens.clone().slice_dim(1, 0..seq),
            tokens.slice_dim(1, 1..seq + 1),
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                let m = model.take().unwrap();
                let loss = cross_entropy(m.forward(inputs.clone()), targets.clone());
                let mut grads =
                    burn::optim::GradientsParams::from_grads(loss.clone().backward(), &m);
                clip_global_norm(&m, &mut grads, 1.0);
                model = Some(optim.step(1e-3, m, grads));
                black_box(loss.into_scalar::<f32>())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
