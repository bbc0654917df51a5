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
