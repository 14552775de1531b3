//! kiln-clip: MetaCLIP 2 for kiln. So far the worldwide data curation of
//! [`curation`] (Chuang et al., arXiv 2507.22062; MetaCLIP 1: Xu et al., arXiv 2309.16671);
//! the vision-text model, zero-shot classification and retrieval come next (DESIGN.md).
//!
//! The library never prints: it returns values and typed errors, and reports progress
//! through [`curation::Progress`]; the `kiln curate` command is the terminal side.

pub mod curation;
