use serde::{Deserialize, Serialize};

/// A deployment as `deploy.json` records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deployment {
    pub service: Option<String>,
    pub revision: Option<String>,
    pub state: DeployState,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub message: Option<String>,
}

/// Read leniently: loop scripts say "running", "succeeded", "error"...; an
/// unknown word becomes `Unknown` instead of making the whole file unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", from = "String")]
pub enum DeployState {
    #[default]
    Unknown,
    Queued,
    Deploying,
    Live,
    Failed,
    Cancelled,
}

impl DeployState {
    pub fn label(self) -> &'static str {
        match self {
            DeployState::Unknown => "unknown",
            DeployState::Queued => "queued",
            DeployState::Deploying => "deploying",
            DeployState::Live => "live",
            DeployState::Failed => "failed",
            DeployState::Cancelled => "cancelled",
        }
    }
}

impl From<String> for DeployState {
    fn from(word: String) -> Self {
        match word.trim().to_ascii_lowercase().as_str() {
            "queued" | "pending" | "waiting" => DeployState::Queued,
            "deploying" | "running" | "in_progress" | "in-progress" | "started" | "rolling" => {
                DeployState::Deploying
            }
            "live" | "ok" | "success" | "succeeded" | "done" | "deployed" | "ready" | "healthy" => {
                DeployState::Live
            }
            "failed" | "failure" | "error" | "errored" | "rolled_back" => DeployState::Failed,
            "cancelled" | "canceled" | "aborted" => DeployState::Cancelled,
            _ => DeployState::Unknown,
        }
    }
}
