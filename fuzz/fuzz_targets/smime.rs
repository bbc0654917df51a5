#![no_main]
// Filled by the module that owns this target.
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
