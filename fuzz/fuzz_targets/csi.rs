#![no_main]
//! Capability and Security Information documents (EN 319 532-4) are fetched from peers: reading
//! one and judging it never panics, and the equivalence of Tables C.9/C.12 is reflexive: a
//! document that has every presence-only field (`ERDSId`, `ERDSDomain`, `ERDSGoverningBody`, a
//! readable `TLSCertificate`) is equivalent to itself.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(csi) = ponte::rem::csi::parse(data) {
        let _ = ponte::rem::csi::verify::baseline_deviations(&csi);
        let e = &csi.erds;
        let complete = !e.id.is_empty()
            && !e.domain.is_empty()
            && !e.governing_body.is_empty()
            && csi.security.tls_certificate.is_ok();
        let d = ponte::rem::csi::equivalence(&csi, &csi);
        if complete {
            assert!(d.is_empty(), "a complete CSI document differs from itself: {d:?}");
        }
    }
});
