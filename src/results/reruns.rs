//! Reports of different runs in one iteration folder: which run wrote which
//! report file, and how their results combine.
//!
//! `R` (`loopdeck test --failed`) reruns only the failing tests, and its
//! report lands next to the full run's. Merged as one run (a failure beats a
//! pass), a test fixed between the two runs would still show failing; taken
//! at face value, a rerun of three tests would turn the iteration green
//! without the other tests having run against the fix. So:
//!
//! **Attribution.** `runs.jsonl` says when each `test` and `rerun_failed` run
//! started and finished (deploys do not write reports and are ignored). A
//! report file belongs to the latest of those runs that started at or before
//! the file's modification time — unless the file was last modified no later
//! than the end of the run before that one (then it is that run's: a rerun
//! started right after a full run does not take the full run's files). Files
//! older than every recorded run, and every file when `runs.jsonl` is
//! missing, unreadable or records no rerun, count as one full run: exactly the
//! merge of [`crate::ingest::merge`]. The rule needs no cooperation from the
//! command beyond writing its report while it runs; it does rely on the file
//! times and the records coming from clocks that agree (on a network
//! filesystem the server stamps the files: keep clocks in sync).
//!
//! **Combination.** Files of one run merge as always (a failure beats a pass).
//! Runs then apply oldest first, each replacing the result of every test it
//! reports (the newer run wins), with two refinements:
//! * a test that did not pass in a full run (failed, errored, or absent) and
//!   passes only because a rerun says so is *provisional*; a later rerun
//!   keeps it so, a later full run that reports it decides for good;
//! * a rerun that skips a test gives no verdict on it: the earlier result
//!   stays (a skipped rerun must not hide a failure).
//!
//! A full run is any run of the `test` command, or report files that no rerun
//! can claim: a run by hand after the last recorded one counts as a rerun's
//! (the safe side: it can leave a test provisional, never falsely confirm).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::time::{Duration, SystemTime};

use crate::model::{Outcome, RunKind, TestCase, test_key};
use crate::runner;

/// `runs.jsonl` read beyond this is ignored: two short lines per run.
const MAX_RUNS_BYTES: u64 = 8 * 1024 * 1024;

/// Modification times come from a coarse kernel clock that can lag the
/// clock a run's `started` was read from by a tick (1-10 ms): a report
/// written the moment a run starts may look older than the run.
const CLOCK_SLACK: Duration = Duration::from_millis(100);

/// A `test` or `rerun_failed` run, as far as attribution needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunMark {
    pub started: SystemTime,
    pub finished: Option<SystemTime>,
    pub rerun: bool,
}

/// The test and rerun runs recorded in `runs.jsonl`, oldest first; empty
/// when it records no rerun (nothing to tell apart then).
pub(crate) fn read_marks(file: File) -> Vec<RunMark> {
    let mut marks: Vec<RunMark> = runner::read_runs_from(file.take(MAX_RUNS_BYTES))
        .into_iter()
        .filter(|r| matches!(r.kind, RunKind::Test | RunKind::RerunFailed))
        .map(|r| RunMark {
            started: r.started.into(),
            finished: r.finished.map(Into::into),
            rerun: r.kind == RunKind::RerunFailed,
        })
        .collect();
    if !marks.iter().any(|m| m.rerun) {
        return Vec::new();
    }
    marks.sort_by_key(|m| m.started);
    marks
}

/// Where a report file's results rank. Reports with the same slot are one
/// run's. Full-run files after `k` reruns have slot `2k`; the `k`-th rerun
/// has slot `2k - 1`: so the order of slots is the order of runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Slot(usize);

impl Slot {
    pub fn is_rerun(self) -> bool {
        self.0 % 2 == 1
    }
}

/// The slot of a report file last modified at `mtime` (see the module rule).
pub(crate) fn slot(mtime: SystemTime, marks: &[RunMark]) -> Slot {
    // Number of runs started at or before the file's time: the candidate
    // is the last of them.
    let mut n = marks.partition_point(|m| m.started <= mtime + CLOCK_SLACK);
    while n >= 2 && marks[n - 2].finished.is_some_and(|f| mtime <= f) {
        n -= 1;
    }
    let reruns = marks[..n].iter().filter(|m| m.rerun).count();
    let own_rerun = n > 0 && marks[n - 1].rerun;
    Slot(2 * reruns - usize::from(own_rerun))
}

/// Tests of an iteration combined over its runs, and which of them are
/// provisional (indices into `tests`, ascending).
#[derive(Debug, Default)]
pub(crate) struct Combined {
    pub tests: Vec<TestCase>,
    pub provisional: Vec<usize>,
}

/// Merges each run's reports with `merge_one_run`, then the runs in order
/// (see the module rule). One full run alone is just `merge_one_run`.
pub(crate) fn merge_by_run<R>(
    reports: Vec<(Slot, R)>,
    merge_one_run: impl Fn(Vec<R>) -> Vec<TestCase>,
) -> Combined {
    let first = reports.first().map(|r| r.0);
    if first.is_none_or(|s| !s.is_rerun() && reports.iter().all(|r| r.0 == s)) {
        let all = reports.into_iter().map(|r| r.1).collect();
        return Combined {
            tests: merge_one_run(all),
            provisional: Vec::new(),
        };
    }
    let mut runs: BTreeMap<Slot, Vec<R>> = BTreeMap::new();
    for (s, r) in reports {
        runs.entry(s).or_default().push(r);
    }
    let mut tests = Vec::new();
    let mut provisional = Vec::new();
    for (s, run) in runs {
        apply(
            &mut tests,
            &mut provisional,
            merge_one_run(run),
            s.is_rerun(),
        );
    }
    Combined {
        provisional: (0..tests.len()).filter(|&i| provisional[i]).collect(),
        tests,
    }
}

/// Applies one run's tests over the tests of the runs before it.
/// `provisional` runs parallel to `tests`.
fn apply(tests: &mut Vec<TestCase>, provisional: &mut Vec<bool>, run: Vec<TestCase>, rerun: bool) {
    // Index the newer run (usually the small one) and walk the older tests
    // once, so a rerun of a few tests over 100k costs one pass.
    let index: HashMap<String, usize> = run
        .iter()
        .enumerate()
        .map(|(i, t)| (test_key(&t.id).into_owned(), i))
        .collect();
    let mut newer: Vec<Option<TestCase>> = run.into_iter().map(Some).collect();
    for (old, prov) in tests.iter_mut().zip(provisional.iter_mut()) {
        let Some(&i) = index.get(test_key(&old.id).as_ref()) else {
            continue;
        };
        let Some(new) = newer[i].take() else {
            continue;
        };
        if rerun && new.outcome == Outcome::Skipped {
            continue;
        }
        *prov =
            rerun && new.outcome == Outcome::Passed && (*prov || old.outcome != Outcome::Passed);
        *old = new;
    }
    for new in newer.into_iter().flatten() {
        provisional.push(rerun && new.outcome == Outcome::Passed);
        tests.push(new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Failure;

    fn t(id: &str, outcome: Outcome) -> TestCase {
        TestCase {
            id: id.into(),
            module: "m".into(),
            outcome,
            duration_secs: None,
            failure: outcome.is_failing().then(|| {
                Box::new(Failure {
                    message: format!("{id} failed"),
                    ..Default::default()
                })
            }),
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    fn mark(started: u64, finished: Option<u64>, rerun: bool) -> RunMark {
        RunMark {
            started: at(started),
            finished: finished.map(at),
            rerun,
        }
    }

    #[test]
    fn files_belong_to_the_run_that_wrote_them() {
        // Full run 10-20, rerun 30-35, full run 40-(running).
        let marks = [
            mark(10, Some(20), false),
            mark(30, Some(35), true),
            mark(40, None, false),
        ];
        assert_eq!(slot(at(5), &marks), Slot(0), "before any run");
        assert_eq!(slot(at(15), &marks), Slot(0), "first full run");
        assert_eq!(slot(at(32), &marks), Slot(1), "the rerun");
        assert_eq!(slot(at(38), &marks), Slot(1), "after the rerun ended");
        assert_eq!(slot(at(45), &marks), Slot(2), "the later full run");
        assert!(slot(at(32), &marks).is_rerun());
        assert!(!slot(at(45), &marks).is_rerun());
    }

    #[test]
    fn a_rerun_started_right_after_a_full_run_does_not_take_its_files() {
        // The full run's report was written at its very end (20); the rerun
        // started within the clock slack of it.
        let started = at(20) + Duration::from_millis(50);
        let marks = [
            mark(10, Some(20), false),
            RunMark {
                started,
                finished: None,
                rerun: true,
            },
        ];
        assert_eq!(slot(at(20), &marks), Slot(0));
        assert_eq!(slot(started + Duration::from_millis(1), &marks), Slot(1));
        // A coarse mtime slightly before the recorded start is still the rerun's.
        assert_eq!(slot(started - Duration::from_millis(5), &marks), Slot(1));
    }

    #[test]
    fn rerun_passes_are_provisional_until_a_full_run() {
        let full = vec![
            t("a", Outcome::Passed),
            t("b", Outcome::Failed),
            t("c", Outcome::Failed),
            t("d", Outcome::Errored),
            t("e", Outcome::Failed),
        ];
        let rerun = vec![
            t("b", Outcome::Passed),
            t("c", Outcome::Failed),
            t("d", Outcome::Passed),
            t("e", Outcome::Skipped),
            t("a", Outcome::Passed), // passed before: stays confirmed
            t("z", Outcome::Passed), // never seen in a full run
        ];
        let one = |tests: Vec<Vec<TestCase>>| tests.into_iter().flatten().collect();
        let got = merge_by_run(vec![(Slot(0), full.clone()), (Slot(1), rerun)], one);
        let outcome = |id: &str| got.tests.iter().find(|t| t.id == id).unwrap().outcome;
        assert_eq!(outcome("b"), Outcome::Passed);
        assert_eq!(outcome("c"), Outcome::Failed);
        assert_eq!(outcome("e"), Outcome::Failed, "a skip gives no verdict");
        let ids: Vec<&str> = got.provisional.iter().map(|&i| &*got.tests[i].id).collect();
        assert_eq!(ids, ["b", "d", "z"]);

        // A later full run decides, whatever it says.
        let later = vec![t("b", Outcome::Passed), t("d", Outcome::Failed)];
        let got = merge_by_run(
            vec![
                (Slot(2), later),
                (Slot(0), full),
                (
                    Slot(1),
                    vec![t("b", Outcome::Passed), t("d", Outcome::Passed)],
                ),
            ],
            one,
        );
        assert_eq!(
            got.tests.iter().find(|t| t.id == "d").unwrap().outcome,
            Outcome::Failed
        );
        assert!(got.provisional.is_empty(), "{:?}", got.provisional);
    }

    #[test]
    fn one_full_run_is_the_plain_merge() {
        let calls = std::cell::Cell::new(0);
        let got = merge_by_run(
            vec![
                (Slot(2), vec![t("a", Outcome::Failed)]),
                (Slot(2), vec![t("a", Outcome::Passed)]),
            ],
            |runs: Vec<Vec<TestCase>>| {
                calls.set(calls.get() + 1);
                assert_eq!(runs.len(), 2, "both files go to one merge");
                runs.into_iter().flatten().take(1).collect()
            },
        );
        assert_eq!(calls.get(), 1);
        assert_eq!(got.tests.len(), 1);
        assert!(got.provisional.is_empty());
    }

    #[test]
    fn a_rerun_of_a_rerun_keeps_provisional_and_jest_ids_meet() {
        let full = vec![t("cart › adds", Outcome::Failed)];
        let one = |tests: Vec<Vec<TestCase>>| tests.into_iter().flatten().collect();
        let got = merge_by_run(
            vec![
                (Slot(0), full),
                (Slot(1), vec![t("cart adds", Outcome::Passed)]),
                (Slot(3), vec![t("cart adds", Outcome::Passed)]),
            ],
            one,
        );
        assert_eq!(got.tests.len(), 1);
        assert_eq!(got.provisional, [0]);
    }
}
