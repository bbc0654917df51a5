//! The manual, as a doc module: how Ponte is meant to be used and why it behaves as it does.
//!
//! Chapters are added as capabilities land.

pub mod index;
