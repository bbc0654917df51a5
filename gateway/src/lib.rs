//! Ponte: a gateway between Italian certified mail (PEC) and European Registered
//! Electronic Mail (REM, ETSI EN 319 532 / EN 319 522).
//!
//! The crate is layered (see `manual::architecture`): a layer uses the ones below it,
//! never the ones above.
//!
//! ```text
//!                 cli   (verify, pec, evidence, tsa, index, trust, mappings, config, translate,
//!                  |     serve, submit, queue, conformance)
//!      service   (smtp in, spool, process, delivery, timers, ops API, tsa listener, --dev)
//!                  |                                          ponte-conformance (its own crate:
//!              translate   (pec -> rem, rem -> pec,            cases, subjects, reports)
//!                  |        notices, correlation)  <- mappings/ (data)
//!       +--------+-+------+--------+-----------+
//!      pec      rem     index   holders   discovery           formats, directories, peers
//!       |      / | \      |                  |
//!     mime  xml tsp csi  x509    tl, revocation, fetch        bytes, C14N + XAdES, RFC 3161,
//!       \     |   /                                          chains, trusted lists, the
//!          crypto / cms   (ring; PKCS#8 and PKCS#11 keys)     network edge (HTTP, DNS)
//! ```
//!
//! Verification returns verdicts as values; `Err` is for input that cannot be read at all.
#![forbid(unsafe_code)]

pub mod cms;
pub mod config;
pub mod correlate;
pub mod crypto;
pub mod discovery;
pub mod error;
pub mod fetch;
pub mod holders;
pub mod index;
pub mod manual;
pub mod mappings;
pub mod mime;
pub mod pec;
pub mod rem;
pub mod revocation;
pub mod service;
pub mod smime;
pub mod tl;
pub mod translate;
pub mod tsp;
pub mod x509;
pub mod xades;
pub mod xml;

pub use error::Error;
