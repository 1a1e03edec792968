//! Hand-built model values for the update and UI tests.
#![allow(dead_code)]

pub mod procs;
pub mod pty;
pub mod rerun;

use loopdeck::model::{DeployState, Deployment, Failure, IterationMeta, Outcome, TestCase};
use loopdeck::results::IterationData;

pub fn test(module: &str, name: &str, outcome: Outcome, message: &str) -> TestCase {
    TestCase {
        id: format!("{module}::{name}"),
        module: module.into(),
        outcome,
        duration_secs: Some(0.25),
        failure: outcome.is_failing().then(|| {
            Box::new(Failure {
                message: message.to_string(),
                kind: message.split(':').next().map(str::to_string),
                detail: format!(
                    "Traceback (most recent call last):\n  File \"{module}\", line 12, in {name}\n    resp = client.get(\"/api\")\n{message}"
                ),
                stdout: "GET /api -> 403\n".into(),
                stderr: String::new(),
            })
        }),
    }
}

/// An iteration of `modules` modules × `per_module` tests where the listed
/// (module index, test index, message) fail.
pub fn iteration(
    number: u64,
    modules: usize,
    per_module: usize,
    failing: &[(usize, usize, &str)],
) -> IterationData {
    let mut tests = Vec::new();
    for m in 0..modules {
        let module = format!("tests/e2e/test_mod{m}.py");
        for t in 0..per_module {
            let fail = failing.iter().find(|(fm, ft, _)| *fm == m && *ft == t);
            let (outcome, msg) = match fail {
                Some((_, _, msg)) => (Outcome::Failed, *msg),
                None => (Outcome::Passed, ""),
            };
            tests.push(test(&module, &format!("test_case_{t}"), outcome, msg));
        }
    }
    IterationData {
        key: format!("iter-{number:03}"),
        number,
        path: format!("/tmp/loop/iter-{number:03}").into(),
        meta: Some(IterationMeta {
            issue: Some(format!("issue of iteration {number}")),
            root_cause: Some("middleware rejects service tokens".into()),
            fix: Some("accept the service audience".into()),
            notes: None,
            started: Some("2026-11-24T10:05:00Z".into()),
            finished: Some("2026-11-24T10:09:12Z".into()),
        }),
        deploy: Some(Deployment {
            service: Some("backend".into()),
            revision: Some(format!("000{}-x55", 90 + number)),
            state: DeployState::Live,
            started: Some("2026-11-24T09:55:00Z".into()),
            finished: Some("2026-11-24T09:58:00Z".into()),
            message: None,
        }),
        tests,
        ..Default::default()
    }
}

/// An event storm: `files` half-written report files created in `dir`, then
/// all deleted, `rounds` times over.
pub fn storm(dir: &std::path::Path, files: usize, rounds: usize) {
    for _ in 0..rounds {
        let names: Vec<_> = (0..files)
            .map(|i| dir.join(format!("storm-{i}.xml")))
            .collect();
        for n in &names {
            std::fs::write(n, b"<testsuite").unwrap();
        }
        for n in &names {
            std::fs::remove_file(n).unwrap();
        }
    }
}
