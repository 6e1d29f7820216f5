//! Fuzz target `storage_decoders`: see `opsledger_tests::fuzz::storage`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    opsledger_tests::fuzz::storage::storage_decoders(data);
});
