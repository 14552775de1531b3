//! `--device auto|cpu|flex|ndarray|wgpu`: choosing the Burn backend at run time.

use anyhow::{Result, anyhow};
use burn::tensor::Device;
use clap::ValueEnum;
use kiln_model::device::wgpu;

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// A hardware GPU through wgpu if there is one, else `cpu`.
    Auto,
    /// The fastest CPU backend (flex).
    Cpu,
    /// Burn's pure-Rust flex backend.
    Flex,
    /// Burn's ndarray backend.
    Ndarray,
    /// The first wgpu adapter (Vulkan, Metal, DX12; Mesa's lavapipe on a machine without GPU).
    Wgpu,
}

/// A device and a one-line description of it for the user.
pub struct Selected {
    pub device: Device,
    pub description: String,
    /// A CPU backend (flex or ndarray), where inference can use kiln's own CPU kernels.
    pub is_cpu: bool,
}

impl DeviceChoice {
    /// Opens the device; `--device wgpu` without an adapter is an error, not a panic.
    pub fn open(self) -> Result<Selected> {
        match self {
            DeviceChoice::Cpu | DeviceChoice::Flex => Ok(cpu()),
            #[allow(deprecated)] // ndarray is deprecated upstream but still a supported backend
            DeviceChoice::Ndarray => Ok(Selected {
                device: Device::ndarray(),
                description: "ndarray (CPU)".into(),
                is_cpu: true,
            }),
            DeviceChoice::Wgpu => {
                let wgpu = wgpu().map_err(|e| anyhow!("--device wgpu: {e}"))?;
                Ok(Selected {
                    device: wgpu.device.clone(),
                    description: wgpu.description.clone(),
                    is_cpu: false,
                })
            }
            DeviceChoice::Auto => match wgpu() {
                Ok(w) if !w.software => Ok(Selected {
                    device: w.device.clone(),
                    description: w.description.clone(),
                    is_cpu: false,
                }),
                Ok(w) => {
                    let mut s = cpu();
                    s.description = format!(
                        "{} (auto: the only wgpu adapter, {}, is a software renderer)",
                        s.description, w.name
                    );
                    Ok(s)
                }
                Err(_) => {
                    let mut s = cpu();
                    s.description.push_str(" (auto: no wgpu adapter)");
                    Ok(s)
                }
            },
        }
    }
}

fn cpu() -> Selected {
    Selected {
        device: Device::flex(),
        description: "flex (CPU)".into(),
        is_cpu: true,
    }
}
