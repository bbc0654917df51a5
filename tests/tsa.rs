//! End-to-end tests: tsa.

mod common;
