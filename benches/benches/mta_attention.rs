//! Forward and backward of one attention layer, standard against Multi-Token Attention with
//! every part of the paper's "880M" recipe (pre- and post-softmax key-query convolutions
//! c_q = 6 × c_k = 11, full head mixing before and after the softmax, group norm and gating),
//! at sequence lengths 256, 512 and 1024; dim 512, 8 heads, batch 1.
//!
//!     KILN_BENCH_DEVICES=flex cargo bench --workspace --bench mta_attention

use std::hint::black_box;

use burn::tensor::{Distribution, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kiln_model::attention::AttentionConfig;
use kiln_model::mta::MtaConfig;
use kiln_model::rope::RotaryEmbedding;

const D_MODEL: usize = 512;
const HEADS: usize = 8;

fn mta_config() -> MtaConfig {
    MtaConfig {
        query_kernel_size: Some(6),
        key_kernel_size: Some(11),
        after_sm_query_kernel_size: Some(6),
        after_sm_key_kernel_size: Some(11),
        pre_sm_linear_head: true,
        head_kernel_size: Some(HEADS),
        group_norm: true,
        add_gating: true,
        ..MtaConfig::default()
    }
}

fn mta_attention(c: &mut Criterion) {
    let mut group = c.benchmark_group("mta_attention");
    group.sample_size(10);
    for (name, base) in kiln_benches::bench_devices() {
        let device = base.autodiff();
        device.seed(0);
        let standard = AttentionConfig::new(D_MODEL, HEADS, HEADS).init(&device);
        let mut mta = standard.clone();
        mta.mta = mta_config().init_layer(2, HEADS, D_MODEL / HEADS, 0.02, &device);
        for seq in [256, 512, 1024] {
            group.throughput(Throughput::Elements(seq as u64));
            let rope = RotaryEmbedding::new(D_MODEL / HEADS, 0..seq, 1e4, &device);
            let x = Tensor::<3>::random([1, seq, D_MODEL], Distribution::Default, &device)
                .require_grad();
            for (kind, layer) in [("standard", &standard), ("mta", &mta)] {
                let id = BenchmarkId::new(format!("{name}/{kind}"), seq);
                group.bench_function(id, |b| {
                    b.iter(|| {
                        let out = layer.forward(x.clone(), &rope, None);
                        let grads = out.sum().backward();
                        black_box(x.grad(&grads).map(|g| g.dims()))
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, mta_attention);
criterion_main!(benches);
