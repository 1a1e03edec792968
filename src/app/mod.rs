//! The application core: state, messages, effects and the one pure `update`.
//! Nothing here does I/O or knows the terminal; `crate::terminal` runs it.

mod control;
mod detail;
mod drive;
mod iteration;
mod keymap;
mod msg;
mod rows;
mod state;
mod update;

pub use control::{ActiveRun, Auto, Commands, Confirm, Control, Output, Stage};
pub use detail::{Detail, detail_lines};
pub use drive::loop_stage;
pub use iteration::Iteration;
pub use keymap::{Action, HELP as KEYMAP_HELP, action_for};

/// The help table: key, what it does.
pub fn keymap_help() -> &'static [(&'static str, &'static str)] {
    KEYMAP_HELP
}
pub use msg::{Effect, Msg};
pub use rows::{FailureRow, PROVISIONAL_KEY};
pub use state::{Focus, Input, PastOutput, State};
pub use update::{detail_test, update};
