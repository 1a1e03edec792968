//! `loopdeck status`: the same picture as the UI, as text or one JSON object.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use crate::model::{Outcome, Summary};
use crate::results::IterationData;
use crate::sanitize;

/// Exit codes, documented in the README.
pub const EXIT_GREEN: i32 = 0;
pub const EXIT_FAILING: i32 = 1;
pub const EXIT_UNREADABLE: i32 = 2;

/// What status says of the loop beyond the iteration it prints: how many
/// iterations there are, and the most tests any of them has (the goal when
/// none is given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    pub iterations: usize,
    pub most_tests: usize,
}

impl History {
    pub fn of(iterations: &[IterationData]) -> History {
        History {
            iterations: iterations.len(),
            most_tests: iterations.iter().map(|i| i.tests.len()).max().unwrap_or(0),
        }
    }
}

/// Picks a key from a listing of `(key, number)`: by number, else by
/// folder name; the latest by default. `Ok(None)`: there is no iteration.
pub fn select_key<'a>(
    listing: &'a [(String, u64)],
    which: Option<&str>,
) -> Result<Option<&'a str>, String> {
    let Some(which) = which else {
        return Ok(listing.last().map(|(k, _)| k.as_str()));
    };
    let by_number = which
        .parse::<u64>()
        .ok()
        .and_then(|n| listing.iter().find(|(_, m)| *m == n));
    match by_number.or_else(|| listing.iter().find(|(k, _)| k == which)) {
        Some((k, _)) => Ok(Some(k)),
        None => Err(format!(
            "no iteration {which:?}; there are: {}",
            listing
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Picks the iteration asked for: by number, else by folder name; latest by default.
pub fn select<'a>(
    iterations: &'a [IterationData],
    which: Option<&str>,
) -> Result<Option<&'a IterationData>, String> {
    let Some(which) = which else {
        return Ok(iterations.last());
    };
    let by_number = which
        .parse::<u64>()
        .ok()
        .and_then(|n| iterations.iter().find(|it| it.number == n));
    match by_number.or_else(|| iterations.iter().find(|it| it.key == which)) {
        Some(it) => Ok(Some(it)),
        None => Err(format!(
            "no iteration {which:?}; there are: {}",
            iterations
                .iter()
                .map(|it| it.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub fn exit_code(it: Option<&IterationData>) -> i32 {
    match it {
        Some(it) if it.tests.iter().any(|t| t.outcome.is_failing()) => EXIT_FAILING,
        _ => EXIT_GREEN,
    }
}

// The JSON objects below list their fields in alphabetical order: the text
// written is then the same as that of the `serde_json::Value` (whose maps
// sort their keys), without building that value first.

#[derive(Serialize)]
struct FailureOut<'a> {
    id: &'a str,
    message: &'a str,
    module: &'a str,
    outcome: Outcome,
}

#[derive(Serialize)]
struct GroupOut<'a> {
    count: usize,
    message: &'a str,
    signature: &'a str,
    tests: Vec<&'a str>,
}

#[derive(Serialize)]
struct ModuleOut<'a> {
    errors: usize,
    failed: usize,
    name: &'a str,
    passed: usize,
    provisional: usize,
    skipped: usize,
}

#[derive(Serialize)]
struct StatusOut<'a> {
    /// `command`, `lock` and `runs` come from [`Activity`]; only `status
    /// --json` prints them.
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Option<&'a crate::model::RunRecord>>,
    deploy: serde_json::Value,
    failures: Vec<FailureOut<'a>>,
    files: serde_json::Value,
    goal: usize,
    groups: Vec<GroupOut<'a>>,
    iteration: u64,
    iteration_key: &'a str,
    iterations: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock: Option<&'a Option<crate::lock::LockInfo>>,
    meta: serde_json::Value,
    modules: Vec<ModuleOut<'a>>,
    provisional: Vec<&'a str>,
    run_errors: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<&'a [crate::model::RunRecord]>,
    running: bool,
    totals: serde_json::Value,
    warnings: Vec<&'a str>,
}

pub fn to_json(
    history: History,
    it: Option<&IterationData>,
    goal: Option<usize>,
    dir_warnings: &[String],
) -> serde_json::Value {
    let Some(it) = it else {
        return empty_json(dir_warnings);
    };
    let summary = summary(it);
    serde_json::to_value(status_out(history, it, &summary, goal, dir_warnings)).unwrap_or_default()
}

/// [`to_json`] as text (what `loopdeck status --json` prints, without the
/// final newline), written directly rather than through a JSON value.
pub fn json_text(
    history: History,
    it: Option<&IterationData>,
    goal: Option<usize>,
    dir_warnings: &[String],
) -> String {
    let Some(it) = it else {
        return empty_json(dir_warnings).to_string();
    };
    let summary = summary(it);
    serde_json::to_string(&status_out(history, it, &summary, goal, dir_warnings))
        .unwrap_or_default()
}

fn summary(it: &IterationData) -> Summary {
    Summary::with_provisional(&it.tests, &it.provisional)
}

fn empty_json(dir_warnings: &[String]) -> serde_json::Value {
    json!({
        "iteration": null,
        "iterations": 0,
        "totals": {"tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "provisional": 0},
        "modules": [],
        "provisional": [],
        "failures": [],
        "groups": [],
        "warnings": dir_warnings,
    })
}

fn status_out<'a>(
    history: History,
    it: &'a IterationData,
    summary: &'a Summary,
    goal: Option<usize>,
    dir_warnings: &'a [String],
) -> StatusOut<'a> {
    let failures = it
        .tests
        .iter()
        .filter(|t| t.outcome.is_failing())
        .map(|t| FailureOut {
            id: &t.id,
            module: &t.module,
            outcome: t.outcome,
            message: t.message().lines().next().unwrap_or(""),
        })
        .collect();
    let groups = summary
        .groups
        .iter()
        .map(|g| GroupOut {
            signature: &g.signature,
            message: g.message.lines().next().unwrap_or(""),
            count: g.tests.len(),
            tests: g.tests.iter().map(|&i| it.tests[i].id.as_str()).collect(),
        })
        .collect();
    let modules = summary
        .modules
        .iter()
        .map(|m| ModuleOut {
            errors: m.errors,
            failed: m.failed,
            name: &m.name,
            passed: m.passed,
            provisional: m.provisional,
            skipped: m.skipped,
        })
        .collect();
    let mut warnings: Vec<&str> = dir_warnings.iter().map(String::as_str).collect();
    warnings.extend(it.warnings.iter().map(String::as_str));
    let goal_total = goal.unwrap_or(history.most_tests);
    StatusOut {
        command: None,
        deploy: value(&it.deploy),
        failures,
        files: value(&it.files),
        goal: goal_total,
        groups,
        iteration: it.number,
        iteration_key: &it.key,
        iterations: history.iterations,
        lock: None,
        meta: value(&it.meta),
        modules,
        provisional: provisional_ids(it).collect(),
        run_errors: &it.run_errors,
        runs: None,
        running: it.running,
        totals: value(&summary.totals),
        warnings,
    }
}

/// Ids of the tests that pass only because a rerun of the failing tests says so.
fn provisional_ids(it: &IterationData) -> impl Iterator<Item = &str> {
    it.provisional.iter().map(|&i| it.tests[i].id.as_str())
}

/// A small part serialised through a `Value` (sorted keys, like the rest).
fn value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub fn to_text(
    title: &str,
    history: History,
    it: Option<&IterationData>,
    goal: Option<usize>,
    dir_warnings: &[String],
) -> String {
    let mut out = String::new();
    let title = sanitize::line(title);
    let Some(it) = it else {
        let _ = writeln!(out, "{title}: no test reports found");
        for w in dir_warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        return out;
    };
    let s = summary(it);
    let t = s.totals;
    let goal_total = goal.unwrap_or(history.most_tests);
    let _ = writeln!(
        out,
        "{title} · iteration {} ({}) of {} · {}",
        it.number,
        it.key,
        history.iterations,
        if it.running { "running" } else { "finished" }
    );
    if let Some(issue) = it.meta.as_ref().and_then(|m| m.issue.as_deref()) {
        let _ = writeln!(out, "issue: {issue}");
    }
    let _ = writeln!(
        out,
        "tests {} · passed {} · failed {} · errors {} · skipped {} · goal {}/{}",
        t.tests,
        t.passed,
        t.failed,
        t.errors,
        t.skipped,
        t.verified(),
        goal_total
    );
    if t.provisional > 0 {
        let _ = writeln!(
            out,
            "provisional {}: passed only in a rerun of the failing tests; not counted towards the goal until a full run confirms them",
            t.provisional
        );
    }
    if let Some(d) = &it.deploy {
        let _ = writeln!(
            out,
            "deploy: {} {} {}",
            d.service.as_deref().unwrap_or("?"),
            d.revision.as_deref().unwrap_or("?"),
            d.state.label()
        );
    }
    let _ = writeln!(
        out,
        "\nmodules {}/{} passing",
        s.green_modules(),
        s.modules.len()
    );
    for m in &s.modules {
        let mark = match (m.is_green(), m.provisional > 0) {
            (false, _) => "FAIL",
            (true, true) => "ok~ ",
            (true, false) => "ok  ",
        };
        let _ = writeln!(out, "  {mark} {:<50} {}/{}", m.name, m.passed, m.total());
    }
    if !s.groups.is_empty() {
        let _ = writeln!(
            out,
            "\nfailures: {} in {} groups",
            t.failing(),
            s.groups.len()
        );
        for g in &s.groups {
            let _ = writeln!(
                out,
                "  {} × {}",
                g.tests.len(),
                g.message.lines().next().unwrap_or("")
            );
            for &i in &g.tests {
                let test = &it.tests[i];
                let word = if test.outcome == Outcome::Errored {
                    "ERROR"
                } else {
                    "FAIL "
                };
                let _ = writeln!(out, "      {word} {}", test.id);
            }
        }
    }
    if t.provisional > 0 {
        let _ = writeln!(
            out,
            "\nprovisional: {} (passed only in a rerun)",
            t.provisional
        );
        for id in provisional_ids(it) {
            let _ = writeln!(out, "      PROV  {id}");
        }
    }
    let warnings: Vec<&String> = dir_warnings.iter().chain(it.warnings.iter()).collect();
    if !warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Store;

    #[test]
    fn json_text_is_the_json_value_as_text() {
        let reports = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reports");
        let mut seen = 0;
        for entry in std::fs::read_dir(reports).unwrap() {
            let dir = entry.unwrap().path();
            for case in std::fs::read_dir(&dir).into_iter().flatten() {
                let case = case.unwrap().path();
                let Ok(store) = Store::open(&case) else {
                    continue;
                };
                let iterations = store.refresh_once().updated;
                let it = iterations.last();
                assert_eq!(
                    json_text(History::of(&iterations), it, Some(7), &["w".into()]),
                    to_json(History::of(&iterations), it, Some(7), &["w".into()]).to_string(),
                    "{}",
                    case.display()
                );
                seen += usize::from(it.is_some_and(|it| !it.tests.is_empty()));
            }
        }
        assert!(seen >= 10, "{seen}");
        assert_eq!(
            json_text(History::default(), None, None, &[]),
            to_json(History::default(), None, None, &[]).to_string()
        );
    }
}

/// What runs in the loop now, from the results directory: the lock holder
/// and the iteration's run records (`runs.jsonl`).
#[derive(Debug, Default, Serialize)]
pub struct Activity {
    pub lock: Option<crate::lock::LockInfo>,
    /// The iteration's runs, oldest first (one record per attempt).
    pub runs: Vec<crate::model::RunRecord>,
}

impl Activity {
    pub fn read(results_dir: &std::path::Path, it: Option<&IterationData>) -> Activity {
        Activity {
            lock: crate::lock::holder(results_dir),
            runs: it.map_or_else(Vec::new, |it| {
                crate::runner::read_runs(&it.path.join("runs.jsonl"))
            }),
        }
    }

    /// The run still going: no `finished` record, and its loopdeck still holds the lock.
    pub fn running(&self) -> Option<&crate::model::RunRecord> {
        let holder = self.lock.as_ref()?;
        self.runs
            .iter()
            .rev()
            .find(|r| r.is_running() && r.host == holder.host)
    }
}

/// What `loopdeck status --json` prints: the status object with
/// `command` (the running run or null), `lock` and `runs` added (all keys
/// in alphabetical order), written straight to `out` (a 100k-test report
/// gives a megabyte of JSON: no intermediate copies of it).
pub fn write_json<W: std::io::Write>(
    out: W,
    history: History,
    it: Option<&IterationData>,
    goal: Option<usize>,
    dir_warnings: &[String],
    activity: &Activity,
) -> std::io::Result<()> {
    let mut out = out;
    match it {
        Some(it) => {
            let summary = summary(it);
            let status = StatusOut {
                command: Some(activity.running()),
                lock: Some(&activity.lock),
                runs: Some(&activity.runs),
                ..status_out(history, it, &summary, goal, dir_warnings)
            };
            serde_json::to_writer(&mut out, &status)?;
        }
        None => {
            let mut status = empty_json(dir_warnings);
            let more = json!({
                "command": activity.running(),
                "lock": activity.lock,
                "runs": activity.runs,
            });
            if let (Some(map), serde_json::Value::Object(more)) = (status.as_object_mut(), more) {
                map.extend(more);
            }
            serde_json::to_writer(&mut out, &status)?;
        }
    }
    out.write_all(b"\n")?;
    out.flush()
}

/// The same in words, for the text output.
pub fn activity_text(activity: &Activity) -> String {
    let mut out = String::new();
    match activity.running() {
        Some(r) => {
            let _ = writeln!(
                out,
                "running: {} since {} (pid {}, {}@{})",
                r.kind.label(),
                r.started.format("%H:%M:%S UTC"),
                r.pid,
                sanitize::line(&r.user),
                sanitize::line(&r.host)
            );
        }
        None => {
            if let Some(last) = activity.runs.last() {
                // No end recorded and nobody holds the lock: the loopdeck
                // that ran it was killed (SIGKILL, power loss) mid-run.
                let word = if last.is_running() {
                    "interrupted (no end recorded; the loopdeck that ran it is gone)"
                } else {
                    last.outcome_word()
                };
                let _ = writeln!(out, "last run: {} {word}", last.kind.label());
            }
        }
    }
    if let Some(lock) = &activity.lock {
        let _ = writeln!(out, "lock: held by {}", sanitize::line(&lock.to_string()));
    }
    out
}
