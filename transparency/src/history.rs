//! Every checkpoint ever signed, kept in `checkpoints.jsonl` (one JSON object per
//! line: `{"size":N,"note":"<signed note>"}`), appended and synced before it is served.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint::TreeHead;
use crate::error::TransparencyError;

/// A checkpoint as kept: its tree head and the signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// What it states.
    pub head: TreeHead,
    /// The signed note text.
    pub note: String,
}

#[derive(Serialize, Deserialize)]
struct Line {
    size: u64,
    note: String,
}

/// The checkpoint history file, open for appending.
pub struct History {
    path: PathBuf,
    file: File,
}

impl History {
    /// Open (creating) the history at `path`; returns it and every checkpoint in it. A torn
    /// last line (a crash while appending) is cut off.
    pub fn open(path: &Path) -> Result<(History, Vec<StoredCheckpoint>), TransparencyError> {
        let io = |e| TransparencyError::io(path, e);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut kept = Vec::new();
        let mut good_bytes = 0u64;
        let mut reader = BufReader::new(&file);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(io)?;
            if n == 0 {
                break;
            }
            let parsed = line
                .strip_suffix('\n')
                .and_then(|l| serde_json::from_str::<Line>(l).ok())
                .and_then(|l| stored(&l.note).ok());
            match parsed {
                Some(checkpoint) => {
                    kept.push(checkpoint);
                    good_bytes += n as u64;
                }
                None => {
                    tracing::warn!(
                        path = %path.display(),
                        "cutting off a torn or unreadable checkpoint line"
                    );
                    break;
                }
            }
        }
        drop(reader);
        file.set_len(good_bytes).map_err(io)?;
        Ok((
            History {
                path: path.to_owned(),
                file,
            },
            kept,
        ))
    }

    /// Append `checkpoint` and sync it.
    pub fn append(&mut self, checkpoint: &StoredCheckpoint) -> Result<(), TransparencyError> {
        let line = serde_json::to_string(&Line {
            size: checkpoint.head.size,
            note: checkpoint.note.clone(),
        })
        .expect("a line serialises");
        self.file
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| TransparencyError::io(&self.path, e))
    }
}

/// The stored form of the signed note `note` (its text parsed, signature not checked).
pub fn stored(note: &str) -> Result<StoredCheckpoint, TransparencyError> {
    let text = note
        .split_once("\n\n")
        .map(|(text, _)| format!("{text}\n"))
        .ok_or_else(|| TransparencyError::malformed("signed note", "no signature block"))?;
    Ok(StoredCheckpoint {
        head: TreeHead::parse(text.as_bytes())?,
        note: note.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::LogKey;

    #[test]
    fn checkpoints_survive_a_reopen_and_a_torn_last_line_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.jsonl");
        let (key, _) = LogKey::generate("o").unwrap();
        let (mut history, none) = History::open(&path).unwrap();
        assert!(none.is_empty());
        for size in [1u64, 5] {
            let head = TreeHead {
                origin: "o".into(),
                size,
                root: [size as u8; 32],
                chain_head: [0; 32],
            };
            history
                .append(&stored(&head.sign(&key).unwrap()).unwrap())
                .unwrap();
        }
        drop(history);
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(b"{\"size\":9,\"no").unwrap();
        let (_, kept) = History::open(&path).unwrap();
        assert_eq!(
            kept.iter().map(|c| c.head.size).collect::<Vec<_>>(),
            vec![1, 5]
        );
        let (_, again) = History::open(&path).unwrap();
        assert_eq!(again.len(), 2);
    }
}
