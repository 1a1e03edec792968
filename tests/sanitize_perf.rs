//! Rough timings, run by hand: `cargo test --release --test sanitize_perf -- --ignored --nocapture`.

use std::time::Instant;

use loopdeck::sanitize::{line, line_cow};

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
    let t = Instant::now();
    let n: usize = names.iter().map(|s| line_cow(s).len()).sum();
    println!("100k ascii names, line_cow: {:?} ({n} bytes)", t.elapsed());
    let t = Instant::now();
    let n: usize = names.iter().map(|s| line(s).len()).sum();
    println!(
        "100k ascii names, line (owned): {:?} ({n} bytes)",
        t.elapsed()
    );
    let uni: Vec<String> = names.iter().map(|s| format!("{s}[東京-é]")).collect();
    let t = Instant::now();
    let n: usize = uni.iter().map(|s| line_cow(s).len()).sum();
    println!(
        "100k unicode names, line_cow: {:?} ({n} bytes)",
        t.elapsed()
    );
    let dirty: Vec<String> = names
        .iter()
        .map(|s| format!("\x1b[31m{s}\x1b[0m\t"))
        .collect();
    let t = Instant::now();
    let n: usize = dirty.iter().map(|s| line_cow(s).len()).sum();
    println!(
        "100k names with SGR + tab (parser path): {:?} ({n} bytes)",
        t.elapsed()
    );
}
