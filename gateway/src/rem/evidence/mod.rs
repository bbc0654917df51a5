//! The ERDS evidence of EN 319 522-3 cl. 5, with the REM baseline extensions of
//! EN 319 532-4 Annex C and the Italian Policy-IT codes.
//!
//! * [`event`] and [`reason`]: the 19 events and every reason code, as open enums.
//! * [`model`]: the document as values ([`Evidence`]).
//! * [`parse()`]: bytes to model (namespace-aware, DOCTYPE refused, bounded by [`Limits`]).
//! * [`Evidence::to_xml`] ([`build`]): model to bytes, qualified exactly as the schema says.
//! * [`summary`]: the evidence-facing part of the `ponte evidence verify --json` output.

pub mod build;
pub mod event;
pub mod model;
pub mod parse;
pub mod reason;
pub mod summary;
mod tree;

pub use event::Event;
pub use model::*;
pub use parse::{parse, parse_with_limits};
pub use reason::{EventReason, Reason};
pub use summary::{EvidenceSummary, ReasonSummary};
pub use tree::Limits;

/// EN 319 522-3 namespace: `Evidence` and every globally declared element (`tns:` in the kit).
pub const NS_ERDS: &str = "http://uri.etsi.org/19522/v1#";
/// EN 319 532-4 REM baseline namespace: the evidence extensions (`ext:` in the kit).
pub const NS_REM: &str = "http://uri.etsi.org/19532/v1#";
/// XML Signature namespace (`ds:`).
pub const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// SAML 2.0 assertion namespace (`saml:`), for identity attributes.
pub const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// XML Schema instance namespace (`xsi:type` on attribute values).
pub const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// eIDAS legal person attributes (`elp:LegalNameType`).
pub const NS_ELP: &str = "http://eidas.europa.eu/attributes/legalperson";
/// eIDAS natural person attributes (`enp:PersonIdentifierType`).
pub const NS_ENP: &str = "http://eidas.europa.eu/attributes/naturalperson";
