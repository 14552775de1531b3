//! Metadata builder.
