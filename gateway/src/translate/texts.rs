//! The bilingual introduction of the REM messages Ponte writes (`mappings/intro.toml`), as
//! text/plain and text/html.

use time::OffsetDateTime;

use super::context::Context;
use crate::xml::escape;

/// The plain and HTML introduction for a REM message of type `message` (`dispatch`,
/// `receipt`, ...) about a message with `subject`, written at `at`. Italian first, then
/// English (Policy-IT). The HTML has no active content and no links.
pub fn introduction(
    cx: &Context,
    message: &str,
    subject: &str,
    at: OffsetDateTime,
) -> (String, String) {
    let row = cx.tables.intro.intro.iter().find(|r| r.message == message);
    let (it, en) = match row {
        Some(r) => (r.it.as_str(), r.en.as_str()),
        None => ("Messaggio REM.", "REM message."),
    };
    let when = crate::pec::zone::rfc3339(at);
    let plain = format!(
        "{it}\r\nOggetto: {subject}\r\nData: {when}\r\n\r\n{en}\r\nSubject: {subject}\r\nDate: {when}\r\n"
    );
    let html = format!(
        "<!DOCTYPE html>\r\n<html><head><meta charset=\"UTF-8\"><title>REM</title></head><body>\r\n\
         <p lang=\"it\">{}</p><p lang=\"it\">Oggetto: {}<br>Data: {when}</p>\r\n\
         <p lang=\"en\">{}</p><p lang=\"en\">Subject: {}<br>Date: {when}</p>\r\n</body></html>\r\n",
        escape(it),
        escape(subject),
        escape(en),
        escape(subject),
    );
    (plain, html)
}
