//! `loopdeck note`: annotations land in iteration.json, merged, atomically.

use std::process::Command;

fn loopdeck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loopdeck"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn note_writes_and_merges_iteration_json() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("iter-001")).unwrap();
    std::fs::create_dir_all(root.join("iter-002")).unwrap();
    std::fs::write(
        root.join("iter-002/iteration.json"),
        r#"{"started":"2026-11-24T10:05:00Z","custom":7}"#,
    )
    .unwrap();
    let d = root.to_str().unwrap();

    let out = loopdeck(&[
        "note",
        "--dir",
        d,
        "--issue",
        "HTTP 403 on writes",
        "--fix",
        "accept service tokens",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("iter-002/iteration.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        v["issue"], "HTTP 403 on writes",
        "latest iteration by default"
    );
    assert_eq!(v["fix"], "accept service tokens");
    assert_eq!(v["started"], "2026-11-24T10:05:00Z", "existing fields kept");
    assert_eq!(v["custom"], 7, "unknown fields kept");

    let out = loopdeck(&[
        "note",
        "--dir",
        d,
        "--iteration",
        "1",
        "--root-cause",
        "middleware",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("iter-001/iteration.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["root_cause"], "middleware");

    // The status command reads it back.
    let out = loopdeck(&["status", d, "--json", "--iteration", "2"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["meta"]["issue"], "HTTP 403 on writes");
}

#[test]
fn note_refuses_to_clobber_a_broken_file_and_needs_a_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("iter-001")).unwrap();
    std::fs::write(dir.path().join("iter-001/iteration.json"), "{broken").unwrap();
    let d = dir.path().to_str().unwrap();
    let out = loopdeck(&["note", "--dir", d, "--issue", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("iter-001/iteration.json")).unwrap(),
        "{broken"
    );
    let out = loopdeck(&["note", "--dir", d]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to write"));
}
