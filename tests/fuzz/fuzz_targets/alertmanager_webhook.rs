//! Fuzz target `alertmanager_webhook`: see `opsledger_tests::fuzz::webhook`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    opsledger_tests::fuzz::webhook::alertmanager_webhook(data);
});
