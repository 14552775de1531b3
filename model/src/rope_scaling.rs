//! RoPE frequencies, plain (RoFormer, Su et al. 2021, eq. 15: θ_i = base^(−2i/d)) or rescaled
//! for long contexts as in Llama 3.1 (Meta 2024, "The Llama 3 Herd of Models"; HF
//! `rope_scaling` with `rope_type: "llama3"`): low frequencies are divided by `factor`, high
//! ones kept, and the band between is interpolated smoothly.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// The `rope_scaling` entry of a Hugging Face config. Only `rope_type: "llama3"` is supported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeScaling {
    /// Always `"llama3"`.
    pub rope_type: String,
    /// How much longer the new context is than `original_max_position_embeddings`.
    pub factor: f64,
    /// Wavelengths above `original / low_freq_factor` are divided by `factor`.
    pub low_freq_factor: f64,
    /// Wavelengths below `original / high_freq_factor` are kept.
    pub high_freq_factor: f64,
    /// The context length the model was first trained for.
    pub original_max_position_embeddings: usize,
}

impl RopeScaling {
    /// Checks the type and that the band is well defined.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.rope_type != "llama3" {
            return Err(ModelError::InvalidConfig(format!(
                "rope_scaling type '{}' is not supported (only 'llama3')",
                self.rope_type
            )));
        }
        if !(self.factor > 0.0
            && self.low_freq_factor > 0.0
            && self.high_freq_factor > self.low_freq_factor
            && self.original_max_position_embeddings > 0)
        {
            return Err(ModelError::InvalidConfig(format!(
                "rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0, got {self:?}"
            )));
        }
        Ok(())
    }

    /// Rescales the plain frequencies `inv_freq` (radians per position).
    pub fn apply(&self, inv_freq: &[f64]) -> Vec<f64> {
        let original = self.original_max_position_embeddings as f64;
        let low_wavelen = original / self.low_freq_factor;
        let high_wavelen = original / self.high_freq_factor;
        inv_freq
            .iter()
            .map(|&f| {
                let wavelen = 2.0 * std::f64::consts::PI / f;
                if wavelen < high_wavelen {
                    f
                } else if wavelen > low_wavelen {
                    f / self.factor
                } else {
                    let smooth = (original / wavelen - self.low_freq_factor)
                        / (self.high_freq_factor - self.low_freq_factor);
                    (1.0 - smooth) * f / self.factor + smooth * f
                }
            })
            .collect()
    }
}

/// The `head_dim / 2` rotation frequencies of RoPE with base `theta`, rescaled when `scaling`
/// is given.
pub fn rope_frequencies(head_dim: usize, theta: f64, scaling: Option<&RopeScaling>) -> Vec<f64> {
    let plain: Vec<f64> = (0..head_dim / 2)
        .map(|i| theta.powf(-2.0 * i as f64 / head_dim as f64))
        .collect();
    match scaling {
        Some(s) => s.apply(&plain),
        None => plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_keeps_high_and_divides_low_frequencies() {
        let s = RopeScaling {
            rope_type: "llama3".into(),
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 64,
        };
        s.validate().unwrap();
        let plain = rope_frequencies(16, 10000.0, None);
        let scaled = rope_frequencies(16, 10000.0, Some(&s));
        // Wavelength 2π < 64 / 4: kept; the last ones (wavelength ≫ 64): divided by 8.
        assert_eq!(scaled[0], plain[0]);
        assert!((scaled[7] - plain[7] / 8.0).abs() < 1e-15);
        // In between, the interpolation stays between the two.
        assert!(
            scaled
                .iter()
                .zip(&plain)
                .all(|(s, p)| *s <= *p && *s >= p / 8.0)
        );
        let bad = RopeScaling {
            rope_type: "yarn".into(),
            ..s
        };
        assert!(bad.validate().unwrap_err().to_string().contains("yarn"));
    }
}
