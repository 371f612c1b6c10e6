//! The web UI's first page: a live dashboard of agents, frameworks and tasks read from the
//! master's own `/state`. (The full UI is a later issue; this page already answers "what runs
//! where".)

/// The page; `{{MASTER}}` is replaced with the master's advertised address.
pub const INDEX_HTML: &str = include_str!("ui/index.html");
