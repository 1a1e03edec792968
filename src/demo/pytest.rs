//! What pytest writes: `--report-log` JSON lines (pytest-reportlog) and the
//! xunit2 `--junitxml` document, in the shapes of the fixtures under
//! `tests/fixtures/reports/pytest-*`.

use std::fmt::Write as _;
use std::io;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::script::{Failure, TestRun, When};

/// Width pytest's terminal writer assumes in reports (junit text).
const FULLWIDTH: usize = 80;

/// A JSON object whose keys keep the order they were pushed in.
struct Ordered<V>(Vec<(&'static str, V)>);

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct SessionStart<'a> {
    pytest_version: &'a str,
    #[serde(rename = "$report_type")]
    report_type: &'static str,
}

#[derive(Serialize)]
struct SessionFinish {
    exitstatus: i32,
    #[serde(rename = "$report_type")]
    report_type: &'static str,
}

#[derive(Serialize)]
struct CollectReport<'a> {
    outcome: &'static str,
    longrepr: Option<()>,
    result: Option<()>,
    sections: [(); 0],
    nodeid: &'a str,
    #[serde(rename = "$report_type")]
    report_type: &'static str,
}

#[derive(Serialize)]
struct TestReport<'a> {
    location: (&'a str, u32, &'a str),
    keywords: Keywords<'a>,
    outcome: &'static str,
    longrepr: Option<LongRepr>,
    when: &'static str,
    user_properties: [(); 0],
    sections: &'a [(String, String)],
    duration: f64,
    start: f64,
    stop: f64,
    #[serde(rename = "_json_report_extra")]
    extra: Ordered<PhaseExtra<'a>>,
    nodeid: &'a str,
    #[serde(rename = "$report_type")]
    report_type: &'static str,
}

struct Keywords<'a> {
    test: &'a str,
    file: &'a str,
    rootdir_name: &'a str,
}

impl Serialize for Keywords<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry(self.test, &1)?;
        map.serialize_entry("asyncio", &1)?;
        map.serialize_entry(self.file, &1)?;
        map.serialize_entry("e2e", &1)?;
        map.serialize_entry("tests", &1)?;
        map.serialize_entry(self.rootdir_name, &1)?;
        map.serialize_entry("", &1)?;
        map.end()
    }
}

#[derive(Serialize, Clone, Copy)]
struct PhaseExtra<'a> {
    log: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr: Option<&'a str>,
}

#[derive(Serialize, Clone)]
struct LongRepr {
    reprcrash: ReprCrash,
    reprtraceback: ReprTraceback,
    sections: [(); 0],
    chain: Vec<(ReprTraceback, ReprCrash, Option<String>)>,
}

#[derive(Serialize, Clone)]
struct ReprCrash {
    path: String,
    lineno: u32,
    message: String,
}

#[derive(Serialize, Clone)]
struct ReprTraceback {
    reprentries: Vec<ReprEntry>,
    extraline: Option<String>,
    style: &'static str,
}

#[derive(Serialize, Clone)]
struct ReprEntry {
    #[serde(rename = "type")]
    kind: &'static str,
    data: EntryData,
}

#[derive(Serialize, Clone)]
struct EntryData {
    lines: Vec<String>,
    reprfuncargs: Option<FuncArgs>,
    reprlocals: Option<()>,
    reprfileloc: FileLoc,
    style: String,
}

#[derive(Serialize, Clone)]
struct FuncArgs {
    args: Vec<(String, String)>,
}

#[derive(Serialize, Clone)]
struct FileLoc {
    path: String,
    lineno: u32,
    message: String,
}

fn long_repr(f: &Failure) -> LongRepr {
    let crash = ReprCrash {
        path: f.crash_path.clone(),
        lineno: f.crash_line,
        message: f.message.clone(),
    };
    let tb = ReprTraceback {
        reprentries: f
            .entries
            .iter()
            .map(|e| ReprEntry {
                kind: "ReprEntry",
                data: EntryData {
                    lines: e.lines.clone(),
                    reprfuncargs: (!e.args.is_empty()).then(|| FuncArgs {
                        args: e.args.clone(),
                    }),
                    reprlocals: None,
                    reprfileloc: FileLoc {
                        path: e.path.clone(),
                        lineno: e.line,
                        message: e.message.clone(),
                    },
                    style: e.style.clone(),
                },
            })
            .collect(),
        extraline: None,
        style: "long",
    };
    LongRepr {
        reprcrash: crash.clone(),
        reprtraceback: tb.clone(),
        sections: [],
        chain: vec![(tb, crash, None)],
    }
}

/// The text pytest prints for a failure (`str(report.longrepr)`), which is
/// also the body of a JUnit `<failure>` / `<error>`.
pub fn longrepr_text(f: &Failure) -> String {
    let mut out = String::new();
    let n = f.entries.len();
    for (i, e) in f.entries.iter().enumerate() {
        let fileloc = format!("{}:{}: {}", e.path, e.line, e.message);
        if e.style == "short" {
            out.push_str(&fileloc);
            out.push('\n');
            for l in &e.lines {
                out.push_str(l);
                out.push('\n');
            }
        } else {
            if !e.args.is_empty() {
                let mut so_far = String::new();
                for (name, value) in &e.args {
                    let ns = format!("{name} = {value}");
                    if ns.len() + so_far.len() + 2 > FULLWIDTH {
                        if !so_far.is_empty() {
                            out.push_str(&so_far);
                            out.push('\n');
                        }
                        so_far = ns;
                    } else if so_far.is_empty() {
                        so_far = ns;
                    } else {
                        so_far.push_str(", ");
                        so_far.push_str(&ns);
                    }
                }
                if !so_far.is_empty() {
                    out.push_str(&so_far);
                    out.push('\n');
                }
                out.push('\n');
            }
            for l in &e.lines {
                out.push_str(l);
                out.push('\n');
            }
            if !e.lines.is_empty() {
                out.push('\n');
            }
            out.push_str(&fileloc);
            out.push('\n');
        }
        if i + 1 < n {
            let next_long = f.entries[i + 1].style == "long";
            if e.style == "long" || next_long {
                out.push_str(&"_ ".repeat(FULLWIDTH / 2));
                out.push('\n');
            }
        }
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

pub fn session_start(pytest_version: &str) -> String {
    to_line(&SessionStart {
        pytest_version,
        report_type: "SessionStart",
    })
}

pub fn session_finish(exitstatus: i32) -> String {
    to_line(&SessionFinish {
        exitstatus,
        report_type: "SessionFinish",
    })
}

pub fn collect_report(nodeid: &str) -> String {
    to_line(&CollectReport {
        outcome: "passed",
        longrepr: None,
        result: None,
        sections: [],
        nodeid,
        report_type: "CollectReport",
    })
}

/// The phases of one test as report-log lines: `(when, line)`, in order.
/// `times` are `(start, stop)` Unix seconds for setup, call and teardown.
pub fn test_reports(
    run: &TestRun,
    rootdir_name: &str,
    times: [(f64, f64); 3],
) -> Vec<(&'static str, String)> {
    let file = run.module.rsplit('/').next().unwrap_or(&run.module);
    let keywords = || Keywords {
        test: &run.name,
        file,
        rootdir_name,
    };
    let failure = run.failure.as_ref();
    let setup_failed = failure.is_some_and(|f| f.when == When::Setup);
    let (out, err) = failure.map_or(("", ""), |f| (f.stdout.as_str(), f.stderr.as_str()));
    let phase_of_output = if setup_failed { "setup" } else { "call" };
    let mut sections: Vec<(String, String)> = Vec::new();
    let mut extra: Vec<(&'static str, PhaseExtra)> = Vec::new();
    let mut lines = Vec::new();
    let phases: &[&'static str] = if setup_failed {
        &["setup", "teardown"]
    } else {
        &["setup", "call", "teardown"]
    };
    for &when in phases {
        let has_output = when == phase_of_output && failure.is_some();
        extra.push((
            when,
            PhaseExtra {
                log: [],
                stdout: (has_output && !out.is_empty()).then_some(out),
                stderr: (has_output && !err.is_empty()).then_some(err),
            },
        ));
        if has_output {
            if !out.is_empty() {
                sections.push((format!("Captured stdout {when}"), out.to_string()));
            }
            if !err.is_empty() {
                sections.push((format!("Captured stderr {when}"), err.to_string()));
            }
        }
        let failed_here = failure.filter(|_| when == phase_of_output);
        let (start, stop) = match when {
            "setup" => times[0],
            "call" => times[1],
            _ => times[2],
        };
        let report = TestReport {
            location: (&run.module, run.line.saturating_sub(1), &run.name),
            keywords: keywords(),
            outcome: if failed_here.is_some() {
                "failed"
            } else {
                "passed"
            },
            longrepr: failed_here.map(long_repr),
            when,
            user_properties: [],
            sections: &sections,
            duration: ((stop - start) * 1e6).round() / 1e6,
            start,
            stop,
            extra: Ordered(extra.clone()),
            nodeid: &run.nodeid,
            report_type: "TestReport",
        };
        lines.push((when, to_line(&report)));
    }
    lines
}

/// One JSON line as Python's `json.dumps` writes it (what pytest-reportlog
/// uses): `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`.
fn to_line<T: Serialize>(value: &T) -> String {
    let mut buf = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, PythonFormatter);
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut s = String::from_utf8(buf).unwrap_or_default();
    s.push('\n');
    s
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(w, "\\u{u:04x}")?;
                }
            }
        }
        Ok(())
    }
}

fn centered(title: &str) -> String {
    let title = format!(" {title} ");
    let left = (FULLWIDTH - title.len()) / 2;
    let right = FULLWIDTH - title.len() - left;
    format!("{}{}{}", "-".repeat(left), title, "-".repeat(right))
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// What the xunit2 JUnit document of one session needs besides the runs.
pub struct Session<'a> {
    pub suite_name: &'a str,
    pub hostname: &'a str,
    /// `2026-03-12T09:00:04.600000+00:00`, as Python's `isoformat()`.
    pub timestamp: &'a str,
    pub runs: &'a [TestRun],
}

/// pytest `--junitxml` (xunit2, `junit_logging = all`), as one document.
pub fn junit_xml(s: &Session) -> String {
    let failures = s
        .runs
        .iter()
        .filter(|r| r.failure.as_ref().is_some_and(|f| f.when == When::Call))
        .count();
    let errors = s
        .runs
        .iter()
        .filter(|r| r.failure.as_ref().is_some_and(|f| f.when == When::Setup))
        .count();
    let time: f64 = s.runs.iter().map(|r| r.duration).sum();
    let mut x = String::with_capacity(64 * 1024);
    x.push_str(r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name=""#);
    escape(s.suite_name, &mut x);
    let _ = write!(
        x,
        r#"" errors="{errors}" failures="{failures}" skipped="0" tests="{}" time="{time:.3}" timestamp="{}" hostname=""#,
        s.runs.len(),
        s.timestamp
    );
    escape(s.hostname, &mut x);
    x.push_str(r#"">"#);
    for r in s.runs {
        let classname = r.module.trim_end_matches(".py").replace('/', ".");
        let _ = write!(
            x,
            r#"<testcase classname="{classname}" name="{}" time="{:.3}">"#,
            r.name, r.duration
        );
        let (out, err) = match &r.failure {
            Some(f) => {
                let (tag, message) = match f.when {
                    When::Call => ("failure", f.message.clone()),
                    When::Setup => ("error", format!("failed on setup with \"{}\"", f.message)),
                };
                let _ = write!(x, r#"<{tag} message=""#);
                escape(&message, &mut x);
                x.push_str(r#"">"#);
                escape(&longrepr_text(f), &mut x);
                let _ = write!(x, "</{tag}>");
                (f.stdout.as_str(), f.stderr.as_str())
            }
            None => ("", ""),
        };
        x.push_str("<system-out>");
        let body = format!(
            "{}\n\n{}\n{}\n",
            centered("Captured Log"),
            centered("Captured Out"),
            out
        );
        escape(&body, &mut x);
        x.push_str("</system-out><system-err>");
        escape(&format!("{}\n{}\n", centered("Captured Err"), err), &mut x);
        x.push_str("</system-err></testcase>");
    }
    x.push_str("</testsuite></testsuites>");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centered_matches_pytest() {
        let h = centered("Captured Log");
        assert_eq!(h.len(), 80);
        assert!(h.starts_with("--------------------------------- Captured Log "));
    }
}

#[cfg(test)]
mod python_json_tests {
    use super::*;

    #[test]
    fn lines_look_like_python_json_dumps() {
        assert_eq!(
            session_start("8.3.4"),
            "{\"pytest_version\": \"8.3.4\", \"$report_type\": \"SessionStart\"}\n"
        );
        #[derive(Serialize)]
        struct S {
            a: Vec<u8>,
            s: &'static str,
        }
        assert_eq!(
            to_line(&S {
                a: vec![1, 2],
                s: "é🎉\"\n"
            }),
            "{\"a\": [1, 2], \"s\": \"\\u00e9\\ud83c\\udf89\\\"\\n\"}\n"
        );
    }
}
