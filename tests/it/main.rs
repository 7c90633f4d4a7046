//! All integration tests, in one binary. Each module is one capability.

#[path = "../support/mod.rs"]
mod support;

mod demo;
mod foundation;
mod tui_snapshots;
mod registration;
mod users;
