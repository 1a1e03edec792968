//! `go test -json` (test2json events), one event per line. Also the message
//! rule shared with gotestsum's JUnit (whose bodies are the same output).
//!
//! id = `<import path> <Test/Subtest>`, module = import path. Output of a
//! running test is buffered until its result: dropped when it passes, kept as
//! the failure detail when it fails. A test that started but has no result
//! when its package ends (the binary panicked or timed out) counts as failed;
//! a package that fails with no test at all (build failure) is one errored
//! entry whose id is the import path.

use std::collections::HashMap;

use serde_json::Value;

use super::lines::Sink;
use super::text::message_line;
use crate::model::{Failure, Outcome, TestCase};

/// Output kept per running test; beyond this the rest is dropped (and said so).
const MAX_TEST_OUTPUT: usize = 1 << 20;
/// Package-level output lines kept for a build failure message.
const MAX_PACKAGE_LINES: usize = 50;

/// First line a test printed that is not go's own framing
/// (`=== RUN`, `--- FAIL: ...`), trimmed; empty when there is none (a parent
/// test that only failed through a subtest).
pub fn first_output_line(output: &str) -> String {
    for line in output.lines() {
        let t = line.trim();
        if t.is_empty() || is_framing(t) {
            continue;
        }
        return message_line(t);
    }
    String::new()
}

fn is_framing(t: &str) -> bool {
    [
        "=== RUN",
        "=== PAUSE",
        "=== CONT",
        "=== NAME",
        "--- FAIL",
        "--- PASS",
        "--- SKIP",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

#[derive(Debug, Default)]
struct Running {
    output: String,
    truncated: bool,
}

#[derive(Debug, Default)]
pub(crate) struct GoState {
    running: HashMap<(String, String), Running>,
    /// Tests seen per package (to tell a build failure from a test failure).
    tests_per_pkg: HashMap<String, usize>,
    pkg_output: HashMap<String, Vec<String>>,
    packages_done: usize,
}

impl GoState {
    pub fn is_complete(&self) -> bool {
        self.packages_done > 0 && self.running.is_empty()
    }

    pub fn event(&mut self, v: &Value, sink: &mut Sink) {
        let action = v.get("Action").and_then(Value::as_str).unwrap_or("");
        let pkg = v
            .get("Package")
            .or_else(|| v.get("ImportPath"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let test = v.get("Test").and_then(Value::as_str);
        let elapsed = v.get("Elapsed").and_then(Value::as_f64);
        match (action, test) {
            ("run", Some(t)) => {
                *self.tests_per_pkg.entry(pkg.clone()).or_default() += 1;
                self.running
                    .insert((pkg, t.to_string()), Running::default());
            }
            ("output", Some(t)) => {
                let out = v.get("Output").and_then(Value::as_str).unwrap_or("");
                if let Some(r) = self.running.get_mut(&(pkg, t.to_string())) {
                    if r.output.len() + out.len() <= MAX_TEST_OUTPUT {
                        r.output.push_str(out);
                    } else {
                        r.truncated = true;
                    }
                }
            }
            ("output" | "build-output", None) => {
                let out = v.get("Output").and_then(Value::as_str).unwrap_or("");
                let lines = self.pkg_output.entry(pkg).or_default();
                if lines.len() < MAX_PACKAGE_LINES {
                    lines.push(out.trim_end().to_string());
                }
            }
            (result @ ("pass" | "fail" | "skip"), Some(t)) => {
                let running = self
                    .running
                    .remove(&(pkg.clone(), t.to_string()))
                    .unwrap_or_default();
                let outcome = match result {
                    "pass" => Outcome::Passed,
                    "skip" => Outcome::Skipped,
                    _ => Outcome::Failed,
                };
                if !self.tests_per_pkg.contains_key(&pkg) {
                    self.tests_per_pkg.insert(pkg.clone(), 1);
                }
                sink.upsert(finished(&pkg, t, outcome, elapsed, running, None));
            }
            ("pass" | "fail" | "skip" | "build-fail", None) => {
                self.packages_done += 1;
                let pkg_failed = action == "fail" || action == "build-fail";
                // Tests still running when their package ended never finish.
                let mut orphans: Vec<(String, String)> = self
                    .running
                    .keys()
                    .filter(|(p, _)| *p == pkg)
                    .cloned()
                    .collect();
                orphans.sort();
                for key in orphans {
                    let running = self.running.remove(&key).unwrap_or_default();
                    let why = "test did not finish: its package exited (panic or -timeout)";
                    sink.upsert(finished(
                        &key.0,
                        &key.1,
                        Outcome::Failed,
                        None,
                        running,
                        Some(why),
                    ));
                }
                if pkg_failed && self.tests_per_pkg.get(&pkg).copied().unwrap_or(0) == 0 {
                    let lines = self.pkg_output.remove(&pkg).unwrap_or_default();
                    let message = lines
                        .iter()
                        .find(|l| {
                            let t = l.trim();
                            !t.is_empty() && t != "FAIL" && !t.starts_with('#')
                        })
                        .map(|l| message_line(l))
                        .unwrap_or_else(|| format!("package {pkg} failed"));
                    sink.upsert(TestCase {
                        id: pkg.clone(),
                        module: pkg.as_str().into(),
                        outcome: Outcome::Errored,
                        duration_secs: elapsed,
                        failure: Some(Box::new(Failure {
                            message,
                            kind: Some("build failed".into()),
                            detail: lines.join("\n"),
                            ..Failure::default()
                        })),
                    });
                } else {
                    self.pkg_output.remove(&pkg);
                }
            }
            _ => {}
        }
    }
}

fn finished(
    pkg: &str,
    test: &str,
    outcome: Outcome,
    elapsed: Option<f64>,
    running: Running,
    why: Option<&str>,
) -> TestCase {
    let failure = (outcome == Outcome::Failed).then(|| {
        let mut message = first_output_line(&running.output);
        if message.is_empty()
            && let Some(why) = why
        {
            message = why.to_string();
        }
        let mut detail = running.output;
        if running.truncated {
            detail.push_str("\n[output truncated by loopdeck]\n");
        }
        Box::new(Failure {
            message,
            kind: None,
            detail,
            ..Failure::default()
        })
    });
    TestCase {
        id: format!("{pkg} {test}"),
        module: pkg.into(),
        outcome,
        duration_secs: elapsed,
        failure,
    }
}
