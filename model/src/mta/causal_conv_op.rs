//! The causal key-query convolution as a Burn operation with its own backward pass, on the
//! flex CPU backend: forward and gradients run the kernels of [`super::causal_conv`] instead of
//! Burn's dense `conv2d`, whose input gradient on the CPU goes through a general transposed
//! convolution. Other backends keep the `conv2d` formulation (see
//! [`super::key_query_conv::KeyQueryConv::forward_causal`]).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::tensor::{Device, Tensor, TensorData};

use super::causal_conv::{self, ConvShape};

/// Backends with a native causal key-query convolution.
#[backend_extension(Flex: cfg(all()), Autodiff)]
pub trait CausalConvBackend: burn::backend::Backend {
    /// `M ⊙ conv(M ⊙ x)` with one kernel per head, where `M` hides key `c` from row `r` when
    /// `c > r + first`.
    ///
    /// # Shapes
    /// - `x`: `[batch, heads, rows, keys]`
    /// - `kernel`: `[heads, 1, c_q, c_k]`
    /// - output: same as `x`
    fn causal_key_query_conv(
        x: FloatTensor<Self>,
        kernel: FloatTensor<Self>,
        first: usize,
    ) -> FloatTensor<Self>;
}

/// Whether [`causal_key_query_conv`] runs natively on this device.
pub fn supported(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// The operation on Burn tensors; see [`CausalConvBackend::causal_key_query_conv`].
pub fn causal_key_query_conv(x: Tensor<4>, kernel: Tensor<4>, first: usize) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CausalConvBackend>::causal_key_query_conv(
        x.into_dispatch(),
        kernel.into_dispatch(),
        first,
    ))
}

/// The sizes of a call, from the map and kernel shapes.
fn conv_shape(x: &FlexTensor, kernel: &FlexTensor, first: usize) -> ConvShape {
    let [batch, heads, rows, keys] = dims4(x);
    let [kernel_heads, _, query_kernel, key_kernel] = dims4(kernel);
    assert_eq!(heads, kernel_heads, "one key-query kernel per head");
    ConvShape {
        maps: batch * heads,
        heads,
        rows,
        keys,
        query_kernel,
        key_kernel,
        first,
    }
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let shape = t.layout().shape();
    assert_eq!(
        shape.num_dims(),
        4,
        "key-query convolution expects 4-D tensors"
    );
    [shape[0], shape[1], shape[2], shape[3]]
}

/// A contiguous `f32` copy of the values (no copy when already contiguous).
fn values(t: &FlexTensor) -> FlexTensor {
    let t = t.to_contiguous();
    assert!(
        t.as_slice::<f32>().is_some(),
        "the causal key-query convolution runs on f32 tensors"
    );
    t
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32")
}

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

impl CausalConvBackend for Flex {
    fn causal_key_query_conv(x: FlexTensor, kernel: FlexTensor, first: usize) -> FlexTensor {
        let shape = conv_shape(&x, &kernel, first);
        let (x, kernel) = (values(&x), values(&kernel));
        tensor(
            causal_conv::forward(slice(&x), slice(&kernel), shape),
            dims4(&x),
        )
    }
}

/// The backward step: both gradients from the saved input and kernel.
#[derive(Debug)]
struct CausalConvBackward;

impl Backward<Flex, 2> for CausalConvBackward {
    /// The input map, the kernel and `first`.
    type State = (FlexTensor, FlexTensor, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_kernel] = ops.parents;
        let grad = values(&grads.consume::<Flex>(&ops.node));
        let (x, kernel, first) = ops.state;
        let shape = conv_shape(&x, &kernel, first);
        if let Some(node) = node_x {
            let dx = causal_conv::input_grad(slice(&grad), slice(&kernel), shape);
            grads.register::<Flex>(node.id, tensor(dx, dims4(&x)));
        }
        if let Some(node) = node_kernel {
            let dk = causal_conv::kernel_grad(slice(&x), slice(&grad), shape);
            grads.register::<Flex>(node.id, tensor(dk, dims4(&kernel)));
        }
    }
}

impl<C: CheckpointStrategy> CausalConvBackend for Autodiff<Flex, C> {
    fn causal_key_query_conv(
        x: FloatTensor<Self>,
        kernel: FloatTensor<Self>,
        first: usize,
    ) -> FloatTensor<Self> {
        match CausalConvBackward
            .prepare::<C>([x.node(), kernel.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, kernel) = (values(x.primitive()), values(kernel.primitive()));
                let output = Flex::causal_key_query_conv(x.clone(), kernel.clone(), first);
                prep.finish((x, kernel, first), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::causal_key_query_conv(
                x.into_primitive(),
                kernel.into_primitive(),
                first,
            )),
        }
    }
}
