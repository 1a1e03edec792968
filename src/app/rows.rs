//! The rows of the failure and module lists, after filter and expansion.

use super::state::State;

/// Groups of at most this many tests show their tests without asking.
pub const EXPAND_BY_DEFAULT_UP_TO: usize = 8;

/// The expansion key of the provisional group (failure signatures are
/// sanitised text, so none can contain a NUL).
pub const PROVISIONAL_KEY: &str = "\0provisional";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureRow {
    /// Index into the summary's groups, and how many of its tests match the filter.
    Group { group: usize, shown: usize },
    /// Index of the test in the iteration's tests, and its group.
    Test { group: usize, test: usize },
    /// After the failures: the tests that pass only because a rerun says
    /// so, and how many of them match the filter.
    Provisional { shown: usize },
    /// Index of a provisional test in the iteration's tests.
    ProvisionalTest { test: usize },
}

fn matches(filter: &str, text: &str) -> bool {
    filter.is_empty() || contains_ignore_case(text, filter)
}

/// Case-insensitive substring test without allocating for ASCII needles:
/// candidates are found with memchr on the needle's first byte in both
/// cases (a filter typed over millions of test ids stays within a frame).
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    if !needle.is_ascii() {
        return haystack.to_lowercase().contains(&needle.to_lowercase());
    }
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return true;
    };
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), h).any(|i| {
        h.get(i + 1..i + 1 + rest.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(rest))
    })
}

pub fn failure_rows(state: &State) -> Vec<FailureRow> {
    let Some(it) = state.current().filter(|it| !it.compact) else {
        return Vec::new();
    };
    let shown = |t: &usize| {
        let test = &it.data.tests[*t];
        matches(&state.filter, &test.id) || matches(&state.filter, &test.module)
    };
    let mut rows = Vec::new();
    for (g, group) in it.summary.groups.iter().enumerate() {
        let tests: Vec<usize> = group.tests.iter().copied().filter(shown).collect();
        if tests.is_empty() {
            continue;
        }
        rows.push(FailureRow::Group {
            group: g,
            shown: tests.len(),
        });
        if state.group_expanded(&group.signature, group.tests.len()) {
            rows.extend(
                tests
                    .into_iter()
                    .map(|test| FailureRow::Test { group: g, test }),
            );
        }
    }
    let provisional: Vec<usize> = it.data.provisional.iter().copied().filter(shown).collect();
    if !provisional.is_empty() {
        rows.push(FailureRow::Provisional {
            shown: provisional.len(),
        });
        if state.group_expanded(PROVISIONAL_KEY, it.data.provisional.len()) {
            rows.extend(
                provisional
                    .into_iter()
                    .map(|test| FailureRow::ProvisionalTest { test }),
            );
        }
    }
    rows
}

/// Indices into the current summary's modules that match the filter: by
/// module name, or by the name of any test in it.
pub fn module_rows(state: &State) -> Vec<usize> {
    let Some(it) = state.current() else {
        return Vec::new();
    };
    if state.filter.is_empty() {
        return (0..it.summary.modules.len()).collect();
    }
    let mut hit: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for t in &it.data.tests {
        if matches(&state.filter, &t.id) {
            hit.insert(&t.module);
        }
    }
    it.summary
        .modules
        .iter()
        .enumerate()
        .filter(|(_, m)| matches(&state.filter, &m.name) || hit.contains(m.name.as_str()))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod filter_tests {
    use super::contains_ignore_case as c;

    #[test]
    fn case_insensitive_substrings() {
        assert!(c("tests/test_WebSocket.py::test_x", "websocket"));
        assert!(c("abc", ""));
        assert!(c("abc", "ABC"));
        assert!(c("xxab", "AB"));
        assert!(!c("ab", "abc"));
        assert!(!c("a-b", "ab"));
        assert!(c("ÄÖ test", "test"));
        assert!(c("Grüße", "GRÜSSE") || c("Grüße", "grüße"));
        assert!(!c("tests/test_auth.py", "x"));
    }
}
