//! Budget: bytes sent to the terminal when one counter changes < 300.
//! Drawn through the real crossterm backend into a byte buffer.

mod common;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use chrono::Utc;
use loopdeck::app::{Msg, State, update};
use loopdeck::model::{Outcome, TestCase};
use loopdeck::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{TerminalOptions, Viewport};

/// A byte sink the test can still read while the backend owns a handle to it.
#[derive(Clone, Default)]
struct Sink(Rc<RefCell<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn one_more_finished_test_sends_few_bytes() {
    let mut s = State::new("staging e2e", Some(60), Utc::now());
    update(&mut s, Msg::Resize(120, 40));
    let mut it = common::iteration(1, 10, 6, &[(2, 1, "HTTP 403 Forbidden")]);
    it.running = true;
    it.expected_total = Some(60);
    it.meta.as_mut().unwrap().started = None;
    let all: Vec<TestCase> = it.tests.clone();
    it.tests.truncate(40);
    update(
        &mut s,
        Msg::Data {
            changed: vec![it.clone()],
            removed: vec![],
        },
    );

    let sink = Sink::default();
    let backend = CrosstermBackend::new(sink.clone());
    let mut term = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
        },
    )
    .unwrap();
    let theme = Theme {
        color: true,
        ascii: false,
    };
    term.draw(|f| draw(f, &s, &theme)).unwrap();
    let first = sink.0.borrow().len();
    assert!(
        first > 2000,
        "the first frame draws everything ({first} bytes)"
    );

    // One more test finishes (a passing one in a module already on screen).
    it.tests.push(all[40].clone());
    assert_eq!(it.tests[40].outcome, Outcome::Passed);
    update(
        &mut s,
        Msg::Data {
            changed: vec![it],
            removed: vec![],
        },
    );
    term.draw(|f| draw(f, &s, &theme)).unwrap();
    let second = sink.0.borrow().len() - first;
    eprintln!("first frame {first} bytes, one counter change {second} bytes");
    assert!(second > 0, "the change was drawn");
    assert!(second < 300, "one counter change sent {second} bytes");
}
