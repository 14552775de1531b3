//! Learning-rate schedule: linear warm-up, then cosine decay (Loshchilov & Hutter 2017, SGDR
//! eq. 5, one cycle) to a floor.

use crate::config::TrainConfig;

/// Learning rate of the update made at `step` (0-based).
pub fn learning_rate(config: &TrainConfig, step: usize) -> f64 {
    let peak = config.learning_rate;
    if step < config.warmup_steps {
        return peak * (step + 1) as f64 / config.warmup_steps as f64;
    }
    let floor = peak * config.min_lr_ratio;
    let span = config.steps.saturating_sub(config.warmup_steps).max(1) as f64;
    let progress = ((step - config.warmup_steps) as f64 / span).min(1.0);
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_the_floor() {
        let c = TrainConfig::new()
            .with_steps(110)
            .with_warmup_steps(10)
            .with_learning_rate(1.0)
            .with_min_lr_ratio(0.1);
        assert!((learning_rate(&c, 0) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&c, 9) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&c, 10) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&c, 60) - 0.55).abs() < 1e-12);
        assert!((learning_rate(&c, 110) - 0.1).abs() < 1e-12);
        let lrs: Vec<f64> = (10..110).map(|s| learning_rate(&c, s)).collect();
        assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
    }
}
