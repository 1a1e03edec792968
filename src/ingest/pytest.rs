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
///
/// The results go into buffers the caller reuses (no allocation once they
/// are large enough).
pub fn split_classname_into(
    classname: &str,
    file: Option<&str>,
    module: &mut String,
    prefix: &mut String,
) {
    module.clear();
    prefix.clear();
    if classname.is_empty() {
        return;
    }
    if let Some(file) = file.filter(|f| f.ends_with(".py")) {
        // The classname starts with the file's path, dotted.
        let dotted = file.trim_end_matches(".py");
        let same = |(&c, d): (&u8, u8)| c == if d == b'/' || d == b'\\' { b'.' } else { d };
        if classname.len() >= dotted.len()
            && classname.as_bytes().iter().zip(dotted.bytes()).all(same)
        {
            let classes = classname[dotted.len()..].trim_start_matches('.');
            module.push_str(file);
            prefix.push_str(file);
            for c in classes.split('.').filter(|c| !c.is_empty()) {
                prefix.push_str("::");
                prefix.push_str(c);
            }
            return;
        }
    }
    // The first component (not the first one) that starts with an
    // upper-case letter begins the classes.
    let bytes = classname.as_bytes();
    let mut class_at = None;
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'.', &bytes[from..]) {
        let next = from + i + 1;
        if classname[next..].starts_with(|c: char| c.is_uppercase()) {
            class_at = Some(next);
            break;
        }
        from = next;
    }
    let (path, classes) = match class_at {
        Some(at) => (&classname[..at - 1], Some(&classname[at..])),
        None => (classname, None),
    };
    // `a.b.c` -> `a/b/c.py`: ASCII for ASCII, so the text stays UTF-8.
    let mut m = std::mem::take(module).into_bytes();
    m.extend(path.bytes().map(|c| if c == b'.' { b'/' } else { c }));
    m.extend_from_slice(b".py");
    *module = String::from_utf8(m).unwrap_or_default();
    prefix.push_str(module);
    for c in classes.into_iter().flat_map(|c| c.split('.')) {
        prefix.push_str("::");
        prefix.push_str(c);
    }
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

    fn split_classname(classname: &str, file: Option<&str>) -> (String, String) {
        let (mut module, mut prefix) = (String::new(), String::new());
        split_classname_into(classname, file, &mut module, &mut prefix);
        (module, prefix)
    }

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
            split_classname("a.B..c", None),
            ("a.py".into(), "a.py::B::::c".into())
        );
        assert_eq!(
            split_classname("pkg.tests.test_x.TestA", Some("pkg/tests/test_x.py")),
            (
                "pkg/tests/test_x.py".into(),
                "pkg/tests/test_x.py::TestA".into()
            )
        );
        assert_eq!(
            split_classname("other.TestA", Some("pkg/test_x.py")),
            ("other.py".into(), "other.py::TestA".into())
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
