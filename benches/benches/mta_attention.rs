//! Forward and backward of one attention layer, standard against Multi-Token Attention with
//! every part of the paper's "880M" recipe (pre- and post-softmax key-query convolutions
//! c_q = 6 × c_k = 11, full head mixing before and after the softmax, group norm and gating),
//! at sequence lengths 256, 512 and 1024; dim 512, 8 heads, batch 1.
//!
//! Before timing, each case runs once under a counting allocator and prints its peak heap
//! use above what was allocated before it (the CPU backends allocate through Rust's global
//! allocator), e.g. `peak mta_attention/flex/mta/512: 512.0 MiB`.
//!
//!     KILN_BENCH_DEVICES=flex cargo test --workspace --all-targets -- --bench mta_attention
//!
//! (not `cargo bench`, which builds another feature set of Burn: see BENCHMARKS.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::{Distribution, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kiln_model::attention::AttentionConfig;
use kiln_model::mta::MtaConfig;
use kiln_model::rope::RotaryEmbedding;

/// The system allocator, counting the bytes live now and the most live since the last reset.
struct PeakAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grown = new_size - layout.size();
                let live = LIVE.fetch_add(grown, Ordering::Relaxed) + grown;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// Peak heap bytes allocated by `f` beyond what was live when it started.
fn peak_bytes(f: impl FnOnce()) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - before
}

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
                let step = || {
                    let out = layer.forward(x.clone(), &rope, None);
                    let grads = out.sum().backward();
                    black_box(x.grad(&grads).map(|g| g.dims()))
                };
                let peak = peak_bytes(|| {
                    step();
                });
                println!(
                    "peak mta_attention/{name}/{kind}/{seq}: {:.1} MiB",
                    peak as f64 / (1 << 20) as f64
                );
                let id = BenchmarkId::new(format!("{name}/{kind}"), seq);
                group.bench_function(id, |b| b.iter(step));
            }
        }
    }
    group.finish();
}

criterion_group!(benches, mta_attention);
criterion_main!(benches);
