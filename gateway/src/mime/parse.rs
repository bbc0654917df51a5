//! The one door to the MIME parser (mail-parser). Every module reads messages through
//! [`message`], so that a failure of the parser on hostile input is an error value, never a
//! crash of the gateway.
//!
//! Why: fuzzing (`fuzz_targets/pec_message.rs`) found inputs on which mail-parser 0.11.9 trips a
//! `debug_assert!` ("Invalid part ID, could not find multipart", `parsers/message.rs`): a panic
//! in builds with debug assertions (tests, fuzzing), silently skipped in release builds. Either
//! way the parser reached a state its authors consider impossible, so the panic is caught here
//! and reported as [`Error::ParserFailure`].

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{Message, MessageParser};

use super::Error;

/// Parses a whole message. `None` from the parser (no header section) and a panic inside it
/// are both errors.
pub fn message(raw: &[u8]) -> Result<Message<'_>, Error> {
    match catch_unwind(AssertUnwindSafe(|| MessageParser::default().parse(raw))) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(Error::NotMime("no header section could be parsed".into())),
        Err(_) => Err(Error::ParserFailure),
    }
}

/// Parses the header section only.
pub fn headers(raw: &[u8]) -> Result<Message<'_>, Error> {
    match catch_unwind(AssertUnwindSafe(|| {
        MessageParser::default().parse_headers(raw)
    })) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(Error::NotMime("no header section could be parsed".into())),
        Err(_) => Err(Error::ParserFailure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 265-byte reduction of the input the `pec_message` fuzz target found: nested
    /// multiparts whose inner boundary line runs into a header. mail-parser 0.11.9 trips its
    /// debug assertion on it; here that must be an error, and the PEC reader must say
    /// "unreadable" instead of crashing.
    const FUZZ_PANIC: &[u8] = b"t\nContent-Type:multipart;boundary=046016A72F95A74A0B97F342908995\n\n--046016A72F95A74A0B97F342908995Content-Type:multipart;boundary==_1733353330-24820-178\n\n--=_1733353330-24820-178Content-Type:message/rfc822\n\n8\nContent-Type:message/rfc822\n\n\n--=_1733353330-24820-178--";

    #[test]
    fn a_parser_panic_is_an_error() {
        // Silence the default hook's message for the contained panic.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let outcome = message(FUZZ_PANIC).map(|_| ());
        let pec = crate::pec::PecMessage::parse(FUZZ_PANIC).map(|_| ());
        std::panic::set_hook(hook);
        if cfg!(debug_assertions) {
            assert!(matches!(outcome, Err(Error::ParserFailure)), "{outcome:?}");
            assert!(pec.is_err());
        } else {
            // Release builds skip the assertion: whatever comes back, nothing crashed.
            let _ = (outcome, pec);
        }
    }

    #[test]
    fn no_header_section_is_not_mime() {
        assert!(matches!(message(b""), Err(Error::NotMime(_))));
    }
}
