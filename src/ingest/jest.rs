//! Jest `--json` and Vitest `--reporter=json` documents (Vitest writes a
//! Jest-compatible shape).
//!
//! Jest: id = `ancestorTitles › title` as the console prints it, module = the
//! test file relative to the project. Vitest: id = `file > describe > test`,
//! module = the file. todo / pending / skipped / disabled count as skipped.
//! A test file that failed to load (no tests, status failed, a message) is
//! one errored entry whose id is the file.

use serde_json::Value;

use super::text::{message_line, relative_paths, strip_ansi};
use crate::model::{Failure, Outcome, Report, TestCase};

pub fn is_vitest(doc: &Value) -> bool {
    if doc.get("numRuntimeErrorTestSuites").is_some() || doc.get("openHandles").is_some() {
        return false;
    }
    let first = doc
        .get("testResults")
        .and_then(Value::as_array)
        .and_then(|r| {
            r.iter()
                .find_map(|f| f.get("assertionResults")?.as_array()?.first())
        });
    match first {
        Some(a) => a.get("failureDetails").is_none() && a.get("meta").is_some(),
        None => false,
    }
}

pub fn parse(doc: &Value) -> Report {
    let vitest = is_vitest(doc);
    let files: Vec<&Value> = doc
        .get("testResults")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f.get("name").and_then(Value::as_str).unwrap_or(""))
        .collect();
    let rel = relative_paths(&names);
    let mut tests = Vec::new();
    let mut run_errors = Vec::new();
    for (file, module) in files.iter().zip(rel) {
        let assertions = file.get("assertionResults").and_then(Value::as_array);
        let suite_message = file.get("message").and_then(Value::as_str).unwrap_or("");
        if assertions.is_none_or(|a| a.is_empty()) {
            if file.get("status").and_then(Value::as_str) == Some("failed")
                || !suite_message.is_empty()
            {
                tests.push(TestCase {
                    id: module.clone(),
                    module: module.as_str().into(),
                    outcome: Outcome::Errored,
                    duration_secs: None,
                    failure: Some(Box::new(Failure {
                        message: suite_failure_message(suite_message),
                        kind: None,
                        detail: suite_message.to_string(),
                        ..Failure::default()
                    })),
                });
            }
            continue;
        }
        for a in assertions.into_iter().flatten() {
            let title = a.get("title").and_then(Value::as_str).unwrap_or("");
            let ancestors: Vec<&str> = a
                .get("ancestorTitles")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let id = if vitest {
                let mut parts = vec![module.as_str()];
                parts.extend(&ancestors);
                parts.push(title);
                parts.join(" > ")
            } else {
                let mut parts = ancestors.clone();
                parts.push(title);
                parts.join(" › ")
            };
            let outcome = match a.get("status").and_then(Value::as_str).unwrap_or("") {
                "passed" | "focused" => Outcome::Passed,
                "failed" => Outcome::Failed,
                _ => Outcome::Skipped,
            };
            let failure = (outcome == Outcome::Failed).then(|| {
                let msgs: Vec<&str> = a
                    .get("failureMessages")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let detail = msgs.join("\n\n");
                Box::new(Failure {
                    message: test_message(&detail, vitest),
                    kind: None,
                    detail,
                    ..Failure::default()
                })
            });
            let duration = a
                .get("duration")
                .and_then(Value::as_f64)
                .map(|ms| ms / 1000.0);
            tests.push(TestCase {
                id,
                module: module.as_str().into(),
                outcome,
                duration_secs: duration,
                failure,
            });
        }
    }
    if let Some(errors) = doc.get("numRuntimeErrorTestSuites").and_then(Value::as_u64)
        && errors > 0
    {
        run_errors.push(format!("{errors} test file(s) failed to run"));
    }
    Report {
        format: if vitest { "Vitest JSON" } else { "Jest JSON" },
        tests,
        run_errors,
        complete: true,
        expected_total: doc
            .get("numTotalTests")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
        warnings: Vec::new(),
    }
}

/// Jest prints a failure without the `Error: ` its stack starts with.
/// Vitest's JSON keeps only the stack of a timeout, whose first line is the
/// placeholder `Error: STACK_TRACE_ERROR` (the console says
/// `Error: Test timed out in N ms.`).
fn test_message(detail: &str, vitest: bool) -> String {
    let line = message_line(detail);
    if vitest {
        if line == "Error: STACK_TRACE_ERROR" {
            return "Error: Test timed out".to_string();
        }
        line
    } else {
        line.strip_prefix("Error: ")
            .map(str::to_string)
            .unwrap_or(line)
    }
}

/// `● Test suite failed to run\n\n    Cannot find module ...` -> the line
/// after the header.
fn suite_failure_message(message: &str) -> String {
    let plain = strip_ansi(message);
    let mut lines = plain.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut first = lines.next().unwrap_or("");
    if first.contains("Test suite failed to run") {
        first = lines.next().unwrap_or(first);
    }
    message_line(first)
}
