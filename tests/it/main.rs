//! All integration tests, in one binary. Each module is one capability.

#[path = "../support/mod.rs"]
mod support;

mod foundation;
mod local_directory;
mod registration;
mod users;
