use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;

/// How one test ended. Runners' richer outcomes map onto these four
/// (xfail counts as skipped, xpass as passed, as pytest writes them to JUnit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    // Order matters: failing first everywhere, so `Ord` sorts worst first.
    Failed,
    Errored,
    Skipped,
    Passed,
}

impl Outcome {
    pub fn is_failing(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }
}

/// What a failed or errored test left behind. Kept out of line (boxed in
/// `TestCase`) because only a few percent of tests have one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// First line of the failure as the runner's console shows it.
    pub message: String,
    /// Exception / failure type when the format names one (`AssertionError`).
    pub kind: Option<String>,
    /// Full traceback or failure body.
    pub detail: String,
    pub stdout: String,
    pub stderr: String,
}

/// One test, identified as its runner prints it on the console
/// (`tests/test_x.py::test_y`, `pkg TestFoo/sub`, `describe › test`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestCase {
    pub id: String,
    /// Test file / suite the test belongs to (`tests/e2e/test_ws.py`).
    /// Shared: the tests of one module hold the same string (a 100k-test
    /// report has a few hundred modules), so cloning a test does not copy it.
    pub module: Arc<str>,
    pub outcome: Outcome,
    pub duration_secs: Option<f64>,
    pub failure: Option<Box<Failure>>,
}

impl TestCase {
    pub fn message(&self) -> &str {
        self.failure.as_deref().map_or("", |f| f.message.as_str())
    }
}

/// What identifies a test across reports: its id, with Jest's ` › ` folded
/// to a space so jest-junit's space-joined names meet the console ids of a
/// Jest JSON report. Shared by the merge of one run's reports and the merge
/// across runs (a rerun's report against the full run's).
pub fn test_key(id: &str) -> Cow<'_, str> {
    if id.contains(" › ") {
        Cow::Owned(id.replace(" › ", " "))
    } else {
        Cow::Borrowed(id)
    }
}

/// What one report file says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Short human name of the detected format ("JUnit XML", "pytest report-log").
    pub format: &'static str,
    pub tests: Vec<TestCase>,
    /// Errors outside any test (collection errors without a test, Vitest
    /// unhandled errors, a crashed Go package).
    pub run_errors: Vec<String>,
    /// False while a streaming report has not seen its end-of-session line.
    pub complete: bool,
    /// Number of tests the runner said it would run, when the format says it.
    pub expected_total: Option<usize>,
    /// Per-line problems that did not stop the rest of the file from being read.
    pub warnings: Vec<String>,
}
