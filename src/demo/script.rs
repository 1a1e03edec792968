//! The demo script (`assets/demo/loop.json`) and its expansion into concrete,
//! deterministic test runs: every id, address and duration derives from a
//! hash of the iteration number and the test id.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The embedded script.
pub const SCRIPT_JSON: &str = include_str!("../../assets/demo/loop.json");

#[derive(Debug, Deserialize)]
pub struct Script {
    pub service: String,
    pub base_url: String,
    pub rootdir: String,
    pub pytest_version: String,
    pub hostname: String,
    pub suite_name: String,
    pub timing: Timing,
    pub modules: Vec<Module>,
    pub failures: BTreeMap<String, FailureKind>,
    pub iterations: Vec<IterationScript>,
}

/// Story seconds (at speed 1) between the events of one iteration.
#[derive(Debug, Deserialize)]
pub struct Timing {
    pub deploy_after: f64,
    pub live_after: f64,
    pub tests_after: f64,
    pub junit_after_tests: f64,
    pub finish_after_tests: f64,
    pub next_iteration_after_tests: f64,
}

#[derive(Debug, Deserialize)]
pub struct Module {
    pub path: String,
    /// `[name, line of the def (1-based), HTTP method, path template]`.
    pub tests: Vec<(String, u32, String, String)>,
}

#[derive(Debug, Deserialize)]
pub struct FailureKind {
    /// `setup` (an error) or `call` (a failure).
    pub when: String,
    pub message: String,
    pub crash_path: String,
    pub crash_line: u32,
    pub entries: Vec<EntryTemplate>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Deserialize)]
pub struct EntryTemplate {
    pub style: String,
    pub path: String,
    /// A number, or `"{line+N}"`: N lines below the test's `def`.
    pub line: serde_json::Value,
    pub message: String,
    #[serde(default)]
    pub args: Vec<(String, String)>,
    pub lines: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct IterationScript {
    pub issue_at_start: String,
    pub issue: String,
    pub root_cause: Option<String>,
    pub fix: Option<String>,
    pub notes: Option<String>,
    pub revision: String,
    pub deploy_message: String,
    pub live_message: String,
    /// Failure kind -> node ids failing with it.
    pub failing: BTreeMap<String, Vec<String>>,
}

/// Phase of a test in which it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Setup,
    Call,
}

/// One traceback entry, placeholders filled.
#[derive(Debug, Clone)]
pub struct Entry {
    pub style: String,
    pub path: String,
    pub line: u32,
    pub message: String,
    pub args: Vec<(String, String)>,
    pub lines: Vec<String>,
}

/// A concrete failure of one test.
#[derive(Debug, Clone)]
pub struct Failure {
    pub when: When,
    pub message: String,
    pub crash_path: String,
    pub crash_line: u32,
    pub entries: Vec<Entry>,
    pub stdout: String,
    pub stderr: String,
}

/// One test as it runs in one iteration.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub module: String,
    pub name: String,
    /// 1-based line of the `def`.
    pub line: u32,
    pub nodeid: String,
    /// Story seconds the test takes (setup + call + teardown).
    pub duration: f64,
    pub failure: Option<Failure>,
}

pub fn load() -> std::io::Result<Script> {
    let script: Script = serde_json::from_str(SCRIPT_JSON).map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("demo script: {e}"))
    })?;
    // Every failing id must be a test of the suite and every kind must exist.
    for (i, it) in script.iterations.iter().enumerate() {
        for (kind, ids) in &it.failing {
            if !script.failures.contains_key(kind) {
                return Err(invalid(format!(
                    "iteration {}: unknown failure kind {kind}",
                    i + 1
                )));
            }
            for id in ids {
                if !script.modules.iter().any(|m| {
                    m.tests
                        .iter()
                        .any(|t| format!("{}::{}", m.path, t.0) == *id)
                }) {
                    return Err(invalid(format!("iteration {}: unknown test {id}", i + 1)));
                }
            }
        }
    }
    Ok(script)
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("demo script: {msg}"),
    )
}

/// FNV-1a, 64 bits: stable across platforms and Rust versions.
pub fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

impl Script {
    /// The tests of iteration `index` (0-based), in run order.
    pub fn runs(&self, index: usize) -> Vec<TestRun> {
        let it = &self.iterations[index];
        let iter_tag = (index + 1).to_string();
        let mut runs = Vec::new();
        for module in &self.modules {
            for (name, line, method, path) in &module.tests {
                let nodeid = format!("{}::{}", module.path, name);
                let kind = it
                    .failing
                    .iter()
                    .find(|(_, ids)| ids.contains(&nodeid))
                    .map(|(kind, _)| &self.failures[kind]);
                let h = hash(&[&iter_tag, &nodeid, "duration"]);
                let mut duration = 0.04 + 0.17 * (h % 1000) as f64 / 1000.0;
                let failure = kind.map(|kind| {
                    duration += 0.2;
                    let vars = Vars {
                        script: self,
                        iteration: index,
                        module: &module.path,
                        test: name,
                        line: *line,
                        method,
                        path,
                        nodeid: &nodeid,
                    };
                    vars.failure(kind)
                });
                runs.push(TestRun {
                    module: module.path.clone(),
                    name: name.clone(),
                    line: *line,
                    nodeid,
                    duration: (duration * 1000.0).round() / 1000.0,
                    failure,
                });
            }
        }
        runs
    }
}

/// What placeholders expand to for one test in one iteration.
struct Vars<'a> {
    script: &'a Script,
    iteration: usize,
    module: &'a str,
    test: &'a str,
    line: u32,
    method: &'a str,
    path: &'a str,
    nodeid: &'a str,
}

impl Vars<'_> {
    fn hash(&self, salt: &str) -> u64 {
        hash(&[&(self.iteration + 1).to_string(), self.nodeid, salt])
    }

    /// A number for an id placeholder in a URL (`{room}`, `{msg}`...).
    fn id(&self, name: &str) -> u64 {
        match name {
            // The same room across a test's iterations reads naturally.
            "room" | "user" => 1000 + hash(&[self.nodeid, name]) % 9000,
            _ => 10_000 + self.hash(name) % 90_000,
        }
    }

    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "test" => self.test.to_string(),
            "module" => self.module.to_string(),
            "method" => self.method.to_string(),
            "method_lc" => self.method.to_ascii_lowercase(),
            "path" => fill(self.path, &|n| Some(self.id(n).to_string())),
            "path_lit" if self.path.contains('{') => {
                format!("f\"{}\"", fill(self.path, &|n| Some(format!("{{{n}.id}}"))))
            }
            "path_lit" => format!("\"{}\"", self.path),
            "path_src" => fill(self.path, &|n| Some(format!("{{{n}.id}}"))),
            "rid" => format!("{:012x}", self.hash("rid") & 0xffff_ffff_ffff),
            "rid6" => format!("{:06x}", self.hash("rid") & 0xff_ffff),
            "addr" => format!("0x7f{:010x}", (self.hash("addr") & 0xff_ffff_fff0)),
            "addr2" => format!("0x7f{:010x}", (self.hash("addr2") & 0xff_ffff_fff0)),
            "ms" => (8 + self.hash("ms") % 90).to_string(),
            "room" | "msg" | "user" | "file" => self.id(name).to_string(),
            "rev" => self.script.iterations[self.iteration].revision.clone(),
            "base_url" => self.script.base_url.clone(),
            "rootdir" => self.script.rootdir.clone(),
            _ => return None,
        })
    }

    fn fill(&self, template: &str) -> String {
        fill(template, &|n| self.value(n))
    }

    fn failure(&self, kind: &FailureKind) -> Failure {
        Failure {
            when: if kind.when == "setup" {
                When::Setup
            } else {
                When::Call
            },
            message: self.fill(&kind.message),
            crash_path: self.fill(&kind.crash_path),
            crash_line: kind.crash_line,
            entries: kind
                .entries
                .iter()
                .map(|e| Entry {
                    style: e.style.clone(),
                    path: self.fill(&e.path),
                    line: match &e.line {
                        serde_json::Value::Number(n) => n.as_u64().unwrap_or(1) as u32,
                        serde_json::Value::String(s) => {
                            let offset = s
                                .trim_start_matches("{line+")
                                .trim_end_matches('}')
                                .parse::<u32>()
                                .unwrap_or(0);
                            self.line + offset
                        }
                        _ => 1,
                    },
                    message: self.fill(&e.message),
                    args: e
                        .args
                        .iter()
                        .map(|(k, v)| (k.clone(), self.fill(v)))
                        .collect(),
                    lines: e.lines.iter().map(|l| self.fill(l)).collect(),
                })
                .collect(),
            stdout: self.fill(&kind.stdout),
            stderr: self.fill(&kind.stderr),
        }
    }
}

/// Replaces `{name}` where `value(name)` knows the name; every other brace
/// (Python f-strings, dict literals, JSON) is kept as written. One pass: an
/// inserted value is not expanded again.
pub fn fill(template: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let replaced = (after[name_len..].starts_with('}') && name_len > 0)
            .then(|| value(&after[..name_len]))
            .flatten();
        match replaced {
            Some(v) => {
                out.push_str(&v);
                rest = &after[name_len + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_keeps_unknown_braces() {
        let v = |n: &str| (n == "x").then(|| "1".to_string());
        assert_eq!(
            fill("{x}/{y}/{a.b}/{\"k\": {x}}", &v),
            "1/{y}/{a.b}/{\"k\": 1}"
        );
        assert_eq!(fill("{", &v), "{");
        assert_eq!(fill("{x", &v), "{x");
    }

    #[test]
    fn script_loads_and_expands() {
        let s = load().unwrap();
        let runs = s.runs(0);
        assert_eq!(runs.len(), 60);
        let f = runs.iter().find_map(|r| r.failure.as_ref()).unwrap();
        assert!(f.message.contains("403 Forbidden"), "{}", f.message);
        assert!(!f.message.contains('{'), "{}", f.message);
    }
}
