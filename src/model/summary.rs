//! Counts, modules and failure groups derived from a list of tests. Pure and
//! recomputed whenever an iteration's tests change: derived, never stored twice.

use std::collections::HashMap;

use serde::Serialize;

use super::{Outcome, TestCase};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
    /// Of `passed`: those that pass only because a rerun of the failing
    /// tests says so (no full run has confirmed them yet).
    pub provisional: usize,
}

impl Totals {
    pub fn add(&mut self, outcome: Outcome) {
        self.tests += 1;
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Errored => self.errors += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    pub fn failing(&self) -> usize {
        self.failed + self.errors
    }

    /// Passes a full run confirmed: what counts towards the goal.
    pub fn verified(&self) -> usize {
        self.passed - self.provisional
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleSummary {
    pub name: String,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
    /// Of `passed`: provisional ones (see [`Totals::provisional`]).
    pub provisional: usize,
}

impl ModuleSummary {
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.errors + self.skipped
    }
    pub fn failing(&self) -> usize {
        self.failed + self.errors
    }
    /// A module passes when nothing in it fails (skips do not fail it).
    pub fn is_green(&self) -> bool {
        self.failing() == 0
    }
}

/// Failing tests that share a normalized error signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureGroup {
    pub signature: String,
    /// The first member's message, shown as the group's title.
    pub message: String,
    /// Indices into the tests the summary was built from, in test order.
    pub tests: Vec<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub totals: Totals,
    /// Failing modules first, then by name.
    pub modules: Vec<ModuleSummary>,
    /// Largest group first.
    pub groups: Vec<FailureGroup>,
}

impl Summary {
    pub fn of(tests: &[TestCase]) -> Summary {
        Summary::with_provisional(tests, &[])
    }

    /// [`Summary::of`] where the tests at `provisional` (ascending indices,
    /// passes) pass only because of a rerun.
    pub fn with_provisional(tests: &[TestCase], provisional: &[usize]) -> Summary {
        let part = if tests.len() >= PARALLEL_FROM {
            // Two halves on two threads (a 100k-test report: 2 ms -> 1),
            // here alone if no thread can be started.
            let mid = tests.len() / 2;
            let split = provisional.partition_point(|&i| i < mid);
            let (a, b) = (
                (&tests[..mid], &provisional[..split], 0),
                (&tests[mid..], &provisional[split..], mid),
            );
            std::thread::scope(|s| {
                let second = std::thread::Builder::new()
                    .name("loopdeck-summary".into())
                    .spawn_scoped(s, move || Part::of(b.0, b.1, b.2));
                let first = Part::of(a.0, a.1, a.2);
                let second = match second.map(|h| h.join()) {
                    Ok(Ok(p)) => p,
                    _ => Part::of(b.0, b.1, b.2),
                };
                first.then(second)
            })
        } else {
            Part::of(tests, provisional, 0)
        };
        part.finish()
    }

    pub fn green_modules(&self) -> usize {
        self.modules.iter().filter(|m| m.is_green()).count()
    }

    /// Green modules whose green rests on a rerun for some test.
    pub fn provisional_modules(&self) -> usize {
        self.modules
            .iter()
            .filter(|m| m.is_green() && m.provisional > 0)
            .count()
    }
}

/// From this many tests on, a summary is made in two halves in parallel.
const PARALLEL_FROM: usize = 20_000;

/// The summary of a run of consecutive tests, unsorted: modules and groups
/// in the order they were first seen, with the names that index them.
struct Part<'t> {
    totals: Totals,
    modules: Vec<ModuleSummary>,
    /// The name of each module, as the tests hold it.
    names: Vec<&'t str>,
    module_index: HashMap<&'t str, usize>,
    groups: Vec<FailureGroup>,
    group_index: HashMap<String, usize>,
}

impl<'t> Part<'t> {
    /// `tests` start at index `offset` of the whole list; `provisional`
    /// holds whole-list indices inside them.
    fn of(tests: &'t [TestCase], provisional: &[usize], offset: usize) -> Part<'t> {
        let mut provisional = provisional.iter().copied().peekable();
        let mut p = Part {
            totals: Totals::default(),
            modules: Vec::new(),
            names: Vec::new(),
            module_index: HashMap::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
        };
        // Tests of one module are usually contiguous: the last module found
        // is checked first (pointer, then text), so the map is hashed once
        // per run of tests, not once per test.
        let mut last: Option<(&str, usize)> = None;
        for (i, test) in (offset..).zip(tests) {
            p.totals.add(test.outcome);
            let name: &str = &test.module;
            let m = match last {
                Some((l, m)) if std::ptr::eq(l, name) || l == name => m,
                _ => {
                    let m = p.module(name);
                    last = Some((name, m));
                    m
                }
            };
            let module = &mut p.modules[m];
            if provisional.next_if_eq(&i).is_some() && test.outcome == Outcome::Passed {
                p.totals.provisional += 1;
                module.provisional += 1;
            }
            match test.outcome {
                Outcome::Passed => module.passed += 1,
                Outcome::Failed => module.failed += 1,
                Outcome::Errored => module.errors += 1,
                Outcome::Skipped => module.skipped += 1,
            }
            if test.outcome.is_failing() {
                let message = cause(test);
                let g = p.group(signature(message), message);
                p.groups[g].tests.push(i);
            }
        }
        p
    }

    /// The index of module `name`, added (with no tests) if new.
    fn module(&mut self, name: &'t str) -> usize {
        let (modules, names) = (&mut self.modules, &mut self.names);
        *self.module_index.entry(name).or_insert_with(|| {
            names.push(name);
            modules.push(ModuleSummary {
                name: name.to_string(),
                passed: 0,
                failed: 0,
                errors: 0,
                skipped: 0,
                provisional: 0,
            });
            modules.len() - 1
        })
    }

    /// The index of the group of `signature`, added (titled `message`,
    /// with no tests) if new.
    fn group(&mut self, signature: String, message: &str) -> usize {
        let groups = &mut self.groups;
        *self.group_index.entry(signature).or_insert_with_key(|sig| {
            groups.push(FailureGroup {
                signature: sig.clone(),
                message: message.to_string(),
                tests: Vec::new(),
            });
            groups.len() - 1
        })
    }

    /// The summary: failing modules first, then by name; largest group
    /// first, groups of equal size in first-seen order.
    fn finish(self) -> Summary {
        let Part {
            totals,
            mut modules,
            mut groups,
            ..
        } = self;
        modules.sort_by(|a, b| (a.is_green(), &a.name).cmp(&(b.is_green(), &b.name)));
        // Stable: groups of equal size keep first-seen order.
        groups.sort_by_key(|g| std::cmp::Reverse(g.tests.len()));
        Summary {
            totals,
            modules,
            groups,
        }
    }

    /// This part followed by `next` (the tests right after it): what a
    /// single part over both would be.
    fn then(mut self, next: Part<'t>) -> Part<'t> {
        let t = next.totals;
        self.totals.tests += t.tests;
        self.totals.passed += t.passed;
        self.totals.failed += t.failed;
        self.totals.errors += t.errors;
        self.totals.skipped += t.skipped;
        self.totals.provisional += t.provisional;
        for (m, name) in next.modules.into_iter().zip(next.names) {
            let i = self.module(name);
            let into = &mut self.modules[i];
            into.passed += m.passed;
            into.failed += m.failed;
            into.errors += m.errors;
            into.skipped += m.skipped;
            into.provisional += m.provisional;
        }
        for g in next.groups {
            let into = self.group(g.signature, &g.message);
            self.groups[into].tests.extend(g.tests);
        }
        self
    }
}

/// The line that says why a test failed, for grouping. Usually the message;
/// for a Rust panic (`thread 'x' (865) panicked at src/lib.rs:77:9`) the
/// panic message on the next line of the detail, since the thread line
/// names the test and its place, not the cause.
pub fn cause(test: &TestCase) -> &str {
    let Some(f) = test.failure.as_deref() else {
        return "";
    };
    if cause_in_detail(&f.message) {
        let mut lines = f.detail.lines().skip_while(|l| !l.contains("panicked at"));
        if let Some(next) = lines.nth(1).filter(|l| !l.trim().is_empty()) {
            return next;
        }
    }
    &f.message
}

/// Whether [`cause`] reads the detail of a failure with this message, not
/// the message alone. A parse that keeps no tracebacks (`loopdeck status`)
/// keeps these ones.
pub fn cause_in_detail(message: &str) -> bool {
    let first = message.lines().next().unwrap_or("");
    first.starts_with("thread '") && first.contains("panicked at")
}

/// Normalizes a failure message so failures with the same cause group
/// together: numbers, hex addresses, UUID-like and other long ids, URLs and
/// paths, and HTTP methods are masked; whitespace is folded. Only the first
/// non-empty line counts. ("HTTP 403 Forbidden: POST /v1/rooms/42" and
/// "HTTP 403 Forbidden: PUT /v1/messages/7" are one cause seen on two endpoints.)
pub fn signature(message: &str) -> String {
    let line = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut out = String::with_capacity(line.len());
    for word in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        let bare = word.trim_matches(|c: char| "'\"()[]{}<>,;".contains(c));
        if bare.contains("://") || (bare.starts_with('/') && bare.len() > 1) {
            out.push_str("<path>");
        } else if HTTP_METHODS.contains(&bare) {
            out.push_str("<method>");
        } else {
            mask_word(word, &mut out);
        }
    }
    out
}

const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Masks the numeric and id-like tokens inside one word.
fn mask_word(word: &str, out: &mut String) {
    let b = word.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() {
            // The whole token of [A-Za-z0-9_.-] decides what it is.
            let start = i;
            i += 1;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.'))
            {
                i += 1;
            }
            mask_token(&word[start..i], out);
        } else {
            let len = word[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&word[i..i + len]);
            i += len;
        }
    }
}

fn mask_token(token: &str, out: &mut String) {
    // Split off a trailing '.' (end of sentence) so "kiwi." and "kiwi" match.
    let (body, tail) = match token.strip_suffix('.') {
        Some(b) => (b, "."),
        None => (token, ""),
    };
    let digits = body.chars().filter(|c| c.is_ascii_digit()).count();
    let is_hex_addr = body.len() > 2 && (body.starts_with("0x") || body.starts_with("0X"));
    let all_numeric = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '_');
    let hexish =
        body.len() >= 8 && digits > 0 && body.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if is_hex_addr {
        out.push_str("0x?");
    } else if all_numeric && digits > 0 {
        out.push('#');
    } else if hexish || (digits >= 4 && body.len() >= 8) {
        out.push_str("<id>");
    } else {
        // Mask digit runs inside words (`user42`, `00093-x55`).
        let mut in_digits = false;
        for c in body.chars() {
            if c.is_ascii_digit() {
                if !in_digits {
                    out.push('#');
                }
                in_digits = true;
            } else {
                in_digits = false;
                out.push(c);
            }
        }
    }
    out.push_str(tail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_made_in_two_halves_is_the_one_made_in_one() {
        use std::sync::Arc;
        let n = PARALLEL_FROM + 10_001;
        let mid = n / 2;
        let modules: Vec<Arc<str>> = (0..60).map(|m| Arc::from(format!("m{m:02}"))).collect();
        let tests: Vec<TestCase> = (0..n)
            .map(|i| {
                // Module 29 spans the middle; "late" failures start after it.
                let module = modules[i * 60 / n].clone();
                let message = match i % 5 {
                    _ if i % 37 != 0 => None,
                    4 if i > mid => Some(format!("late cause {i}")),
                    k => Some(format!("{} for /v1/rooms/{i}", CAUSES[k])),
                };
                let outcome = match (&message, i % 53) {
                    (Some(_), _) if i % 2 == 0 => Outcome::Errored,
                    (Some(_), _) => Outcome::Failed,
                    (None, 0) => Outcome::Skipped,
                    _ => Outcome::Passed,
                };
                TestCase {
                    id: format!("t{i}"),
                    module,
                    outcome,
                    duration_secs: None,
                    failure: message.map(|message| {
                        Box::new(crate::model::Failure {
                            message,
                            ..Default::default()
                        })
                    }),
                }
            })
            .collect();
        let provisional: Vec<usize> = (0..n).filter(|i| i % 101 == 1).collect();
        const CAUSES: [&str; 5] = ["forbidden", "not found", "timeout", "refused", "gone"];
        let whole = Part::of(&tests, &provisional, 0).finish();
        let halves = Summary::with_provisional(&tests, &provisional);
        assert_eq!(halves, whole);
        // The case is one that could go wrong: groups and a module on both
        // sides of the middle, a group first seen after it, provisional
        // passes on both sides.
        let spans = |g: &FailureGroup| g.tests[0] < mid && *g.tests.last().unwrap() >= mid;
        assert!(whole.groups.iter().filter(|g| spans(g)).count() >= 4);
        assert!(whole.groups.iter().any(|g| g.tests[0] >= mid));
        assert!(whole.totals.provisional > 100);
        assert_eq!(whole.modules.len(), 60);
    }

    #[test]
    fn same_cause_different_numbers_group_together() {
        assert_eq!(
            signature("HTTP 403 Forbidden for user 1234"),
            signature("HTTP 403 Forbidden for user 99")
        );
        assert_eq!(
            signature("<Foo object at 0x7fa047ed6490> failed"),
            signature("<Foo object at 0x7fb000000001> failed")
        );
        assert_eq!(
            signature("order 3f2c9a1e-77aa-4bd0-9a55-1c2d3e4f5a6b missing"),
            signature("order 0b1c2d3e-0000-4bd0-9a55-aaaaaaaaaaaa missing")
        );
    }

    #[test]
    fn same_status_on_different_endpoints_is_one_cause() {
        assert_eq!(
            signature(
                "ApiError: HTTP 403 Forbidden: POST /v1/rooms/12/messages (request-id 7f3a9c21)"
            ),
            signature("ApiError: HTTP 403 Forbidden: DELETE /v1/messages/9 (request-id 0b00c4d2)")
        );
        assert_eq!(
            signature("ConnectionError: https://api.staging.example/v1/a unreachable"),
            signature("ConnectionError: https://api.staging.example/v2/b unreachable")
        );
    }

    #[test]
    fn rust_panics_group_by_their_panic_message() {
        use crate::model::{Failure, Outcome};
        let t = |name: &str, n: u32| TestCase {
            id: format!("ledger tests::{name}"),
            module: "ledger".into(),
            outcome: Outcome::Failed,
            duration_secs: None,
            failure: Some(Box::new(Failure {
                message: format!("thread 'tests::{name}' ({n}) panicked at src/lib.rs:{n}:9"),
                detail: format!(
                    "thread 'tests::{name}' ({n}) panicked at src/lib.rs:{n}:9:\ncalled `Option::unwrap()` on a `None` value\nstack backtrace:"
                ),
                ..Default::default()
            })),
        };
        let s = Summary::of(&[t("a", 12), t("b", 99)]);
        assert_eq!(s.groups.len(), 1);
        assert_eq!(
            s.groups[0].message,
            "called `Option::unwrap()` on a `None` value"
        );
    }

    #[test]
    fn different_causes_stay_apart() {
        assert_ne!(
            signature("HTTP 403 Forbidden"),
            signature("HTTP 500 Internal Server Error")
        );
        assert_ne!(
            signature("KeyError: 'durian'"),
            signature("ValueError: bad")
        );
    }

    #[test]
    fn only_first_line_and_folded_whitespace() {
        assert_eq!(signature("\n  boom   now\nsecond line"), "boom now");
    }
}
