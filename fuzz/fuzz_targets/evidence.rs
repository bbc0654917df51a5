#![no_main]
//! The evidence parser and writer never panic: whatever parses is written back, and what is
//! written parses again into an equal model.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = ponte::rem::evidence::parse(data) {
        let _ = ev.summary();
        if let Ok(xml) = ev.to_xml() {
            match ponte::rem::evidence::parse(xml.as_bytes()) {
                Ok(again) => assert_eq!(again, ev, "round trip changed the model"),
                Err(e) => panic!("written evidence does not parse: {e}"),
            }
        }
        let _ = ev.to_unsigned_xml();
    }
});
