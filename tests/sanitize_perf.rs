//! Rough timings, run by hand:
//! `cargo test --release --test sanitize_perf -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use loopdeck::sanitize::{line, line_cow};

/// Best of five runs of `f` over `inputs`, after one warm-up run.
fn best<F: Fn(&str) -> usize>(inputs: &[String], f: F) -> Duration {
    let run = || {
        let t = Instant::now();
        let n: usize = inputs.iter().map(|s| f(black_box(s))).sum();
        black_box(n);
        t.elapsed()
    };
    run();
    (0..5).map(|_| run()).min().unwrap()
}

#[test]
#[ignore = "timing, run by hand"]
fn hundred_thousand_test_names() {
    let names: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                "tests/e2e/test_module_{}.py::test_case_number_{i}[param-{}]",
                i % 97,
                i % 13
            )
        })
        .collect();
    let uni: Vec<String> = names.iter().map(|s| format!("{s}[東京-é]")).collect();
    let dirty: Vec<String> = names
        .iter()
        .map(|s| format!("\x1b[31m{s}\x1b[0m\t"))
        .collect();
    println!(
        "100k ascii names, line_cow:   {:?}",
        best(&names, |s| line_cow(s).len())
    );
    println!(
        "100k ascii names, line:       {:?}",
        best(&names, |s| line(s).len())
    );
    println!(
        "100k unicode names, line_cow: {:?}",
        best(&uni, |s| line_cow(s).len())
    );
    println!(
        "100k SGR + tab names, line:   {:?}",
        best(&dirty, |s| line(s).len())
    );
}
