//! Plain-Rust CPU kernels for inference, over `f32` slices with rayon: the vector kernels, the
//! row-major [`RowLinear`] that decoding uses instead of Burn's general matrix product, and
//! the installers that give a model's layers their CPU copies.

mod kernels;
mod row_linear;
mod rows;

pub use kernels::{axpy, dot, dot4};
pub use row_linear::{MAX_TOKENS, RowLinear};
pub use rows::{axpy4, axpy4_portable, rows4, rows4_at, rows4_portable};
