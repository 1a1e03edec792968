//! loopdeck: a terminal cockpit for the test-deploy loop.
//!
//! The binary (`main.rs`) is a thin shell over this library so that the
//! pieces can be tested and benchmarked directly. The README's design
//! section describes the architecture.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod driver;
pub mod follow;
pub mod headless;
pub mod ingest;
pub mod lock;
pub mod logtail;
pub mod model;
pub mod oneshot;
pub mod reader;
pub mod results;
pub mod runner;
pub mod sanitize;
pub mod status;
pub mod terminal;
pub mod ui;
pub mod watch;
