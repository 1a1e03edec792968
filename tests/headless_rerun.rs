//! `loopdeck test --failed` end to end: real runs of real shell commands
//! record themselves in `runs.jsonl`, their reports land in the same
//! iteration folder, and `loopdeck status` tells the rerun's green apart
//! until a full `loopdeck test` confirms it. Real file times, no sleeps.

mod common;

use std::path::Path;
use std::process::Command;

use common::rerun::{id, junit, report_log};

fn loopdeck(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status(dir: &Path) -> serde_json::Value {
    let (_, out, err) = loopdeck(dir, &["status", "results", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"))
}

#[test]
fn rerun_green_is_provisional_until_a_full_run() {
    let proj = tempfile::tempdir().unwrap();
    let p = proj.path();
    std::fs::write(
        p.join("loopdeck.toml"),
        r#"results_dir = "results"
[test]
command = "sh ./tests.sh {iteration_dir}"
[rerun_failed]
command = "sh ./rerun.sh {iteration_dir} {failed_ids}"
"#,
    )
    .unwrap();
    std::fs::write(
        p.join("tests.sh"),
        "cp full.xml \"$1/junit.xml\"\nif grep -q '<failure' full.xml; then exit 1; fi\n",
    )
    .unwrap();
    std::fs::write(
        p.join("rerun.sh"),
        "dir=$1; shift; printf '%s\\n' \"$@\" > rerun-args\ncp rerun.src \"$dir/rerun.jsonl\"\nexit 1\n",
    )
    .unwrap();
    std::fs::write(p.join(".git"), "").unwrap(); // config lookup stops here
    let three = ["test_send", "test_edit", "test_delete"];
    std::fs::write(p.join("full.xml"), junit(&three, "HTTP 403 Forbidden")).unwrap();
    std::fs::write(
        p.join("rerun.src"),
        report_log(
            &[
                ("test_send", "passed"),
                ("test_edit", "passed"),
                ("test_delete", "failed"),
            ],
            "HTTP 500 after the fix",
        ),
    )
    .unwrap();

    let (code, _, err) = loopdeck(p, &["test"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(status(p)["totals"]["failed"], 3);

    let (code, _, err) = loopdeck(p, &["test", "--failed"]);
    assert_eq!(code, 1, "one test still fails: {err}");
    let args = std::fs::read_to_string(p.join("rerun-args")).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        three.map(id),
        "only the failing ones"
    );
    let v = status(p);
    assert_eq!(v["totals"]["failed"], 1);
    assert_eq!(v["totals"]["passed"], 4);
    assert_eq!(v["totals"]["provisional"], 2);
    assert_eq!(
        v["provisional"],
        serde_json::json!([id("test_send"), id("test_edit")])
    );
    assert_eq!(v["failures"][0]["message"], "HTTP 500 after the fix");

    // A second rerun only reruns what still fails.
    loopdeck(p, &["test", "--failed"]);
    let args = std::fs::read_to_string(p.join("rerun-args")).unwrap();
    assert_eq!(args.trim(), id("test_delete"));
    assert_eq!(status(p)["totals"]["provisional"], 2);

    // The fix works: a full run confirms every pass.
    std::fs::write(p.join("full.xml"), junit(&[], "")).unwrap();
    let (code, _, err) = loopdeck(p, &["test"]);
    assert_eq!(code, 0, "{err}");
    let v = status(p);
    assert_eq!(v["totals"]["passed"], 5);
    assert_eq!(v["totals"]["provisional"], 0);
    assert_eq!(v["provisional"], serde_json::json!([]));
}
