//! loopdeck.toml: template, defaults, paths, `find`, `init`, and the folder
//! of bad config files (each names the expected error on its first line).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use loopdeck::config::{self, FILE_NAME, TEMPLATE};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, body).unwrap();
    path
}

#[test]
fn every_bad_config_names_file_line_and_key() {
    let mut entries: Vec<_> = fs::read_dir(fixtures().join("bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 30, "fixtures missing: {}", entries.len());
    let mut failures = Vec::new();
    for path in &entries {
        let text = fs::read_to_string(path).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let expect = first.strip_prefix("# expect: line ").unwrap_or_else(|| {
            panic!(
                "{}: first line must be `# expect: line N: ...`",
                path.display()
            )
        });
        let (line, rest) = expect.split_once(": ").unwrap();
        let line: usize = line.parse().unwrap();
        let err = match config::load(path) {
            Ok(_) => {
                failures.push(format!("{}: loaded without error", path.display()));
                continue;
            }
            Err(e) => e,
        };
        let shown = err.to_string();
        let name = path.file_name().unwrap().to_str().unwrap();
        let wanted = format!("{name}:{line}: {rest}");
        if err.line != Some(line) || !shown.contains(&wanted) || err.key.is_none() {
            failures.push(format!(
                "{name}:\n  want: {wanted}\n  got:  {shown}  (line {:?}, key {:?})",
                err.line, err.key
            ));
        }
        assert!(!shown.contains('\n'), "one-line message: {shown:?}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn display_format_matches_the_documented_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        FILE_NAME,
        "goal = 1\n\n\n\n\n\n\n\n\n\n[deploy]\ncommand = \"x\"\ntimeout = \"ten minutes\"\n",
    );
    let err = config::load(&path).unwrap_err();
    assert_eq!(err.line, Some(13));
    assert_eq!(err.column, Some(11));
    assert_eq!(err.key.as_deref(), Some("[deploy] timeout"));
    assert_eq!(
        err.to_string(),
        format!(
            "{}:13: [deploy] timeout: invalid duration \"ten minutes\" (examples: 90s, 10m, 1h30m)",
            path.display()
        )
    );
}

#[test]
fn template_round_trips_through_init_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = config::init(dir.path(), false).unwrap();
    assert_eq!(path, dir.path().join(FILE_NAME));
    assert_eq!(fs::read_to_string(&path).unwrap(), TEMPLATE);
    let cfg = config::load(&path).unwrap();
    // The template enables nothing that runs: commands are examples.
    assert!(cfg.test.is_none() && cfg.deploy.is_none() && cfg.rerun_failed.is_none());
    assert_eq!(cfg.results_dir, dir.path().join("loop-results"));
    assert_eq!(cfg.workdir, dir.path());
    assert_eq!(cfg.grace, Duration::from_secs(10));
    assert_eq!(cfg.goal, None);
}

/// Every commented-out example in the template (`#key = ...`, `#[section]`)
/// is valid and means what the brief says.
#[test]
fn template_examples_all_parse() {
    let uncommented: String = TEMPLATE
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '[') => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(uncommented.contains("\n[deploy]\n"));
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), FILE_NAME, &uncommented);
    let cfg = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.goal, Some(466));
    assert_eq!(cfg.service.as_deref(), Some("backend"));
    assert_eq!(
        cfg.env,
        vec![("STAGING_URL".into(), "https://staging.example".into())]
    );
    let test = cfg.test.unwrap();
    assert!(
        test.command
            .starts_with("pytest tests/e2e --junitxml={iteration_dir}/junit.xml")
    );
    assert_eq!(test.timeout, Some(Duration::from_secs(45 * 60)));
    let deploy = cfg.deploy.unwrap();
    assert_eq!(deploy.command, "./deploy.sh staging");
    assert_eq!(deploy.timeout, Some(Duration::from_secs(20 * 60)));
    let re = cfg.revision_pattern.unwrap();
    assert_eq!(
        config::revision_from(&re, "building...\nrevision 00094-x55 is live\n"),
        Some("00094-x55")
    );
    let rerun = cfg.rerun_failed.unwrap();
    assert!(rerun.command.ends_with("{failed_ids}"));
    assert_eq!(rerun.timeout, Some(Duration::from_secs(15 * 60)));
    assert_eq!(cfg.auto_max_iterations, Some(10));
    assert_eq!(cfg.grace, Duration::from_secs(10));
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), FILE_NAME, "goal = 3\n");
    let err = config::init(dir.path(), false).unwrap_err();
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "goal = 3\n");
    config::init(dir.path(), true).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), TEMPLATE);
    // No temp files left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    fs::create_dir_all(project.join("e2e")).unwrap();
    let path = write(
        &project,
        FILE_NAME,
        "results_dir = \"out/./results\"\nworkdir = \"e2e\"\n",
    );
    // Loaded from elsewhere, through a relative path.
    let cwd = std::env::current_dir().unwrap();
    let rel = pathdiff(&path, &cwd);
    let cfg = config::load(&rel).unwrap();
    assert_eq!(cfg.path, path);
    assert_eq!(cfg.results_dir, project.join("out/results"));
    assert_eq!(cfg.workdir, project.join("e2e"));

    let abs = dir.path().join("elsewhere");
    fs::create_dir(&abs).unwrap();
    let path = write(
        &project,
        "abs.toml",
        &format!("results_dir = {:?}\nworkdir = {:?}\n", abs.join("r"), abs),
    );
    let cfg = config::load(&path).unwrap();
    assert_eq!(cfg.results_dir, abs.join("r"));
    assert_eq!(cfg.workdir, abs);
}

/// `path` relative to `base` via `..` components (both absolute).
fn pathdiff(path: &Path, base: &Path) -> PathBuf {
    let ups = base.components().count() - 1;
    let mut out = PathBuf::new();
    for _ in 0..ups {
        out.push("..");
    }
    out.join(path.strip_prefix("/").unwrap())
}

#[test]
fn env_keeps_strings_sorted_and_commands_keep_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        FILE_NAME,
        r#"
service = "backend"
goal = 466
[env]
ZED = "last"
API_TOKEN_FILE = "~/.token"
[test]
command = "pytest -k 'not slow' --junitxml={iteration_dir}/junit.xml"
[deploy]
command = "./deploy.sh {service}"
revision_pattern = 'deployed (?P<revision>[0-9a-f]{7})'
[rerun_failed]
command = "pytest @{failed_ids_file}"
[cancel]
grace = "1m30s"
"#,
    );
    let cfg = config::load(&path).unwrap();
    assert_eq!(
        cfg.env,
        vec![
            ("API_TOKEN_FILE".to_string(), "~/.token".to_string()),
            ("ZED".to_string(), "last".to_string())
        ]
    );
    assert_eq!(cfg.test.unwrap().timeout, None);
    assert_eq!(cfg.grace, Duration::from_secs(90));
    let re = cfg.revision_pattern.unwrap();
    assert_eq!(
        config::revision_from(&re, "deployed abcdef0\nx\ndeployed 1234567 ok"),
        Some("1234567")
    );
    assert_eq!(config::revision_from(&re, "nothing"), None);
}

#[test]
fn dotted_keys_work_like_sections() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        FILE_NAME,
        "test.command = \"pytest\"\ntest.timeout = \"5m\"\n",
    );
    let cfg = config::load(&path).unwrap();
    let test = cfg.test.unwrap();
    assert_eq!(test.command, "pytest");
    assert_eq!(test.timeout, Some(Duration::from_secs(300)));
}

#[test]
fn load_names_missing_and_odd_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let err = config::load(&missing).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read config", missing.display()))
    );
    let err = config::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let bad = dir.path().join("latin1.toml");
    fs::write(&bad, b"service = \"caf\xe9\"\n").unwrap();
    assert!(
        config::load(&bad)
            .unwrap_err()
            .to_string()
            .contains("UTF-8")
    );
}

#[test]
fn find_prefers_explicit_then_walks_up_to_the_git_root_only() {
    let dir = tempfile::tempdir().unwrap();
    let outer = dir.path();
    let repo = outer.join("repo");
    let sub = repo.join("a/b");
    fs::create_dir_all(&sub).unwrap();
    fs::create_dir(repo.join(".git")).unwrap();

    // --config wins, even when missing (load reports it), relative to cwd.
    assert_eq!(
        config::find(Some(Path::new("x/my.toml")), &sub),
        Some(sub.join("x/my.toml"))
    );
    assert_eq!(
        config::find(Some(Path::new("/etc/l.toml")), &sub),
        Some(PathBuf::from("/etc/l.toml"))
    );

    // A loopdeck.toml above the git root is never used.
    write(outer, FILE_NAME, "");
    assert_eq!(config::find(None, &sub), None);

    // At the git root: found from any subfolder.
    let at_root = write(&repo, FILE_NAME, "");
    assert_eq!(config::find(None, &sub), Some(at_root.clone()));
    assert_eq!(config::find(None, &repo), Some(at_root));

    // The nearest one wins.
    let nearer = write(&repo.join("a"), FILE_NAME, "");
    assert_eq!(config::find(None, &sub), Some(nearer));

    // A folder named loopdeck.toml is not a config.
    fs::create_dir(sub.join(FILE_NAME)).unwrap();
    assert_eq!(
        config::find(None, &sub),
        Some(repo.join("a").join(FILE_NAME))
    );

    // Outside any git repository only cwd itself counts.
    let plain = outer.join("plain/deeper");
    fs::create_dir_all(&plain).unwrap();
    write(&outer.join("plain"), FILE_NAME, "");
    assert_eq!(config::find(None, &plain), None);
    let here = write(&plain, FILE_NAME, "");
    assert_eq!(config::find(None, &plain), Some(here));
}
