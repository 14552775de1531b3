//! The non-linearity of the gated feed-forward block: SILU, RELU, or the stochastic activation
//! StochA(p) of Lomeli et al. 2025 ("Stochastic activations", arXiv 2509.22358, Fig. 1).
//!
//! StochA, per element: `y = x` for `x ≥ 0`; for `x < 0`, `y = ω · SILU(x)` with
//! `ω ~ Bernoulli(p)`, so SILU with probability `p` and RELU (0) otherwise. It keeps a gradient
//! in RELU's flat region during training, and the model then runs as RELU at inference, where
//! most hidden units are exactly zero (the sparsity the CPU engine in [`crate::sparse`] skips).

use std::fmt;
use std::str::FromStr;

use burn::tensor::activation::{relu, silu};
use burn::tensor::{Distribution, Tensor};
use serde::{Deserialize, Serialize};

/// The activation a model is built with, as written in `config.json` (Hugging Face's
/// `hidden_act` key: Llama checkpoints say `"silu"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HiddenAct {
    /// `x·σ(x)`: the SwiGLU of Llama.
    #[default]
    Silu,
    /// `max(x, 0)`.
    Relu,
    /// StochA(p), `p` given by the config's `stocha_p`.
    Stocha,
}

impl FromStr for HiddenAct {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "silu" => Ok(Self::Silu),
            "relu" => Ok(Self::Relu),
            "stocha" => Ok(Self::Stocha),
            other => Err(format!(
                "unknown activation {other:?} (known: silu, relu, stocha)"
            )),
        }
    }
}

impl fmt::Display for HiddenAct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Silu => "silu",
            Self::Relu => "relu",
            Self::Stocha => "stocha",
        })
    }
}

/// The activation a model applies at run time. Unlike [`HiddenAct`] it changes during a run:
/// Swi+FT switches a SILU model to RELU for the last steps, and stochastic generation keeps
/// StochA's draw at inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Silu,
    Relu,
    /// StochA(p): stochastic on an autodiff device (training, like dropout) or everywhere when
    /// `at_inference`; RELU otherwise.
    Stocha {
        p: f64,
        at_inference: bool,
    },
}

impl Activation {
    /// The training-time activation of a config.
    pub fn new(hidden_act: HiddenAct, stocha_p: f64) -> Self {
        match hidden_act {
            HiddenAct::Silu => Self::Silu,
            HiddenAct::Relu => Self::Relu,
            HiddenAct::Stocha => Self::Stocha {
                p: stocha_p,
                at_inference: false,
            },
        }
    }

    /// Whether the output is exactly `max(x, 0)` off an autodiff device, so that inactive
    /// hidden units are exact zeros a sparse engine may skip.
    pub fn is_relu_at_inference(&self) -> bool {
        match self {
            Self::Relu => true,
            Self::Stocha { at_inference, .. } => !at_inference,
            Self::Silu => false,
        }
    }

    /// Applies the activation element-wise. StochA's Bernoulli draw comes from the device's
    /// seeded generator, so it repeats when the device is seeded alike.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match *self {
            Self::Silu => silu(x),
            Self::Relu => relu(x),
            Self::Stocha { p, at_inference } => {
                if at_inference || x.device().is_autodiff() {
                    stocha(x, p)
                } else {
                    relu(x)
                }
            }
        }
    }
}

/// StochA in branch-free form: `relu(x) + ω · silu(min(x, 0))`, with `silu(min(x, 0)) = 0` for
/// `x ≥ 0`, so the draw only matters for negative inputs and the gradient flows through
/// whichever branch was drawn.
fn stocha<const D: usize>(x: Tensor<D>, p: f64) -> Tensor<D> {
    let omega = x.random_like(Distribution::Bernoulli(p));
    relu(x.clone()) + omega * silu(x.clamp_max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec_as().unwrap()
    }

    #[test]
    fn stocha_picks_silu_on_negatives_with_probability_p() {
        let device = Device::flex().autodiff();
        device.seed(11);
        let x = Tensor::<2>::random([64, 256], Distribution::Normal(0.0, 1.0), &device);
        for p in [0.0, 0.3, 0.7, 1.0] {
            let act = Activation::new(HiddenAct::Stocha, p);
            let xs = values(x.clone().inner());
            let ys = values(act.forward(x.clone()).inner());
            let (mut negatives, mut silu_count) = (0usize, 0usize);
            for (&x, &y) in xs.iter().zip(&ys) {
                let s = x / (1.0 + (-x).exp());
                if x >= 0.0 {
                    assert_eq!(y, x);
                } else {
                    negatives += 1;
                    if y == 0.0 {
                        continue;
                    }
                    assert!((y - s).abs() < 1e-6, "x {x}: {y} is neither 0 nor silu {s}");
                    silu_count += 1;
                }
            }
            let frac = silu_count as f64 / negatives as f64;
            // ~8,000 negatives: the standard error of the fraction is below 0.006.
            assert!(
                (frac - p).abs() < 0.03,
                "p {p}: SILU on {frac} of negatives"
            );
        }
    }

    #[test]
    fn stocha_is_relu_off_autodiff_unless_kept_at_inference() {
        let act = Activation::new(HiddenAct::Stocha, 0.5);
        let plain = Tensor::<2>::from_data(
            TensorData::new(vec![-1.0f32; 512], [4, 128]),
            &Device::flex(),
        );
        assert!(values(act.forward(plain.clone())).iter().all(|&y| y == 0.0));
        let kept = Activation::Stocha {
            p: 1.0,
            at_inference: true,
        };
        let silu_of_minus_one = -1.0 / (1.0 + 1f32.exp());
        assert!(
            values(kept.forward(plain))
                .iter()
                .all(|&y| (y - silu_of_minus_one).abs() < 1e-6)
        );
    }

    #[test]
    fn gradients_flow_through_the_drawn_branch() {
        let device = Device::flex().autodiff();
        device.seed(5);
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![-2.0f32, -1.0, 0.5, 3.0], [1, 4]),
            &device,
        )
        .require_grad();
        // p = 1: always SILU on negatives, so every element has a non-zero gradient.
        let y = Activation::new(HiddenAct::Stocha, 1.0).forward(x.clone());
        let grads = y.sum().backward();
        let g: Vec<f32> = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        let silu_grad = |x: f32| {
            let s = 1.0 / (1.0 + (-x).exp());
            s * (1.0 + x * (1.0 - s))
        };
        for (got, want) in g.iter().zip([silu_grad(-2.0), silu_grad(-1.0), 1.0, 1.0]) {
            assert!((got - want).abs() < 1e-5, "gradient {got}, expected {want}");
        }
    }

    #[test]
    fn names_round_trip() {
        for act in [HiddenAct::Silu, HiddenAct::Relu, HiddenAct::Stocha] {
            assert_eq!(act.to_string().parse::<HiddenAct>().unwrap(), act);
            let json = serde_json::to_string(&act).unwrap();
            assert_eq!(json, format!("\"{act}\""));
        }
        assert!("gelu".parse::<HiddenAct>().is_err());
    }
}
