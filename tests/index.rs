//! End-to-end tests: index.

mod common;
