use std::collections::HashSet;

use crate::model::Summary;
use crate::results::IterationData;

/// One iteration as the app holds it: the data read from the directory plus
/// what is derived from it once per change (never per frame).
#[derive(Debug, Clone)]
pub struct Iteration {
    pub data: IterationData,
    pub summary: Summary,
    /// Ids failing in the previous iteration, to mark failures "new" or "still".
    pub failing_before: Option<HashSet<String>>,
}

impl Iteration {
    pub fn new(data: IterationData) -> Self {
        let summary = Summary::with_provisional(&data.tests, &data.provisional);
        Iteration {
            data,
            summary,
            failing_before: None,
        }
    }

    pub fn failing_ids(&self) -> HashSet<String> {
        self.data
            .tests
            .iter()
            .filter(|t| t.outcome.is_failing())
            .map(|t| t.id.clone())
            .collect()
    }

    /// Label for the iteration: its number when it has one, else the folder.
    pub fn label(&self) -> String {
        if self.data.number > 0 {
            self.data.number.to_string()
        } else {
            self.data.key.clone()
        }
    }
}
