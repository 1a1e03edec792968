//! A [`Summary`] kept up to date test by test, for an iteration that is
//! being written: a streaming report adds or changes a few tests at a time,
//! and recounting a 100,000-test iteration for each of them would make the
//! screen fall behind the run.
//!
//! It keeps the counts per module and the members of each failure group;
//! [`LiveSummary::summary`] orders them exactly as [`Summary::of`] does
//! (modules failing first then by name; groups largest first, ties in order
//! of their first member, titled by that member's cause), so the two are
//! interchangeable: `tests` checks that after every step.

use std::collections::{BTreeSet, HashMap};

use super::summary::{FailureGroup, ModuleSummary, Summary, Totals, cause, signature};
use super::{Outcome, TestCase};

/// Counts and groups of a list of tests (no provisional tests: an
/// iteration with a rerun is summarised whole).
#[derive(Debug, Clone, Default)]
pub struct LiveSummary {
    totals: Totals,
    modules: HashMap<String, ModuleSummary>,
    /// Signature -> indices of its failing tests.
    groups: HashMap<String, BTreeSet<usize>>,
}

impl LiveSummary {
    pub fn of(tests: &[TestCase]) -> LiveSummary {
        let mut s = LiveSummary::default();
        for (i, t) in tests.iter().enumerate() {
            s.add(i, t);
        }
        s
    }

    /// Test `i` is now `new` (it was `old`, or it is new).
    pub fn replace(&mut self, i: usize, old: Option<&TestCase>, new: &TestCase) {
        if let Some(old) = old {
            self.remove(i, old);
        }
        self.add(i, new);
    }

    fn add(&mut self, i: usize, t: &TestCase) {
        self.totals.add(t.outcome);
        let m = self
            .modules
            .entry(t.module.to_string())
            .or_insert_with(|| ModuleSummary {
                name: t.module.to_string(),
                passed: 0,
                failed: 0,
                errors: 0,
                skipped: 0,
                provisional: 0,
            });
        *count(m, t.outcome) += 1;
        if t.outcome.is_failing() {
            self.groups
                .entry(signature(cause(t)))
                .or_default()
                .insert(i);
        }
    }

    fn remove(&mut self, i: usize, t: &TestCase) {
        self.totals.tests -= 1;
        *total(&mut self.totals, t.outcome) -= 1;
        if let Some(m) = self.modules.get_mut(&*t.module) {
            *count(m, t.outcome) -= 1;
            if m.total() == 0 {
                self.modules.remove(&*t.module);
            }
        }
        if t.outcome.is_failing() {
            let sig = signature(cause(t));
            if let Some(g) = self.groups.get_mut(&sig) {
                g.remove(&i);
                if g.is_empty() {
                    self.groups.remove(&sig);
                }
            }
        }
    }

    /// The summary of `tests`, the list this was kept for. Costs the
    /// number of modules and failures, not of tests.
    pub fn summary(&self, tests: &[TestCase]) -> Summary {
        let mut modules: Vec<ModuleSummary> = self.modules.values().cloned().collect();
        modules.sort_by(|a, b| (a.is_green(), &a.name).cmp(&(b.is_green(), &b.name)));
        let mut groups: Vec<FailureGroup> = self
            .groups
            .iter()
            .map(|(sig, members)| {
                let first = *members.first().expect("groups are never empty");
                FailureGroup {
                    signature: sig.clone(),
                    message: tests.get(first).map_or("", cause).to_string(),
                    tests: members.iter().copied().collect(),
                }
            })
            .collect();
        groups.sort_by_key(|g| (std::cmp::Reverse(g.tests.len()), g.tests[0]));
        Summary {
            totals: self.totals,
            modules,
            groups,
        }
    }
}

fn count(m: &mut ModuleSummary, outcome: Outcome) -> &mut usize {
    match outcome {
        Outcome::Passed => &mut m.passed,
        Outcome::Failed => &mut m.failed,
        Outcome::Errored => &mut m.errors,
        Outcome::Skipped => &mut m.skipped,
    }
}

fn total(t: &mut Totals, outcome: Outcome) -> &mut usize {
    match outcome {
        Outcome::Passed => &mut t.passed,
        Outcome::Failed => &mut t.failed,
        Outcome::Errored => &mut t.errors,
        Outcome::Skipped => &mut t.skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Failure;
    use std::sync::Arc;

    fn case(i: usize, step: usize) -> TestCase {
        // A deterministic mix: outcomes, modules and causes that change
        // from step to step, so tests move between groups and modules.
        let h = (i * 7919 + step * 104_729) % 97;
        let outcome = match h % 5 {
            0 => Outcome::Failed,
            1 => Outcome::Errored,
            2 => Outcome::Skipped,
            _ => Outcome::Passed,
        };
        let failure = outcome.is_failing().then(|| {
            Box::new(Failure {
                message: format!(
                    "{} at /api/{i}",
                    ["timeout", "HTTP", "refused", "boom"][h % 4]
                ),
                ..Default::default()
            })
        });
        TestCase {
            id: format!("t{i}"),
            module: Arc::from(format!("m{}", (i + h) % 6)),
            outcome,
            duration_secs: None,
            failure,
        }
    }

    #[test]
    fn kept_up_to_date_it_equals_the_summary_made_from_scratch() {
        let mut tests: Vec<TestCase> = Vec::new();
        let mut live = LiveSummary::default();
        for step in 0..400 {
            // Append a test, and change an earlier one (as pytest's
            // call phase changes the test its setup line added).
            let new = case(tests.len(), step);
            live.replace(tests.len(), None, &new);
            tests.push(new);
            let i = (step * 31) % tests.len();
            let changed = case(i, step + 1);
            live.replace(i, Some(&tests[i]), &changed);
            tests[i] = changed;
            assert_eq!(live.summary(&tests), Summary::of(&tests), "step {step}");
        }
        assert!(Summary::of(&tests).groups.len() > 1);
        assert!(Summary::of(&tests).modules.len() > 1);
    }
}
