//! Plain-Rust CPU kernels for inference, over `f32` slices with rayon: the vector kernels, the
//! four-row kernels, and the row-major [`RowLinear`] that decoding uses instead of Burn's
//! general matrix product (installed by
//! [`Transformer::with_cpu_projections`](crate::Transformer::with_cpu_projections)).

mod kernels;
mod row_linear;
mod rows;

pub use kernels::{axpy, dot, dot4};
pub(crate) use row_linear::TASK_WEIGHTS;
pub use row_linear::{MAX_TOKENS, RowLinear};
pub use rows::{axpy4, rows4, rows4_at};
