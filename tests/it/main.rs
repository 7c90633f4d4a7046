//! All integration tests, in one binary. Each module is one capability.

#[path = "../support/mod.rs"]
mod support;

mod architecture;
mod audit;
mod audit_view;
mod bulk;
mod cli_output;
mod completions;
mod concurrency;
mod demo;
mod directory;
mod doctor;
mod drift;
mod env;
mod foundation;
mod local_directory;
mod mandates;
mod members;
mod mfa;
mod plans;
mod query;
mod registration;
mod registration_detail;
mod registration_faults;
mod setup;
mod sync;
mod trust_keys;
mod trusts;
mod tui_bulk_undo;
mod tui_e2e;
mod tui_layout;
mod tui_rows;
mod tui_safety;
mod tui_safety_e2e;
mod tui_session;
mod tui_snapshots;
mod tui_workflows_mandates;
mod tui_workflows_oncall;
mod undo;
mod use_cases;
mod users;
mod users_search;
