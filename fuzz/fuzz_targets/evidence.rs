#![no_main]
//! The evidence parser and writer never panic: whatever parses is written back with the same
//! content, and writing reaches a fixed point after one pass.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(ev) = ponte::rem::evidence::parse(data) {
        let _ = ev.summary();
        if let Ok(xml) = ev.to_xml() {
            match ponte::rem::evidence::parse(xml.as_bytes()) {
                Ok(again) => {
                    assert_eq!(again.summary(), ev.summary(), "round trip changed the content");
                    // Verbatim fragments may gain declarations once; then writing is stable.
                    let xml2 = again.to_xml().expect("a parsed evidence writes");
                    let third = ponte::rem::evidence::parse(xml2.as_bytes()).expect("re-parse");
                    assert_eq!(third, again, "second round trip changed the model");
                }
                Err(e) => panic!("written evidence does not parse: {e}"),
            }
        }
        let _ = ev.to_unsigned_xml();
    }
});
