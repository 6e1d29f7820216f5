//! The export importer's validation pass (`opsledger import` reads the file through it
//! before writing anything), with the CLI's payload renderer.
//!
//! Rule checked: it never panics, and a file it accepts has exactly one record per line.

use opsledger_api::cli_tools::transfer::render_payload;
use opsledger_storage::export::validate_file;
use std::io::BufRead;
use std::path::PathBuf;

thread_local! {
    /// One scratch file per thread, rewritten for every input.
    static SCRATCH: (tempfile::TempDir, PathBuf) = {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("export.jsonl");
        (dir, file)
    };
}

/// The harness of the `import_lines` target.
pub fn import_lines(bytes: &[u8]) {
    SCRATCH.with(|(_, file)| {
        std::fs::write(file, bytes).expect("the scratch file is writable");
        if let Ok(count) = validate_file(file, &render_payload) {
            assert_eq!(count, bytes.lines().count() as u64, "records per line");
        }
    });
}
