//! TEMPORARY placeholder until the results branch lands.
use std::path::PathBuf;

use serde::Serialize;

use crate::model::{Deployment, IterationMeta, TestCase};

#[derive(Debug, Clone, Default, Serialize)]
pub struct FileStatus {
    pub name: String,
    pub format: String,
    pub tests: usize,
    pub complete: bool,
    pub error: Option<String>,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IterationData {
    pub key: String,
    pub number: u64,
    pub path: PathBuf,
    pub meta: Option<IterationMeta>,
    pub deploy: Option<Deployment>,
    pub tests: Vec<TestCase>,
    pub files: Vec<FileStatus>,
    pub warnings: Vec<String>,
    pub running: bool,
    pub expected_total: Option<usize>,
    pub run_errors: Vec<String>,
}

/// STUB
pub struct Store;
pub struct Refresh {
    pub changed: Vec<IterationData>,
    pub removed: Vec<String>,
}
impl Store {
    pub fn open(_root: &std::path::Path) -> std::io::Result<Store> {
        Ok(Store)
    }
    pub fn refresh(&mut self, _changed: Option<&[PathBuf]>) -> Refresh {
        Refresh {
            changed: vec![],
            removed: vec![],
        }
    }
}
