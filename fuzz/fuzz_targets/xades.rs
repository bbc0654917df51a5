//! Verifying arbitrary bytes as a XAdES evidence signature never panics. Whatever verifies
//! hands out signed content that reads back as XML. Seed with the kit's evidences:
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run xades NEW_CORPUS ../../shared/corpus/rem/agid-policy-it/standalone-evidence
#![no_main]

use ponte::xades::{At, VerifyOptions, verify};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let opts = VerifyOptions {
        anchors: Vec::new(),
        intermediates: Vec::new(),
        tsa_anchors: Vec::new(),
        at: At::SigningTime,
    };
    let Ok(report) = verify(data, &opts) else {
        return;
    };
    if report.signature.valid() {
        let content = report.signed_content();
        assert!(content.is_some(), "a valid signature hands out its signed content");
        if let Some(c) = content {
            assert!(ponte::xml::parse(c).is_ok(), "signed content reads back as XML");
        }
    }
});
