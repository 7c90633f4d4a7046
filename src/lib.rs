//! hubdeck — the terminal admin console of a federated-learning hub.
//!
//! Layers (arrows point one way): `tui` / `cli` → `service` → (`store`, `directory`) → `domain`.
//! `app` is the composition root (settings → services → logging → front end) used by the CLI,
//! the console and the demo; `tests/it/architecture.rs` enforces the import rules.
//! `localpg` starts a private PostgreSQL cluster for the demo and the test harness.
#![deny(clippy::unwrap_used, clippy::panic)]

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod directory;
pub mod domain;
pub mod files;
pub mod localpg;
pub mod logfile;
pub mod service;
pub mod store;
pub mod tui;

/// The embedded migrations (`migrations/`), applied by `hubdeck migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
