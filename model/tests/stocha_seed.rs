//! StochA's Bernoulli draw repeats when the device is seeded alike. A test binary of its own:
//! Burn's CPU backend has one generator per process, which tests running in parallel threads
//! would draw from in between.

use burn::tensor::{Device, Tensor, TensorData};
use kiln_model::{Activation, HiddenAct};

#[test]
fn stocha_repeats_with_the_seed() {
    let ad = Device::flex().autodiff();
    let act = Activation::new(HiddenAct::Stocha, 0.5);
    let x = Tensor::<2>::from_data(TensorData::new(vec![-1.0f32; 512], [4, 128]), &ad);
    let draw = |seed| -> Vec<f32> {
        ad.seed(seed);
        act.forward(x.clone())
            .inner()
            .into_data()
            .try_into_vec_as()
            .unwrap()
    };
    assert_eq!(draw(3), draw(3));
    assert_ne!(draw(3), draw(4));
}
