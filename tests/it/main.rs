//! All integration tests, in one binary. Each module is one capability.

#[path = "../support/mod.rs"]
mod support;

mod demo;
mod foundation;
mod registration;
mod tui_snapshots;
mod users;
mod mandates;
mod members;
