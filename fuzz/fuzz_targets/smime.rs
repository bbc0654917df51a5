#![no_main]
// Feeds arbitrary bytes to S/MIME verification (MIME location, LF canonicalisation, BER
// normalisation, CMS walking, signature checks): it must never panic, only return a verdict
// or an error.
#[path = "waiver.rs"]
mod waiver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    waiver::install();
    if let Ok(v) = ponte::smime::verify(data) {
        // A valid verdict always names its signer and its digest.
        if v.valid {
            assert!(v.signer.is_some() && v.digest.is_some());
        }
    }
    let _ = ponte::cms::parse(data);
});
