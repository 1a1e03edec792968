//! `cargo bench --bench ingest`: parse of a generated 100,000-test pytest
//! JUnit report (~21 MB, 2% failures with 30-line tracebacks), the budget
//! case of `loopdeck status --json`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use loopdeck::ingest;

fn bench(c: &mut Criterion) {
    let xml = ingest::generate_junit(100_000, 0.02, 30);
    let bytes = xml.as_bytes();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(20);
    g.bench_function("junit_100k_parse", |b| {
        b.iter(|| {
            let r = ingest::parse(std::hint::black_box(bytes)).unwrap();
            assert_eq!(r.tests.len(), 100_000);
            r
        })
    });
    g.bench_function("junit_100k_parse_merge", |b| {
        b.iter(|| {
            let r = ingest::parse(std::hint::black_box(bytes)).unwrap();
            ingest::merge(&[&r]).len()
        })
    });
    // What `loopdeck status` does with such a file: two halves on two
    // threads, read from the file (page cache) with positioned reads.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let f = std::fs::File::open(file.path()).unwrap();
    g.bench_function("junit_100k_split_from_file", |b| {
        b.iter(|| {
            let (r, _) = ingest::parse_split(
                &f,
                &bytes[..4096],
                bytes.len() as u64,
                1 << 30,
                ingest::Keep::All,
                &|_| {},
            )
            .expect("the generated report splits");
            assert_eq!(r.tests.len(), 100_000);
            r
        })
    });
    g.bench_function("sniff", |b| {
        b.iter(|| ingest::sniff(std::hint::black_box(&bytes[..4096])))
    });
    g.finish();

    let log = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/pytest-reportlog/shop/report-log.jsonl"
    ))
    .unwrap();
    let mut g = c.benchmark_group("ingest_lines");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.bench_function("reportlog_fixture", |b| {
        b.iter(|| ingest::parse(std::hint::black_box(&log)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
