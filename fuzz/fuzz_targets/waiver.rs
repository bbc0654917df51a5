//! A narrow waiver for the fuzz targets that reach mail-parser.
//!
//! libfuzzer-sys aborts on every panic, before unwinding. Ponte contains panics inside
//! mail-parser 0.11.9 (a `debug_assert!` in `parsers/message.rs`, found by this fuzzer) with
//! `catch_unwind` in `ponte::mime::parse`, and turns them into errors. This hook lets exactly
//! those panics unwind to that guard; any other panic still aborts and is reported as a crash.

use std::sync::Once;

static INSTALL: Once = Once::new();

pub fn install() {
    INSTALL.call_once(|| {
        let abort_on_panic = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|l| l.file().contains("mail-parser-0.11"));
            if !in_mail_parser {
                abort_on_panic(info);
            }
        }));
    });
}
