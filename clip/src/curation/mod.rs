//! MetaCLIP 2 worldwide curation (Chuang et al., "Meta CLIP 2: A Worldwide Scaling Recipe",
//! arXiv 2507.22062, §3.1), which extends MetaCLIP 1 (Xu et al., "Demystifying CLIP Data",
//! arXiv 2309.16671, §3) to every language.
//!
//! The pipeline, stage by stage, with the reference function each piece mirrors
//! (facebookresearch/MetaCLIP, `metaclip/curation/`):
//!
//! | stage | kiln | reference |
//! |---|---|---|
//! | metadata per language | [`Metadata`], [`build`] | `metadata/build_metadata.py` |
//! | normalisation | [`normalise`] | `substr_matching.py:spacing` |
//! | matching | [`Matcher`] | `get_spaced_metadata`, `initialize_automaton`, `substr_match` |
//! | counting per shard | [`count`], [`Counts`] | `curate.py:count_per_shard` |
//! | merging shards | [`merge_files`] | `curate.py:global_count` (the sum) |
//! | thresholds | [`Thresholds`], [`t_to_p`], [`p_to_t`] | `global_count`, `t_to_p`, `p_to_t` |
//! | probabilities | [`Probabilities`], [`count_to_prob`] | `count_to_prob` |
//! | sampling | [`sample()`], [`Sampler`], [`OnlineCuration`] | `curate`, `data_metaclip_v2.py` |
//! | report | [`report`] | (the paper's entry-count figure) |

mod atomic;
mod balance;
pub mod build;
mod counts;
mod error;
mod input;
pub mod lang;
mod matcher;
mod memory;
mod metadata;
pub mod normalise;
mod pipeline;
mod record;
pub mod report;
mod rng;
mod sample;
pub mod script;
mod simd16;
mod unpadded;
mod words;

pub use atomic::AtomicFile;
pub use balance::{
    Probabilities, T_EN_METACLIP1, T_EN_METACLIP2, Thresholds, count_to_prob, p_to_t, t_to_p,
};
pub use counts::{CountLine, Counts, CountsReader, merge_files, write_lines};
pub use error::{Error, Result};
pub use input::open as open_input;
pub use matcher::{
    LanguageMatcher, Matcher, OTHER, Resolved, TextBatch, can_ever_match, spaced_entry,
};
pub use metadata::{LanguageMetadata, MAX_ENTRY_CHARS, Metadata};
pub use pipeline::{LineStats, NoProgress, Options, Progress, SampleStats, count, sample};
pub use record::{Malformed, Record, parse_line};
pub use rng::Key;
pub use sample::{Image, Matched, OnlineCuration, Rule, Sampler};
pub use words::WordIndex;
