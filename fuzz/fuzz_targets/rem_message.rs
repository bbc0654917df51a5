#![no_main]
//! REM message reader and verifier on arbitrary bytes, trust anchored at the AgID kit root
//! (read from the shared corpus at start: `$PONTE_CORPUS`, else `../../shared/corpus` beside
//! the checkout; without it the anchors are empty and only the untrusted paths run).
//!
//! Never panics; whatever parses gives back relay metadata that writes and reads back to
//! itself, section types that read back to themselves, and a verdict whose message is the
//! parse of the same bytes; a valid verdict has evidences and a digest that agrees.

use std::sync::OnceLock;

use ponte::rem::message::{self, RelayMetadata, SectionType};
use ponte::smime::TrustTime;
use ponte::x509::Certificate;

#[path = "waiver.rs"]
mod waiver;

fn anchors() -> &'static [Certificate] {
    static ANCHORS: OnceLock<Vec<Certificate>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        let corpus = std::env::var_os("PONTE_CORPUS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
            });
        let root = corpus.join("rem/agid-policy-it/certificates/REM-ROOT-CA.crt");
        std::fs::read(&root)
            .ok()
            .and_then(|pem| ponte::x509::load_pem(&pem).ok())
            .unwrap_or_default()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    waiver::install();
    let parsed = message::parse(data);
    if let Ok(m) = &parsed {
        let again = RelayMetadata::from_headers(&m.metadata.headers());
        assert_eq!(
            again.ok().as_ref(),
            Some(&m.metadata),
            "metadata round trip"
        );
        for x in &m.extensions {
            assert_eq!(
                SectionType::from_value(x.section_type.value()),
                x.section_type
            );
        }
        let _ = m.header("Subject");
    }
    if let Ok(v) = message::verify(data, anchors(), TrustTime::SigningTime) {
        let m = parsed.as_ref().expect("verify read what parse refused");
        assert_eq!(&v.message, m, "verify read another message than parse");
        if v.valid() {
            assert!(!v.evidences.is_empty() && v.smime.valid && v.trust.trusted);
            if let Some(r) = &v.digest.recomputed {
                assert_eq!(r, &v.digest.header_value);
            }
        }
    }
});
