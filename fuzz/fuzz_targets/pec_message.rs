#![no_main]
//! Classifier and message reader on arbitrary bytes: must never panic; whatever parses must
//! answer every accessor, a daticert read must write back readable, and postacert.eml must be
//! readable recursively (bounded by `ponte::pec::parse::MAX_NESTING`).

fn walk(m: &ponte::pec::PecMessage<'_>) {
    let _ = (m.kind().name(), m.message_id(), m.subject(), m.signed_entity(), m.daticert_agrees());
    if let Some(d) = m.daticert() {
        let again = ponte::pec::Daticert::parse(&d.to_xml());
        assert!(again.is_ok(), "written daticert unreadable: {again:?}");
    }
    if let Some(Ok(inner)) = m.postacert() {
        walk(&inner);
    }
}

#[path = "waiver.rs"]
mod waiver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    waiver::install();
    let _ = ponte::pec::classify(data);
    if let Ok(m) = ponte::pec::PecMessage::parse(data) {
        walk(&m);
    }
});
