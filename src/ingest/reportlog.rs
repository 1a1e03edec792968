//! pytest `--report-log` JSON lines, and the pytest-json-report document
//! (same data, different shape).
//!
//! Each test has a setup, call and teardown report. Outcome: setup failed ->
//! errored; call failed -> failed; call or setup skipped -> skipped (xfail
//! too); call passed -> passed (xpass too); a teardown error turns a passed
//! test into errored and is counted once. A failed CollectReport (module that
//! cannot be imported) is one errored entry whose id is the module path.

use serde_json::Value;

use super::lines::Sink;
use super::pytest::{first_e_line, module_of};
use super::text::message_line;
use crate::model::{Failure, Outcome, Report, TestCase};

#[derive(Debug, Default)]
pub(crate) struct ReportLogState {
    pub finished: bool,
}

impl ReportLogState {
    pub fn event(&mut self, v: &Value, sink: &mut Sink) {
        match v.get("$report_type").and_then(Value::as_str).unwrap_or("") {
            "SessionFinish" => self.finished = true,
            "CollectReport" if v.get("outcome").and_then(Value::as_str) == Some("failed") => {
                let nodeid = v.get("nodeid").and_then(Value::as_str).unwrap_or("");
                sink.upsert(collection_error(nodeid, v.get("longrepr")));
            }
            "TestReport" => self.test_report(v, sink),
            _ => {}
        }
    }

    fn test_report(&mut self, v: &Value, sink: &mut Sink) {
        let nodeid = v.get("nodeid").and_then(Value::as_str).unwrap_or("");
        let when = v.get("when").and_then(Value::as_str).unwrap_or("");
        let outcome = v.get("outcome").and_then(Value::as_str).unwrap_or("");
        let outcome = match (when, outcome) {
            ("setup", "failed") => Outcome::Errored,
            ("setup", "skipped") => Outcome::Skipped,
            ("call", "failed") => Outcome::Failed,
            ("call", "skipped") => Outcome::Skipped,
            ("call", "passed") => Outcome::Passed,
            ("teardown", "failed") => Outcome::Errored,
            // setup/teardown that passed say nothing about the test.
            _ => return,
        };
        // xfail is a skipped call and xpass a passed one: pytest already
        // reports them with those outcomes (with a `wasxfail` key).
        let failure = outcome.is_failing().then(|| {
            let longrepr = v.get("longrepr");
            let mut f = Failure {
                message: crash_message(longrepr),
                kind: None,
                detail: render_longrepr(longrepr),
                ..Failure::default()
            };
            captured(v.get("sections"), &mut f);
            Box::new(f)
        });
        sink.upsert(TestCase {
            id: nodeid.to_string(),
            module: module_of(nodeid).into(),
            outcome,
            duration_secs: v.get("duration").and_then(Value::as_f64),
            failure,
        });
    }
}

fn collection_error(nodeid: &str, longrepr: Option<&Value>) -> TestCase {
    let detail = render_longrepr(longrepr);
    let message = first_e_line(&detail)
        .map(message_line)
        .unwrap_or_else(|| crash_message(longrepr));
    TestCase {
        id: nodeid.to_string(),
        module: module_of(nodeid).into(),
        outcome: Outcome::Errored,
        duration_secs: None,
        failure: Some(Box::new(Failure {
            message,
            kind: None,
            detail,
            ..Failure::default()
        })),
    }
}

/// `longrepr.reprcrash.message` (first line); for a string longrepr its
/// first `E   ` line.
fn crash_message(longrepr: Option<&Value>) -> String {
    match longrepr {
        Some(Value::Object(o)) => {
            let crash = o
                .get("reprcrash")
                .and_then(|c| c.get("message"))
                .and_then(Value::as_str);
            match crash {
                Some(m) => message_line(m),
                None => message_line(&render_longrepr(longrepr)),
            }
        }
        Some(Value::String(s)) => first_e_line(s)
            .map(message_line)
            .unwrap_or_else(|| message_line(s)),
        Some(Value::Array(a)) => a
            .last()
            .and_then(Value::as_str)
            .map(message_line)
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Text of a longrepr: the traceback entries as pytest prints them.
fn render_longrepr(longrepr: Option<&Value>) -> String {
    let Some(longrepr) = longrepr else {
        return String::new();
    };
    match longrepr {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(":"),
        Value::Object(o) => {
            let mut out = String::new();
            let entries = o
                .get("reprtraceback")
                .and_then(|t| t.get("reprentries"))
                .and_then(Value::as_array);
            for entry in entries.into_iter().flatten() {
                let data = entry.get("data").unwrap_or(entry);
                if let Some(args) = data
                    .get("reprfuncargs")
                    .and_then(|a| a.get("args"))
                    .and_then(Value::as_array)
                {
                    for arg in args {
                        if let Some([k, v]) = arg.as_array().map(Vec::as_slice) {
                            out.push_str(&format!(
                                "{} = {}\n",
                                k.as_str().unwrap_or(""),
                                v.as_str().unwrap_or("")
                            ));
                        }
                    }
                    if !args.is_empty() {
                        out.push('\n');
                    }
                }
                if let Some(lines) = data.get("lines").and_then(Value::as_array) {
                    for l in lines {
                        out.push_str(l.as_str().unwrap_or(""));
                        out.push('\n');
                    }
                }
                if let Some(loc) = data.get("reprfileloc") {
                    let path = loc.get("path").and_then(Value::as_str).unwrap_or("");
                    let line = loc.get("lineno").and_then(Value::as_u64).unwrap_or(0);
                    let msg = loc.get("message").and_then(Value::as_str).unwrap_or("");
                    out.push_str(&format!("\n{path}:{line}: {msg}\n"));
                }
                out.push('\n');
            }
            if out.is_empty()
                && let Some(m) = o
                    .get("reprcrash")
                    .and_then(|c| c.get("message"))
                    .and_then(Value::as_str)
            {
                out.push_str(m);
            }
            out.trim_end().to_string()
        }
        other => other.to_string(),
    }
}

/// `sections: [["Captured stdout call", "..."], ...]` -> stdout / stderr.
fn captured(sections: Option<&Value>, f: &mut Failure) {
    for s in sections.and_then(Value::as_array).into_iter().flatten() {
        let Some([name, text]) = s.as_array().map(Vec::as_slice) else {
            continue;
        };
        let (name, text) = (name.as_str().unwrap_or(""), text.as_str().unwrap_or(""));
        let target = if name.contains("stdout") {
            &mut f.stdout
        } else {
            &mut f.stderr
        };
        if !name.contains("stdout") && !name.contains("stderr") {
            target.push_str(&format!("--- {name} ---\n"));
        }
        target.push_str(text);
    }
}

/// pytest-json-report (`--json-report`): a document with `tests` (each with
/// setup/call/teardown stages) and `collectors`.
pub fn json_report(doc: &Value) -> Report {
    let mut sink = Sink::default();
    for c in doc
        .get("collectors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if c.get("outcome").and_then(Value::as_str) == Some("failed") {
            let nodeid = c.get("nodeid").and_then(Value::as_str).unwrap_or("");
            sink.upsert(collection_error(nodeid, c.get("longrepr")));
        }
    }
    for t in doc
        .get("tests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let nodeid = t.get("nodeid").and_then(Value::as_str).unwrap_or("");
        let outcome = match t.get("outcome").and_then(Value::as_str).unwrap_or("") {
            "passed" | "xpassed" => Outcome::Passed,
            "failed" => Outcome::Failed,
            "error" => Outcome::Errored,
            _ => Outcome::Skipped, // skipped, xfailed
        };
        let stages = ["setup", "call", "teardown"].map(|s| t.get(s));
        let failed_stage = stages
            .iter()
            .flatten()
            .find(|s| s.get("outcome").and_then(Value::as_str) == Some("failed"));
        let failure = outcome.is_failing().then(|| {
            let mut f = Failure::default();
            if let Some(st) = failed_stage {
                f.message = st
                    .get("crash")
                    .and_then(|c| c.get("message"))
                    .and_then(Value::as_str)
                    .map(message_line)
                    .unwrap_or_else(|| crash_message(st.get("longrepr")));
                f.detail = render_longrepr(st.get("longrepr"));
                f.stdout = st
                    .get("stdout")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                f.stderr = st
                    .get("stderr")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
            }
            Box::new(f)
        });
        let duration = stages[1]
            .and_then(|c| c.get("duration"))
            .and_then(Value::as_f64);
        sink.upsert(TestCase {
            id: nodeid.to_string(),
            module: module_of(nodeid).into(),
            outcome,
            duration_secs: duration,
            failure,
        });
    }
    Report {
        format: "pytest-json-report",
        tests: sink.tests,
        run_errors: Vec::new(),
        complete: true,
        expected_total: doc
            .get("summary")
            .and_then(|s| s.get("collected"))
            .and_then(Value::as_u64)
            .map(|n| n as usize),
        warnings: Vec::new(),
    }
}
