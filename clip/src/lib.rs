pub mod curation;
