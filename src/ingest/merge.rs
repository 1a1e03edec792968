//! Several reports of one iteration -> one list of tests.
//!
//! Rule: tests are identified by id (with Jest's ` › ` folded to a space, so
//! jest-junit's space-joined names meet the console ids of a Jest JSON
//! report). The first appearance fixes the position. When an id appears
//! again, the entry carrying more information wins, compared in this order:
//! 1. a failing outcome (failed/errored) beats a non-failing one: a failure
//!    seen by any report of the run is never hidden;
//! 2. a failure with a detail (traceback) beats one without;
//! 3. a failure beats none, a skip beats a pass (more specific).
//!
//! On a tie the earlier entry stays. The winner then borrows what it lacks
//! from the other (duration, captured stdout/stderr, failure kind).
//! So a JUnit file and a report-log of the same run count each test once,
//! and disjoint shards add up.
//!
//! This is the rule for reports of *one* run. Reports of different runs of
//! the same iteration (a rerun of the failing tests after the full run) are
//! combined by `results::reruns`, where the newer run wins.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::{Report, TestCase, test_key as key};

fn score(t: &TestCase) -> (bool, bool, bool, u8) {
    let f = t.failure.as_deref();
    (
        t.outcome.is_failing(),
        f.is_some_and(|f| !f.detail.is_empty()),
        f.is_some(),
        // Skipped before Passed: more specific; failing ones rank by Ord.
        3 - t.outcome as u8,
    )
}

/// Fills what `winner` lacks from `other` (same test, another source).
fn fill(winner: &mut TestCase, other: TestCase) {
    if winner.duration_secs.is_none() {
        winner.duration_secs = other.duration_secs;
    }
    if let (Some(w), Some(o)) = (winner.failure.as_deref_mut(), other.failure) {
        let o = *o;
        if w.message.is_empty() {
            w.message = o.message;
        }
        if w.kind.is_none() {
            w.kind = o.kind;
        }
        if w.detail.is_empty() {
            w.detail = o.detail;
        }
        if w.stdout.is_empty() {
            w.stdout = o.stdout;
        }
        if w.stderr.is_empty() {
            w.stderr = o.stderr;
        }
    }
}

/// Two entries for the same test from different reports: keeps the one with
/// more information (see the module rule).
pub fn prefer(existing: &mut TestCase, new: TestCase) {
    if score(&new) > score(existing) {
        let old = std::mem::replace(existing, new);
        fill(existing, old);
    } else {
        fill(existing, new);
    }
}

/// Two reports about phases of the same test within one report (pytest
/// setup/call/teardown; a second JUnit testcase for a teardown error):
/// the worst outcome wins (failed, then errored, skipped, passed: a test that
/// passed and errored in teardown is errored), durations add up.
pub fn combine_phases(existing: &mut TestCase, new: TestCase) {
    let duration = match (existing.duration_secs, new.duration_secs) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    if new.outcome < existing.outcome {
        let old = std::mem::replace(existing, new);
        fill(existing, old);
    } else {
        fill(existing, new);
    }
    existing.duration_secs = duration;
}

/// Merges the reports of one iteration: the same test id seen in several files
/// (a JUnit file and a report-log of the same run) counts once; disjoint
/// shards add up. Output order: by first appearance.
pub fn merge(reports: &[&Report]) -> Vec<TestCase> {
    let total: usize = reports.iter().map(|r| r.tests.len()).sum();
    if reports.len() == 1 {
        return reports[0].tests.clone();
    }
    let mut out: Vec<TestCase> = Vec::with_capacity(total);
    let mut index: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(total);
    for r in reports {
        for t in &r.tests {
            match index.get(&key(&t.id)) {
                Some(&i) => prefer(&mut out[i], t.clone()),
                None => {
                    index.insert(key(&t.id), out.len());
                    out.push(t.clone());
                }
            }
        }
    }
    out
}

/// [`merge`] for reports the caller no longer needs: moves the tests instead
/// of cloning them (a single 100k-test report is returned without a copy).
pub fn merge_owned(mut reports: Vec<Report>) -> Vec<TestCase> {
    if reports.len() == 1 {
        return std::mem::take(&mut reports[0].tests);
    }
    let total: usize = reports.iter().map(|r| r.tests.len()).sum();
    let mut out: Vec<TestCase> = Vec::with_capacity(total);
    let mut index: HashMap<String, usize> = HashMap::with_capacity(total);
    for r in reports {
        for t in r.tests {
            let k = key(&t.id).into_owned();
            match index.get(&k) {
                Some(&i) => prefer(&mut out[i], t),
                None => {
                    index.insert(k, out.len());
                    out.push(t);
                }
            }
        }
    }
    out
}
