//! End-to-end tests: xades.

mod common;
