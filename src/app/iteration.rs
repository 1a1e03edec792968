use std::collections::HashSet;
use std::sync::Arc;

use crate::model::{LiveSummary, Summary};
use crate::results::{IterationData, IterationPatch};

/// One iteration as the app holds it: the data read from the directory plus
/// what is derived from it once per change (never per frame).
#[derive(Debug, Clone)]
pub struct Iteration {
    pub data: IterationData,
    pub summary: Summary,
    /// Ids failing in this iteration; shared with the next iteration as
    /// its `failing_before`.
    pub failing: Arc<HashSet<String>>,
    /// Ids failing in the previous iteration, to mark failures "new" or "still".
    pub failing_before: Option<Arc<HashSet<String>>>,
    /// Counts kept test by test, made on the first patch (an iteration
    /// that is being written): see [`Iteration::patch`].
    live: Option<LiveSummary>,
    /// Only the summary and the failing ids are kept (`data.tests` is
    /// empty): an older iteration nobody looks at. Viewing it asks the
    /// reader for its tests again ([`crate::app::Effect::Load`]).
    pub compact: bool,
}

impl Iteration {
    pub fn new(data: IterationData) -> Self {
        let summary = Summary::with_provisional(&data.tests, &data.provisional);
        let failing = data
            .tests
            .iter()
            .filter(|t| t.outcome.is_failing())
            .map(|t| t.id.clone())
            .collect();
        Iteration {
            data,
            summary,
            failing: Arc::new(failing),
            failing_before: None,
            live: None,
            compact: false,
        }
    }

    /// Drops the tests, keeping what the header, the history and the next
    /// iteration's "new"/"still" marks need: memory grows with what is on
    /// screen, not with every test ever seen.
    pub fn compact(&mut self) {
        self.data.tests = Vec::new();
        self.live = None;
        self.compact = true;
    }

    /// Applies a patch from the results reader: only the tests it names
    /// are touched, and the summary is updated, not recounted, so a test
    /// appended to a 100,000-test report costs what one test costs.
    pub fn patch(&mut self, patch: IterationPatch) {
        let IterationPatch {
            mut data,
            len,
            changed,
        } = patch;
        data.tests = std::mem::take(&mut self.data.tests);
        data.provisional = std::mem::take(&mut self.data.provisional);
        // A patch without test changes (file states, warnings, notes)
        // leaves the tests and their summary as they are.
        if !changed.is_empty() {
            let live = self
                .live
                .get_or_insert_with(|| LiveSummary::of(&data.tests));
            let failing = Arc::make_mut(&mut self.failing);
            for (i, test) in changed {
                let old = data.tests.get(i);
                if let Some(old) = old.filter(|o| o.outcome.is_failing()) {
                    failing.remove(&old.id);
                }
                if test.outcome.is_failing() {
                    failing.insert(test.id.clone());
                }
                live.replace(i, old, &test);
                match data.tests.get_mut(i) {
                    Some(slot) => *slot = test,
                    None => data.tests.push(test),
                }
            }
            self.summary = live.summary(&data.tests);
        }
        debug_assert!(
            self.compact || data.tests.len() == len,
            "a patch applied out of order"
        );
        self.data = data;
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
