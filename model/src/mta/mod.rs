//! Multi-Token Attention (Golovneva, Wang, Weston & Sukhbaatar 2025, arXiv 2504.00927):
//! attention weights that depend on several queries, keys and heads at once, through
//! convolutions over the (query, key) score maps and mixing across heads.
//!
//! Every kernel starts as the identity, so a fresh MTA layer computes standard attention.
//! The convolutions run as one depthwise `conv2d` over all heads' score maps (on the flex CPU
//! backend as one operation of its own with a hand-written backward pass that skips the
//! masked triangle) and the head mixing as one batched matmul: no per-position or per-group
//! loops.

pub mod causal_conv;
pub mod causal_conv_op;
pub mod config;
pub mod head_mix;
pub mod head_norm;
pub mod key_query_conv;
pub mod layer;

pub use config::MtaConfig;
pub use layer::Mta;
