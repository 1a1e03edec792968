//! TEMPORARY stub until the demo branch lands.
use std::path::Path;
use std::sync::atomic::AtomicBool;

pub fn play(_dir: &Path, _speed: f64, _stop: &AtomicBool) -> std::io::Result<()> {
    Ok(())
}
