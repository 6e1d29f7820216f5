//! Fuzz target `import_lines`: see `opsledger_tests::fuzz::import`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    opsledger_tests::fuzz::import::import_lines(data);
});
