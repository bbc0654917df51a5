//! End-to-end tests: pec.

mod common;
