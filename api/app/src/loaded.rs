//! An aggregate as loaded: its folded state and the version it was folded to.

use opsledger_storage::ExpectedVersion;

/// An aggregate folded from its stream.
#[derive(Clone, Debug)]
pub struct Loaded<A> {
    /// The folded state.
    pub state: A,
    /// Version (0-based) of the stream's last event, `None` if the stream is empty.
    pub last_version: Option<u64>,
}

impl<A> Loaded<A> {
    /// The append expectation matching this load.
    pub fn expected(&self) -> ExpectedVersion {
        match self.last_version {
            Some(v) => ExpectedVersion::Exact(v),
            None => ExpectedVersion::NoStream,
        }
    }
}
