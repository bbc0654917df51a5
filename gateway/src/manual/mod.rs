//! The manual, as a doc module (`cargo doc --open`, then `ponte::manual`): how Ponte is meant
//! to be used and why it behaves as it does. One chapter per concern.

pub mod architecture;
pub mod config;
pub mod index;
pub mod ops;
pub mod pec;
pub mod rem;
pub mod service;
pub mod translate;
pub mod trust;
pub mod tsp;
pub mod xades;
pub mod xml;
