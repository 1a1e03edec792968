//! STUB
use std::path::{Path, PathBuf};
pub struct WatchEvent {
    pub paths: Vec<PathBuf>,
    pub rescan: bool,
}
pub struct WatchHandle;
pub fn spawn(
    _root: &Path,
    _tx: tokio::sync::mpsc::UnboundedSender<WatchEvent>,
    _poll: bool,
) -> notify::Result<WatchHandle> {
    Ok(WatchHandle)
}
