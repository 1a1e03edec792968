//! Command-line expansion: placeholders, quoting of untrusted values (run
//! through real shells), the quoting-context guard, env vars, the ids file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use loopdeck::config::{
    FAILED_IDS_FILE_NAME, Vars, check_template, env_for, expand, write_failed_ids,
};

fn vars(dir: &Path) -> Vars {
    Vars {
        iteration_dir: dir.join("iter-004"),
        iteration: 4,
        results_dir: dir.to_path_buf(),
        failed_ids: vec!["tests/a.py::t1".into(), "tests/b.py::t2".into()],
        failed_ids_file: Some(dir.join("iter-004").join(FAILED_IDS_FILE_NAME)),
        service: Some("backend".into()),
        revision: Some("00094-x55".into()),
    }
}

/// Ids a hostile report file could contain. None may run anything; each
/// must reach the command as exactly one argument, byte for byte.
fn hostile_ids() -> Vec<String> {
    [
        "tests/a.py::t[x]",
        "tests/b.py::$(touch PWNED_dollar)",
        "tests/c.py::`touch PWNED_backtick`",
        "tests/d.py::t; touch PWNED_semicolon",
        "tests/e.py::t && touch PWNED_and || touch PWNED_or",
        "tests/f.py::t | touch PWNED_pipe &",
        "tests/g.py::it's \"quoted\" \\ back\\slash",
        "tests/h.py::'; touch PWNED_quote; '",
        "tests/i.py::\"; touch PWNED_dquote; \"",
        "tests/j.py::t[*] ? * ~ ~root {a,b} $HOME ${IFS} $((1+1)) !! #not-a-comment",
        "tests/k.py::  two  spaces\tand a tab  ",
        "tests/l.py::> PWNED_redirect < /etc/passwd",
        "tests/m.py::t\u{1b}[31mred\u{1b}]52;c;aGk=\u{7}",
        "tests/n.py::tést[ünï-cödé]",
        "tests/o.py::t\u{202e}reversed",
        "x=1",
        "'",
        "\"",
        "\\",
        "tests/p.py::$'\\x41'",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

fn shells() -> Vec<&'static str> {
    ["sh", "bash", "dash", "zsh", "busybox"]
        .into_iter()
        .filter(|s| {
            Command::new(s)
                .arg("-c")
                .arg("true")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect()
}

fn run(shell: &str, line: &str, cwd: &Path, env: &[(String, String)]) -> String {
    let mut cmd = if shell == "busybox" {
        let mut c = Command::new("busybox");
        c.arg("sh");
        c
    } else {
        Command::new(shell)
    };
    let out = cmd
        .arg("-c")
        .arg(line)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", "/nonexistent-home")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell} failed on {line:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn assert_nothing_ran(dir: &Path) {
    let mut stray = Vec::new();
    for entry in walk(dir) {
        if entry
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("PWNED")
        {
            stray.push(entry);
        }
    }
    assert!(stray.is_empty(), "payloads ran: {stray:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn hostile_ids_arrive_intact_and_never_run() {
    let ids = hostile_ids();
    let shells = shells();
    assert!(shells.contains(&"sh"));
    for shell in shells {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vars(dir.path());
        v.failed_ids = ids.clone();
        let line = expand("printf '%s\\n' {failed_ids}", &v).unwrap();
        assert!(!line.contains("\n"));
        let got = run(shell, &line, dir.path(), &[]);
        let got: Vec<&str> = got.strip_suffix('\n').unwrap().split('\n').collect();
        assert_eq!(got, ids, "{shell}: {line}");
        assert_nothing_ran(dir.path());
    }
}

/// Folder names, the revision and the service are quoted the same way: a
/// results directory is shared, and a revision is pulled from output.
#[test]
fn every_value_is_quoted_not_only_ids() {
    for shell in shells() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir
            .path()
            .join("results $(touch PWNED_results) `touch PWNED_r2`");
        let iter = results.join("iter-004 '; touch PWNED_iter; '");
        fs::create_dir_all(&iter).unwrap();
        let v = Vars {
            iteration_dir: iter.clone(),
            iteration: 4,
            results_dir: results.clone(),
            failed_ids: hostile_ids(),
            failed_ids_file: Some(iter.join("ids ; touch PWNED_file")),
            service: Some("svc; touch PWNED_service".into()),
            revision: Some("r1\"; touch PWNED_rev; \"\nnext line".into()),
        };
        let line = expand(
            "printf '%s\\n' {iteration} {service} {revision} {results_dir} {failed_ids_file} > {iteration_dir}/out.txt",
            &v,
        )
        .unwrap();
        run(shell, &line, dir.path(), &[]);
        let out = fs::read_to_string(iter.join("out.txt")).unwrap();
        let expected = format!(
            "4\n{}\n{}\n{}\n{}\n",
            v.service.as_ref().unwrap(),
            v.revision.as_ref().unwrap(),
            results.display(),
            v.failed_ids_file.as_ref().unwrap().display()
        );
        assert_eq!(out, expected, "{shell}: {line}");
        assert_nothing_ran(dir.path());
    }
}

#[test]
fn ids_file_and_env_carry_the_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    let iter = dir.path().join("iter-004");
    fs::create_dir(&iter).unwrap();
    let ids = hostile_ids();
    let file = write_failed_ids(&iter, &ids).unwrap();
    assert_eq!(file, iter.join(FAILED_IDS_FILE_NAME));
    let body = fs::read_to_string(&file).unwrap();
    assert_eq!(
        body,
        ids.iter().map(|i| format!("{i}\n")).collect::<String>()
    );
    assert_eq!(fs::read_dir(&iter).unwrap().count(), 1, "no temp file left");

    let mut v = vars(dir.path());
    v.failed_ids = ids.clone();
    v.failed_ids_file = Some(file);
    let env = env_for(&v);
    for shell in shells() {
        // Read line by line, as the template recommends.
        let line = expand(
            "while IFS= read -r id; do printf '%s\\n' \"$id\"; done < {failed_ids_file}",
            &v,
        )
        .unwrap();
        assert_eq!(run(shell, &line, dir.path(), &env), body, "{shell}");
        let got = run(
            shell,
            "printf '%s\\n' \"$LOOPDECK_FAILED_IDS\"",
            dir.path(),
            &env,
        );
        assert_eq!(got, body, "{shell}");
        assert_nothing_ran(dir.path());
    }
}

#[test]
fn unusable_ids_are_refused_not_spliced() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["-p evil_plugin", "--rootdir=/", "a\nb", "a\rb", "a\0b", ""] {
        let mut v = vars(dir.path());
        v.failed_ids.push(bad.to_string());
        let err = expand("pytest {failed_ids}", &v).unwrap_err();
        assert!(err.contains("refusing test id"), "{bad:?}: {err}");
        let err = write_failed_ids(dir.path(), &v.failed_ids).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(
            !dir.path().join(FAILED_IDS_FILE_NAME).exists(),
            "nothing written"
        );
        // The environment leaves them out; the good ids stay.
        let env = env_for(&v);
        let ids = env
            .iter()
            .find(|(k, _)| k == "LOOPDECK_FAILED_IDS")
            .unwrap();
        assert_eq!(ids.1, "tests/a.py::t1\ntests/b.py::t2");
    }
    // Ids are only checked where they are used.
    let mut v = vars(dir.path());
    v.failed_ids = vec!["-x".into()];
    assert!(expand("pytest {iteration_dir}", &v).is_ok());
}

#[test]
fn expansion_of_plain_values() {
    let v = vars(Path::new("/r"));
    assert_eq!(
        expand(
            "pytest tests/e2e --junitxml={iteration_dir}/junit.xml --report-log={iteration_dir}/report-log.jsonl",
            &v
        )
        .unwrap(),
        "pytest tests/e2e --junitxml=/r/iter-004/junit.xml --report-log=/r/iter-004/report-log.jsonl"
    );
    assert_eq!(
        expand("pytest $(cat {failed_ids_file}) -n {iteration}", &v).unwrap(),
        "pytest $(cat /r/iter-004/failed-ids.txt) -n 4"
    );
    assert_eq!(
        expand("pytest {failed_ids}", &v).unwrap(),
        "pytest tests/a.py::t1 tests/b.py::t2"
    );
    assert_eq!(
        expand(
            "./deploy.sh {service} --after {revision} --in {results_dir}",
            &v
        )
        .unwrap(),
        "./deploy.sh backend --after 00094-x55 --in /r"
    );
    assert_eq!(
        expand("awk '{{print $1}}' f && echo }}{{ {iteration}", &v).unwrap(),
        "awk '{print $1}' f && echo }{ 4"
    );
    let mut v2 = v.clone();
    v2.failed_ids = vec!["tests/a.py::t[x]".into(), "tests/b.py::$(rm -rf ~)".into()];
    assert_eq!(
        expand("pytest {failed_ids}", &v2).unwrap(),
        "pytest 'tests/a.py::t[x]' 'tests/b.py::$(rm -rf ~)'"
    );
}

#[test]
fn missing_values_are_errors_not_empty_strings() {
    let v = Vars::default();
    let cases = [
        ("pytest {failed_ids}", "no failing tests"),
        ("pytest @{failed_ids_file}", "no failed ids file"),
        ("./deploy.sh {service}", "no `service`"),
        ("./check.sh {revision}", "no deployed revision"),
    ];
    for (cmd, want) in cases {
        let err = expand(cmd, &v).unwrap_err();
        assert!(err.contains(want), "{cmd}: {err}");
    }
    assert_eq!(expand("echo {iteration}", &v).unwrap(), "echo 0");
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let mut v = vars(Path::new("/r"));
    v.iteration_dir = PathBuf::from(std::ffi::OsStr::from_bytes(b"/r/it\xff"));
    assert!(
        expand("ls {iteration_dir}", &v)
            .unwrap_err()
            .contains("not UTF-8")
    );
    assert!(
        !env_for(&v)
            .iter()
            .any(|(k, _)| k == "LOOPDECK_ITERATION_DIR")
    );
}

#[test]
fn env_for_names_every_known_value() {
    let v = vars(Path::new("/r"));
    let env = env_for(&v);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("LOOPDECK_ITERATION_DIR"), Some("/r/iter-004"));
    assert_eq!(get("LOOPDECK_ITERATION"), Some("4"));
    assert_eq!(get("LOOPDECK_RESULTS_DIR"), Some("/r"));
    assert_eq!(
        get("LOOPDECK_FAILED_IDS"),
        Some("tests/a.py::t1\ntests/b.py::t2")
    );
    assert_eq!(
        get("LOOPDECK_FAILED_IDS_FILE"),
        Some("/r/iter-004/failed-ids.txt")
    );
    assert_eq!(get("LOOPDECK_SERVICE"), Some("backend"));
    assert_eq!(get("LOOPDECK_REVISION"), Some("00094-x55"));
    assert_eq!(env.len(), 7);

    let env = env_for(&Vars::default());
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "LOOPDECK_ITERATION_DIR",
            "LOOPDECK_ITERATION",
            "LOOPDECK_RESULTS_DIR",
            "LOOPDECK_FAILED_IDS"
        ],
        "unknown values are unset, the ids list is always there"
    );
}

#[test]
fn write_failed_ids_replaces_the_previous_list() {
    let dir = tempfile::tempdir().unwrap();
    write_failed_ids(dir.path(), &["a".into(), "b".into()]).unwrap();
    let path = write_failed_ids(dir.path(), &["c".into()]).unwrap();
    assert_eq!(fs::read_to_string(path).unwrap(), "c\n");
    let path = write_failed_ids(dir.path(), &[]).unwrap();
    assert_eq!(fs::read_to_string(path).unwrap(), "");
}

#[test]
fn placeholders_where_quoting_holds_are_accepted() {
    for ok in [
        "pytest tests/e2e --junitxml={iteration_dir}/junit.xml --report-log={iteration_dir}/report-log.jsonl",
        "pytest --report-log={iteration_dir}/rerun.jsonl $(cat {failed_ids_file})",
        "pytest \"$(cat {failed_ids_file})\"",
        "cd {results_dir} && ./run.sh {iteration}",
        "FOO={revision} ./deploy.sh {service}",
        "./deploy.sh > {iteration_dir}/deploy.out 2>&1",
        "pytest 2>{iteration_dir}/err.txt {failed_ids}",
        "pytest {failed_ids} | tee {iteration_dir}/log",
        "pytest {failed_ids}; echo done",
        "pytest {failed_ids}&& echo done",
        "# it's a comment\npytest {failed_ids}",
        "echo '{{}}' \"}}\" && pytest {failed_ids}",
        "pytest -- {failed_ids}",
        "( cd e2e && pytest {failed_ids} )",
        "kubectl exec pod -- pytest {failed_ids}",
        "if true; then pytest {failed_ids}; fi",
        "echo \"it's\" && pytest {failed_ids}",
        "pytest $(printf '%s' \"a)\") {failed_ids}",
        "echo $((1+2)) {iteration}",
        "./deploy.sh \\\n  --rev {revision}",
    ] {
        assert_eq!(check_template(ok), Ok(()), "{ok}");
    }
}

#[test]
fn placeholders_where_quoting_breaks_are_refused() {
    let cases = [
        ("pytest '{failed_ids}'", "inside quotes"),
        ("pytest \"{failed_ids}\"", "inside quotes"),
        (
            "pytest --junitxml=\"{iteration_dir}/j.xml\"",
            "inside quotes",
        ),
        ("pytest \"$(echo \"{revision}\")\"", "inside quotes"),
        ("pytest `cat {failed_ids_file}`", "backquotes"),
        ("pytest \"`cat {failed_ids_file}`\"", "backquotes"),
        ("echo `echo $(cat {failed_ids_file})`", "backquotes"),
        ("echo ${{X:-{revision}}}", "${...}"),
        ("echo $(( {iteration} + 1 ))", "$((...))"),
        ("cat <<EOF\n{revision}\nEOF", "here-document"),
        ("cat <<'EOF' > x\nEOF\npytest {failed_ids}", "here-document"),
        ("{failed_ids}", "the command itself"),
        ("X=1 {revision}", "the command itself"),
        ("pytest; {failed_ids}", "the command itself"),
        ("pytest | {iteration_dir}/x", "the command itself"),
        ("$( {revision} )", "the command itself"),
        ("eval pytest {failed_ids}", "argument of `eval`"),
        ("/usr/bin/ssh host pytest {failed_ids}", "argument of `ssh`"),
        ("X=1 ssh host pytest {failed_ids}", "argument of `ssh`"),
        ("watch pytest {failed_ids}", "argument of `watch`"),
        ("su -c pytest {failed_ids}", "argument of `su`"),
        ("pytest \\{revision}", "backslash"),
        ("echo ${revision}", "right after `$`"),
        ("echo $$ ${iteration}", "right after `$`"),
        ("pytest x{failed_ids}", "stand alone"),
        ("pytest {failed_ids}x", "stand alone"),
        ("IDS={failed_ids} pytest", "stand alone"),
        ("x=$(case a in a) echo {revision};; esac)", "case"),
    ];
    for (cmd, want) in cases {
        let err = check_template(cmd).expect_err(cmd);
        assert!(err.contains(want), "{cmd:?}: {err}");
        // expand refuses the same way, whatever the values.
        assert!(expand(cmd, &vars(Path::new("/r"))).is_err(), "{cmd:?}");
    }
}
