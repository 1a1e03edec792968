//! Budget: one frame at 200x50 with 100,000 tests loaded < 2 ms (only visible
//! rows are drawn). Also measures rebuilding the summary when data arrives.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use loopdeck::app::{Msg, State, update};
use loopdeck::model::{Failure, Outcome, TestCase};
use loopdeck::results::IterationData;
use loopdeck::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;

fn big_iteration(n: usize) -> IterationData {
    let tests = (0..n)
        .map(|i| {
            let module = format!("tests/e2e/area_{}/test_mod_{}.py", i % 40, i % 500);
            let failing = i % 50 == 7;
            TestCase {
                id: format!("{module}::test_case_{i}"),
                module: module.into(),
                outcome: if failing {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                },
                duration_secs: Some(0.01),
                failure: failing.then(|| {
                    Box::new(Failure {
                        message: format!("HTTP {} Forbidden for request {i}", 400 + (i % 5)),
                        detail: "Traceback\n".repeat(30),
                        ..Default::default()
                    })
                }),
            }
        })
        .collect();
    IterationData {
        key: "iter-001".into(),
        number: 1,
        tests,
        ..Default::default()
    }
}

fn frame(c: &mut Criterion) {
    let mut state = State::new("bench", None, Utc::now());
    update(&mut state, Msg::Resize(200, 50));
    let data = big_iteration(100_000);
    c.bench_function("update: 100k tests arrive (summary + rows)", |b| {
        b.iter(|| {
            let mut s = state.clone();
            update(
                &mut s,
                Msg::Data {
                    changed: vec![data.clone()],
                    removed: vec![],
                },
            );
            black_box(s.failure_rows.len())
        })
    });
    update(
        &mut state,
        Msg::Data {
            changed: vec![data],
            removed: vec![],
        },
    );
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let theme = Theme {
        color: true,
        ascii: false,
    };
    c.bench_function("draw: 200x50 frame, 100k tests", |b| {
        b.iter(|| {
            terminal.draw(|f| draw(f, &state, &theme)).unwrap();
        })
    });
}

criterion_group!(benches, frame);
criterion_main!(benches);
