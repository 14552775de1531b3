//! Hyper-parameters of a language-model training run.

use burn::config::Config;
use kiln_model::{Activation, TransformerConfig};

/// Everything that decides how a run trains, saved in the run's `config.json` so it can be
/// repeated or resumed.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Optimiser updates to make.
    #[config(default = 400)]
    pub steps: usize,
    /// Sequences per micro-batch.
    #[config(default = 16)]
    pub batch_size: usize,
    /// Tokens per training sequence (the model sees `seq_len` inputs and predicts the next).
    #[config(default = 128)]
    pub seq_len: usize,
    /// Micro-batches whose gradients are summed into one update.
    #[config(default = 1)]
    pub grad_accum_steps: usize,
    /// Peak learning rate of AdamW (Loshchilov & Hutter 2019).
    #[config(default = 3e-3)]
    pub learning_rate: f64,
    /// The cosine decays to `learning_rate * min_lr_ratio`.
    #[config(default = 0.1)]
    pub min_lr_ratio: f64,
    /// Steps of linear warm-up from 0 to the peak.
    #[config(default = 40)]
    pub warmup_steps: usize,
    /// Decoupled weight decay of AdamW.
    #[config(default = 0.1)]
    pub weight_decay: f64,
    /// AdamW β₁.
    #[config(default = 0.9)]
    pub beta1: f64,
    /// AdamW β₂.
    #[config(default = 0.95)]
    pub beta2: f64,
    /// AdamW ε.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Gradients are rescaled so their global L2 norm is at most this (0: off).
    #[config(default = 1.0)]
    pub grad_clip: f64,
    /// Log a metrics record every this many steps.
    #[config(default = 10)]
    pub log_every: usize,
    /// Evaluate on held-out text every this many steps (and at the end).
    #[config(default = 100)]
    pub eval_every: usize,
    /// Held-out batches per evaluation (0: the whole held-out text).
    #[config(default = 0)]
    pub eval_batches: usize,
    /// Save a checkpoint every this many steps (and at the end).
    #[config(default = 100)]
    pub checkpoint_every: usize,
    /// Seed of the initialisation and of the data order.
    #[config(default = 42)]
    pub seed: u64,
    /// Swi+FT (Lomeli et al. 2025): the last fraction α of the steps train with RELU instead of
    /// the model's activation (0: never switch).
    #[config(default = 0.0)]
    pub relu_finetune: f64,
}

impl TrainConfig {
    /// Reads a JSON object of training settings: fields left out take their defaults, and an
    /// unknown field (a typo) is an error.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, String> {
        let mut merged = serde_json::to_value(Self::new()).expect("config serialises");
        let given = value
            .as_object()
            .ok_or("expected a JSON object of training settings")?;
        let defaults = merged.as_object_mut().expect("an object");
        for (key, v) in given {
            if !defaults.contains_key(key) {
                let known: Vec<&String> = defaults.keys().collect();
                return Err(format!(
                    "unknown training setting {key:?} (known: {known:?})"
                ));
            }
            defaults.insert(key.clone(), v.clone());
        }
        let config: Self = serde_json::from_value(merged).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values the loop relies on.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("steps", self.steps),
            ("batch_size", self.batch_size),
            ("seq_len", self.seq_len),
            ("grad_accum_steps", self.grad_accum_steps),
            ("log_every", self.log_every),
            ("eval_every", self.eval_every),
            ("checkpoint_every", self.checkpoint_every),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be positive"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "learning_rate must be positive, got {}",
                self.learning_rate
            ));
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return Err(format!(
                "min_lr_ratio must be in [0, 1], got {}",
                self.min_lr_ratio
            ));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return Err("beta1 and beta2 must be in [0, 1)".into());
        }
        if !(0.0..1.0).contains(&self.relu_finetune) {
            return Err(format!(
                "relu_finetune must be in [0, 1), got {}",
                self.relu_finetune
            ));
        }
        if self.grad_clip < 0.0 || self.weight_decay < 0.0 {
            return Err("grad_clip and weight_decay must not be negative".into());
        }
        Ok(())
    }

    /// The first update made with RELU under Swi+FT: `(1 − α)·steps`, rounded (`steps` when
    /// α = 0, i.e. never).
    pub fn relu_switch_step(&self) -> usize {
        ((1.0 - self.relu_finetune) * self.steps as f64).round() as usize
    }

    /// The activation of the update that follows `step` updates; after the last step
    /// (`step == steps`) it is the activation the trained model runs with at inference.
    pub fn activation_at(&self, model: &TransformerConfig, step: usize) -> Activation {
        if self.relu_finetune > 0.0 && step >= self.relu_switch_step() {
            Activation::Relu
        } else {
            Activation::new(model.hidden_act, model.stocha_p)
        }
    }

    /// Tokens consumed by one optimiser update.
    pub fn tokens_per_step(&self) -> usize {
        self.batch_size * self.seq_len * self.grad_accum_steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults_and_typos_are_errors() {
        let c = TrainConfig::from_value(&serde_json::json!({"steps": 7})).unwrap();
        assert_eq!(c, TrainConfig::new().with_steps(7));
        let err = TrainConfig::from_value(&serde_json::json!({"stepz": 7})).unwrap_err();
        assert!(err.contains("stepz"), "{err}");
        assert!(TrainConfig::from_value(&serde_json::json!({"steps": 0})).is_err());
        let alpha = serde_json::json!({"relu_finetune": 1.0});
        assert!(TrainConfig::from_value(&alpha).is_err());
    }

    #[test]
    fn swi_ft_switches_to_relu_for_the_last_fraction_of_steps() {
        let model = TransformerConfig::preset("tiny").unwrap();
        let c = TrainConfig::new().with_steps(200).with_relu_finetune(0.1);
        assert_eq!(c.relu_switch_step(), 180);
        assert_eq!(c.activation_at(&model, 179), Activation::Silu);
        assert_eq!(c.activation_at(&model, 180), Activation::Relu);
        assert_eq!(c.activation_at(&model, 200), Activation::Relu);
        let plain = TrainConfig::new().with_steps(200);
        assert_eq!(plain.activation_at(&model, 200), Activation::Silu);
    }
}
