//! The operator console's texts, one table per language like the other pages'.

pub mod en;
pub mod ru;
pub mod sr;
