//! Gradient clipping by the global L2 norm over all parameters (Pascanu et al. 2013, §3.2; as
//! PyTorch's `clip_grad_norm_`). Burn's own `GradientClipping::Norm` clips each tensor by its
//! own norm, which changes the update's direction; the global version only scales it.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Global L2 norm of `grads`; when above `max_norm > 0`, every gradient is scaled by
/// `max_norm / norm`. Returns the norm before clipping.
pub fn clip_global_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut sum = SquaredSum { grads, total: None };
    model.visit(&mut sum);
    let norm = sum
        .total
        .map_or(0.0, |t| t.into_scalar::<f32>() as f64)
        .sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let factor = (max_norm / (norm + 1e-6)) as f32;
        model.visit(&mut Scale { grads, factor });
    }
    norm
}

struct SquaredSum<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredSum<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f32,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::Device;

    #[test]
    fn scales_all_gradients_by_one_factor() {
        let device = Device::flex().autodiff();
        let layer = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::ones([4, 3], &device);
        let loss = layer.forward(x).sum().mul_scalar(10.0);
        let mut grads = GradientsParams::from_grads(loss.backward(), &layer);
        let w = grads.get::<2>(layer.weight.id).unwrap();
        let b = grads.get::<1>(layer.bias.as_ref().unwrap().id).unwrap();
        let norm0 = (w.clone().square().sum() + b.clone().square().sum())
            .into_scalar::<f32>()
            .sqrt();
        let norm = clip_global_norm(&layer, &mut grads, 1.0);
        assert!((norm as f32 - norm0).abs() < 1e-3);
        let w2 = grads.get::<2>(layer.weight.id).unwrap();
        let b2 = grads.get::<1>(layer.bias.as_ref().unwrap().id).unwrap();
        let after = (w2.clone().square().sum() + b2.square().sum())
            .into_scalar::<f32>()
            .sqrt();
        assert!((after - 1.0).abs() < 1e-4, "{after}");
        let ratio: Vec<f32> = (w2 / w).into_data().try_into_vec_as().unwrap();
        assert!(ratio.iter().all(|r| (r - ratio[0]).abs() < 1e-5));
    }
}
