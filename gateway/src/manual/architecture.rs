//! # Architecture: layers, and which way they lean
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
//! A module uses the ones below it, never the ones above, never sideways across. The
//! service layer owns every side effect of a running gateway (sockets, the spool, the clock,
//! timers); `fetch` is the one network edge the layers below may be handed (lists, CRLs,
//! OCSP, DNS), always as a parameter. The `config` module reads the file for both the
//! translation and the service layers and opens the index (config → index).
//!
//! ## Principles
//!
//! * **Data in, values out.** Parsers return typed models; verifiers return verdicts
//!   (integrity, trust, time-stamp) as values carrying their reasons. An [`Err`](crate::Error)
//!   means the input could not be read at all.
//! * **Signed bytes are sacred.** Whatever is signed or digested is kept as the exact bytes
//!   received, never re-serialized. Models are for reading; bytes are for proving.
//! * **Wire values are open enums.** `X-Ricevuta`, daticert `tipo`/`errore`, REM event and
//!   reason URIs keep unknown values instead of failing.
//! * **Time is a parameter.** Every verifier takes the instant to judge at (now, the signing
//!   time, a fixed instant in test vectors). Nothing reads the clock deep inside.
//! * **No OpenSSL inside.** ring does every digest and signature; `openssl`, `xmllint` and
//!   `xmlsec1` are independent oracles in the tests, never dependencies of the product.
//! * **Side effects at the edge.** The network, the disk and the clock belong to the command
//!   and service layers, so that the format layers run unchanged inside fuzzers and the
//!   conformance runner.
