//! `demo::play`: timing, speed and prompt cancellation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use loopdeck::demo;

#[test]
fn play_with_stop_set_returns_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(true);
    let t = Instant::now();
    demo::play(dir.path(), 1.0, &stop).unwrap();
    assert!(t.elapsed() < Duration::from_millis(200));
    assert!(!dir.path().join("iter-001").exists());
}

#[test]
fn play_stops_promptly_while_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let player = std::thread::spawn(move || demo::play(&path, 1.0, &s));
    // Wait (on the file, not a fixed sleep) until the demo has begun.
    let begun = Instant::now();
    while !dir.path().join("iter-001/iteration.json").exists() {
        assert!(
            begun.elapsed() < Duration::from_secs(5),
            "demo did not start"
        );
        std::thread::yield_now();
    }
    let t = Instant::now();
    stop.store(true, Ordering::Relaxed);
    player.join().unwrap().unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "took {:?}",
        t.elapsed()
    );
    assert!(!dir.path().join("iter-004").exists());
}

#[test]
fn speed_1000_finishes_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    demo::play(dir.path(), 1000.0, &AtomicBool::new(false)).unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let log = std::fs::read_to_string(dir.path().join("iter-004/report-log.jsonl")).unwrap();
    assert!(log.ends_with("\"SessionFinish\"}\n"));
    assert!(dir.path().join("iter-004/junit.xml").exists());
}

#[test]
fn story_is_about_a_minute() {
    let len = demo::story_length().as_secs_f64();
    assert!((45.0..=75.0).contains(&len), "{len}");
}

#[test]
fn bad_speed_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    assert!(demo::play(dir.path(), 0.0, &stop).is_err());
    assert!(demo::play(dir.path(), f64::NAN, &stop).is_err());
}

/// Plays the demo live for watching by hand:
/// `LOOPDECK_DEMO_OUT=/tmp/demo LOOPDECK_DEMO_SPEED=1 cargo test --test demo_play -- --ignored`.
#[test]
#[ignore = "plays in real time into a directory outside the temp dir"]
fn play_to_env_dir() {
    let out = std::env::var("LOOPDECK_DEMO_OUT").expect("set LOOPDECK_DEMO_OUT");
    let speed = std::env::var("LOOPDECK_DEMO_SPEED").map_or(1.0, |s| s.parse().unwrap());
    let t = Instant::now();
    demo::play(std::path::Path::new(&out), speed, &AtomicBool::new(false)).unwrap();
    println!("played at speed {speed} in {:?}", t.elapsed());
}
