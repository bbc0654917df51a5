//! End-to-end tests: evidence.

mod common;
