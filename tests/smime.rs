//! End-to-end tests: smime.

mod common;
