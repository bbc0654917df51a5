#![no_main]
//! daticert.xml reader on arbitrary bytes: must never panic; a document that reads must write
//! back to XML that reads to the same model.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(d) = ponte::pec::Daticert::parse(data) {
        let xml = d.to_xml();
        match ponte::pec::Daticert::parse(&xml) {
            Ok(again) => assert_eq!(again, d, "round trip changed the model"),
            Err(e) => panic!("written daticert unreadable: {e}"),
        }
    }
});
