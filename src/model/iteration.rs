use serde::{Deserialize, Serialize};

/// What a person or agent wrote about an iteration in `iteration.json`.
/// Every field is optional: a loop script may write only some of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IterationMeta {
    pub issue: Option<String>,
    pub root_cause: Option<String>,
    pub fix: Option<String>,
    pub notes: Option<String>,
    /// RFC 3339 timestamps as written by the loop.
    pub started: Option<String>,
    pub finished: Option<String>,
}
