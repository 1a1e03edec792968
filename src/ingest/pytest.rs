//! pytest: node ids from JUnit `classname`/`name`, and the message rules
//! shared by the pytest readers (JUnit, report-log, json-report).

/// The test file of a pytest node id: `tests/test_x.py::C::t[p]` ->
/// `tests/test_x.py`. A collection error's id is the file itself.
pub fn module_of(nodeid: &str) -> &str {
    nodeid.split("::").next().unwrap_or(nodeid)
}

/// pytest's JUnit writer turns `tests/test_x.py::Class::test_y[p]` into
/// `classname="tests.test_x.Class" name="test_y[p]"`. This undoes it and
/// returns `(module, id prefix)` for a classname, e.g.
/// `("tests/test_x.py", "tests/test_x.py::Class")`.
///
/// With xunit1's `file` attribute the module is known. Without it (xunit2),
/// the first dotted component that starts with an upper-case letter begins
/// the class part (Python class naming); everything before it is the module
/// path. A classname that is empty (collection errors) gives no prefix.
pub fn split_classname(classname: &str, file: Option<&str>) -> (String, String) {
    if classname.is_empty() {
        return (String::new(), String::new());
    }
    if let Some(file) = file.filter(|f| f.ends_with(".py")) {
        let dotted = file.trim_end_matches(".py").replace(['/', '\\'], ".");
        let classes = classname
            .strip_prefix(dotted.as_str())
            .map(|rest| rest.trim_start_matches('.'));
        if let Some(classes) = classes {
            let mut prefix = file.to_string();
            for c in classes.split('.').filter(|c| !c.is_empty()) {
                prefix.push_str("::");
                prefix.push_str(c);
            }
            return (file.to_string(), prefix);
        }
    }
    let parts: Vec<&str> = classname.split('.').collect();
    let class_at = parts
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, p)| p.starts_with(|c: char| c.is_uppercase()))
        .map_or(parts.len(), |(i, _)| i);
    let mut module = parts[..class_at].join("/");
    module.push_str(".py");
    let mut prefix = module.clone();
    for c in &parts[class_at..] {
        prefix.push_str("::");
        prefix.push_str(c);
    }
    (module, prefix)
}

/// pytest JUnit for a collection error: `classname=""`,
/// `name="tests.test_broken"` -> `tests/test_broken.py`.
pub fn collection_error_id(name: &str) -> String {
    if name.ends_with(".py") || name.contains('/') {
        return name.to_string();
    }
    format!("{}.py", name.replace('.', "/"))
}

/// pytest wraps setup/teardown errors: `failed on setup with "X: y"`.
/// Returns the inner message as the console's short summary shows it.
pub fn unwrap_phase_error(message: &str) -> &str {
    for phase in [
        "failed on setup with ",
        "failed on teardown with ",
        "failed on call with ",
    ] {
        if let Some(rest) = message.strip_prefix(phase) {
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            return rest.strip_suffix('"').unwrap_or(rest);
        }
    }
    message
}

/// For a collection error pytest gives no short message: the console shows
/// the first `E   ` line of the traceback.
pub fn first_e_line(detail: &str) -> Option<&str> {
    detail
        .lines()
        .find_map(|l| l.strip_prefix("E ").map(str::trim))
        .filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classname_to_nodeid() {
        assert_eq!(
            split_classname("tests.test_x", None),
            ("tests/test_x.py".into(), "tests/test_x.py".into())
        );
        assert_eq!(
            split_classname("tests.e2e.test_x.TestA.TestB", None),
            (
                "tests/e2e/test_x.py".into(),
                "tests/e2e/test_x.py::TestA::TestB".into()
            )
        );
        assert_eq!(
            split_classname("tests.test_x.TestA", Some("tests/test_x.py")),
            ("tests/test_x.py".into(), "tests/test_x.py::TestA".into())
        );
        // A lower-case class name is only found through `file`.
        assert_eq!(
            split_classname("tests.test_x.lower", Some("tests/test_x.py")),
            ("tests/test_x.py".into(), "tests/test_x.py::lower".into())
        );
        assert_eq!(
            collection_error_id("tests.test_broken"),
            "tests/test_broken.py"
        );
    }

    #[test]
    fn phase_errors_unwrap() {
        assert_eq!(
            unwrap_phase_error("failed on setup with \"ConnectionError: x\""),
            "ConnectionError: x"
        );
        assert_eq!(unwrap_phase_error("plain"), "plain");
        assert_eq!(
            first_e_line("a\nE   ImportError: no\nE   more"),
            Some("ImportError: no")
        );
    }
}
