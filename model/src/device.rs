//! Opening the wgpu device once per process, with an error (not a panic) where no adapter
//! exists.

use std::sync::OnceLock;

use burn::tensor::Device;

/// The process's wgpu device and what it runs on.
pub struct WgpuAdapter {
    pub device: Device,
    /// The adapter's name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// A software renderer (Mesa's lavapipe) rather than a GPU.
    pub software: bool,
    /// One line for the user.
    pub description: String,
}

/// The default wgpu adapter. Burn's wgpu runtime initialises once per process, so the answer
/// (device or error) is kept.
pub fn wgpu() -> Result<&'static WgpuAdapter, String> {
    static WGPU: OnceLock<Result<WgpuAdapter, String>> = OnceLock::new();
    WGPU.get_or_init(|| {
        let (device, setup) = Device::wgpu_options().init_with_setup().map_err(|e| {
            format!(
                "no usable wgpu adapter ({e}); on Linux without a GPU, install Mesa's software Vulkan \
                 driver (Debian: mesa-vulkan-drivers)"
            )
        })?;
        let info = setup.adapter.get_info();
        let software = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
        let description = format!("wgpu: {} ({:?}, {:?})", info.name, info.backend, info.device_type);
        Ok(WgpuAdapter { device, name: info.name, software, description })
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The devices the numerical tests run on: every backend `--device` offers (flex, ndarray,
/// wgpu), so each is tested with the same reference values (forward, import, generation,
/// training). Panics when wgpu has no adapter, so a CI machine without one fails instead of
/// silently skipping.
pub fn test_devices() -> Vec<(&'static str, Device)> {
    let wgpu = wgpu().unwrap_or_else(|e| panic!("the wgpu tests need an adapter: {e}"));
    #[allow(deprecated)] // ndarray stays a supported backend in kiln
    let ndarray = Device::ndarray();
    vec![
        ("flex", Device::flex()),
        ("ndarray", ndarray),
        ("wgpu", wgpu.device.clone()),
    ]
}
