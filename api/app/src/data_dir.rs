//! The layout of a data directory (README "Data directory"): where the log,
//! the projection snapshots and the workflow checkpoint live.

use std::path::{Path, PathBuf};

/// The directory of the event log inside a data directory.
pub fn log_dir(data: &Path) -> PathBuf {
    data.join("log")
}

/// The directory of projection snapshots inside a data directory.
pub fn projections_dir(data: &Path) -> PathBuf {
    data.join("projections")
}

/// Where the workflow policies keep their checkpoint under a data directory.
pub fn workflows_dir(data: &Path) -> PathBuf {
    data.join("workflows")
}
