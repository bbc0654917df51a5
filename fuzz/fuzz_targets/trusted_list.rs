#![no_main]
//! Trusted lists come from URLs named in other lists (TS 119 612): hostile bytes. Reading and
//! judging one never panics; an unsigned list is never judged verified, and a list judged
//! without any key to check it against is never verified either.
use ponte::tl::ListTrust;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match ponte::tl::verify::judge(data, &[], "fuzz", true) {
        Ok(j) => {
            assert!(
                !matches!(j.trust, ListTrust::Verified { .. }),
                "a list judged against no key came out verified"
            );
            let _ = j.list.tsl_type.is_list_of_lists();
            for s in j.list.providers.iter().flat_map(|p| &p.services) {
                let _ = s.timeline();
                let _ = s.smtp_hosts();
                let _ = s.http_supply_points();
            }
        }
        Err(_) => {}
    }
    // Not allowing unsigned lists: an unsigned one must be refused.
    if let Ok(j) = ponte::tl::verify::judge(data, &[], "fuzz", false) {
        assert!(!matches!(j.trust, ListTrust::NotVerified(_)), "an unverified list was accepted");
    }
});
