//! The policies' durable checkpoint: one file holding the next log position to
//! react to, replaced atomically (write a temporary file, fsync, rename, fsync
//! the directory). Losing it is harmless: the policies react again from the
//! start and every follow-up they already appended is skipped by its id.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The checkpoint file in `dir`.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("workflows.checkpoint")
}

/// The next position saved in `path` (0 if there is no readable checkpoint).
pub fn load(path: &Path) -> u64 {
    match std::fs::read_to_string(path) {
        Ok(text) => match text.trim().parse() {
            Ok(next) => next,
            Err(_) => {
                tracing::warn!(path = %path.display(), "unreadable workflow checkpoint: reacting from the start");
                0
            }
        },
        Err(_) => 0,
    }
}

/// Saves `next` to `path` atomically and durably.
pub fn save(path: &Path, next: u64) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("checkpoint.tmp");
    {
        let mut file = std::fs::File::create(&tmp)?;
        writeln!(file, "{next}")?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_checkpoint_is_loaded_and_a_missing_or_damaged_one_is_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        assert_eq!(load(&path), 0);
        save(&path, 42).unwrap();
        assert_eq!(load(&path), 42);
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(load(&path), 0);
    }
}
