//! Shared set-up of kiln's criterion benches (`benches/`); peer comparisons against PyTorch
//! and NumPy live in `peers/` and report to `BENCHMARKS.md`.

use burn::tensor::Device;

/// The devices a bench runs on, from `KILN_BENCH_DEVICES` (comma-separated: flex, ndarray,
/// wgpu; default flex,ndarray).
pub fn bench_devices() -> Vec<(String, Device)> {
    let names = std::env::var("KILN_BENCH_DEVICES").unwrap_or_else(|_| "flex,ndarray".into());
    names
        .split(',')
        .map(|name| {
            #[allow(deprecated)] // ndarray stays a supported backend in kiln
            let device = match name {
                "flex" => Device::flex(),
                "ndarray" => Device::ndarray(),
                "wgpu" => kiln_model::device::wgpu()
                    .expect("a wgpu adapter")
                    .device
                    .clone(),
                other => panic!("unknown bench device {other}"),
            };
            (name.to_owned(), device)
        })
        .collect()
}
