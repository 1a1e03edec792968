//! Times `ingest::parse` on one report file, as a whole process would:
//! read the file, parse, report. Without a path it writes and reads the
//! generated 100,000-test JUnit report (`/tmp/loopdeck-junit-100k.xml`).
//!
//! cargo run --release --example ingest_parse [-- FILE]

use std::time::Instant;

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        let p = "/tmp/loopdeck-junit-100k.xml".to_string();
        if !std::path::Path::new(&p).exists() {
            std::fs::write(&p, loopdeck::ingest::generate_junit(100_000, 0.02, 30)).unwrap();
            eprintln!("wrote {p}; run again for a cold-process measurement");
            std::process::exit(0);
        }
        p
    });
    let t0 = Instant::now();
    let bytes = std::fs::read(&path).unwrap();
    let t1 = Instant::now();
    // INGEST_REPEAT=N parses N times (for profiling); the time is the last run.
    let repeat: usize = std::env::var("INGEST_REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let mut t1 = t1;
    for _ in 1..repeat.max(1) {
        drop(loopdeck::ingest::parse(&bytes).unwrap());
        t1 = Instant::now();
    }
    let report = loopdeck::ingest::parse(&bytes).unwrap();
    let t2 = Instant::now();
    let summary = loopdeck::model::Summary::of(&report.tests);
    let t3 = Instant::now();
    let mb = bytes.len() as f64 / 1e6;
    let parse = (t2 - t1).as_secs_f64();
    println!(
        "{path}: {:.1} MB, {} tests ({} failing) | read {:.1} ms, parse {:.1} ms ({:.0} MB/s), summary {:.1} ms | peak RSS {} KB",
        mb,
        report.tests.len(),
        summary.totals.failing(),
        (t1 - t0).as_secs_f64() * 1e3,
        parse * 1e3,
        mb / parse,
        (t3 - t2).as_secs_f64() * 1e3,
        peak_rss_kb().unwrap_or(0),
    );
}
