//! Plain data: what a test run, an iteration and a deployment are.
//! No I/O and no terminal types live here, so everything above can be tested
//! with values built by hand.

mod deploy;
mod iteration;
mod live_summary;
mod run;
mod summary;
mod test_case;
mod time;

pub use deploy::{DeployState, Deployment};
pub use iteration::IterationMeta;
pub use live_summary::LiveSummary;
pub use run::{RunKind, RunRecord};
pub use summary::{
    FailureGroup, ModuleSummary, Summary, Totals, cause, cause_in_detail, signature,
};
pub use test_case::{Failure, Outcome, Report, TestCase, test_key};
pub use time::{duration_text, parse_time};
