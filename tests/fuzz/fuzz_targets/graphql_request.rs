//! Fuzz target `graphql_request`: see `opsledger_tests::fuzz::graphql`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    opsledger_tests::fuzz::graphql::graphql_request(data);
});
