//! The demo's own commands (loopdeck in its simulation mode) driven the way
//! the demo's keys drive them: the first test run of an iteration has two
//! flaky timeouts, `R` reruns just those (green, but provisional), and a
//! full run confirms. Real processes, real files, `runs.jsonl` attribution.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_loopdeck");

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sim = |what: &str| format!("'{BIN}' demo-sim --speed 1000 {what}");
    std::fs::write(
        dir.path().join("loopdeck.toml"),
        format!(
            "results_dir = \"results\"\ngoal = 60\n\
             [test]\ncommand = \"{}\"\n\
             [deploy]\ncommand = \"{}\"\n\
             [rerun_failed]\ncommand = \"{}\"\n",
            sim("test {iteration_dir}"),
            sim("deploy {iteration}"),
            sim("rerun {iteration_dir} {failed_ids_file}"),
        ),
    )
    .unwrap();
    dir
}

fn loopdeck(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn status(dir: &Path) -> serde_json::Value {
    let (_, out) = loopdeck(dir, &["status", "results", "--json"]);
    let json = out.lines().next().expect("a JSON line");
    serde_json::from_str(json).unwrap()
}

#[test]
fn flaky_first_run_rerun_gives_provisional_green_and_a_full_run_confirms() {
    let dir = project();
    let (code, out) = loopdeck(dir.path(), &["test"]);
    assert_eq!(code, 1, "two flaky failures: {out}");
    let v = status(dir.path());
    assert_eq!(v["totals"]["tests"], 60);
    assert_eq!(v["totals"]["failed"], 2);
    let failing: Vec<String> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        v["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("TimeoutError")
    );

    let (code, out) = loopdeck(dir.path(), &["test", "--failed"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("collected 2 items"),
        "only the failing ids run: {out}"
    );
    let v = status(dir.path());
    assert_eq!(v["totals"]["failed"], 0);
    assert_eq!(v["totals"]["passed"], 60);
    assert_eq!(v["totals"]["provisional"], 2);
    let provisional: Vec<String> = v["provisional"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert_eq!(provisional, failing);

    let (code, out) = loopdeck(dir.path(), &["test"]);
    assert_eq!(
        code, 0,
        "the second full run of an iteration is green: {out}"
    );
    let v = status(dir.path());
    assert_eq!(v["totals"]["passed"], 60);
    assert_eq!(v["totals"]["provisional"], 0);
}
