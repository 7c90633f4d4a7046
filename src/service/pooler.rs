//! The doctor line `database.pooler`: the pooling mode hubdeck detects by behaviour (see
//! [`crate::store::pooler`]) against the configured `database.pooler`.

use super::health::{Check, Status};
use crate::config::{Pooler, Settings};

const ID: &str = "database.pooler";

/// What hubdeck does differently through a transaction pooler (see `store::db`).
const TRANSACTION_POOLING: &str = "with database.pooler = \"transaction\" every statement is \
    sent unnamed and inside a transaction, so the pooler needs no prepared-statement support; \
    `hubdeck migrate` must connect to the server directly (or through a session pooler)";

pub(crate) async fn pooler_check(s: &Settings, db: &sqlx::PgPool) -> Check {
    let configured = s.database.pooler;
    let opts = db.connect_options();
    let probe = match crate::store::pooler::probe(&opts).await {
        Ok(p) => p,
        Err(e) => {
            return Check {
                id: ID,
                status: Status::Skip,
                detail: format!("cannot probe the connection path: {e}"),
                remedy: None,
            };
        }
    };
    let port = opts.get_port();
    let in_between = probe.server_port != 0 && probe.server_port != port;
    let (status, detail, remedy) = if probe.lends_per_transaction {
        let detail = format!(
            "transaction pooling detected (backends are lent per transaction); \
             database.pooler = \"{}\"",
            configured.as_str()
        );
        if configured == Pooler::Transaction {
            (
                Status::Pass,
                format!(
                    "{detail}; statements go unnamed, each inside a transaction (migrations \
                     need a direct connection)"
                ),
                None,
            )
        } else {
            (
                Status::Fail,
                detail,
                Some(format!(
                    "set database.pooler = \"transaction\"; {TRANSACTION_POOLING}"
                )),
            )
        }
    } else if in_between {
        let detail = format!(
            "a pooler or proxy is in between (hubdeck connects to port {port}, the server \
             listens on {}); each connection keeps its backend (session pooling or a TCP \
             proxy); database.pooler = \"{}\"",
            probe.server_port,
            configured.as_str()
        );
        if configured == Pooler::None {
            (
                Status::Warn,
                detail,
                Some(
                    "if it is a pooler, set database.pooler = \"session\" (it refuses the \
                     startup options a direct connection sends)"
                        .to_string(),
                ),
            )
        } else {
            (Status::Pass, detail, None)
        }
    } else {
        (
            Status::Pass,
            format!(
                "each connection keeps its own backend (direct or session pooling); \
                 database.pooler = \"{}\"",
                configured.as_str()
            ),
            None,
        )
    };
    Check {
        id: ID,
        status,
        detail,
        remedy,
    }
}

/// A pooler in the way of a direct-connection configuration refuses the startup options
/// hubdeck then sends (PgBouncer: "unsupported startup parameter"): the pooler line says so.
pub(crate) fn startup_refused(s: &Settings, error: &str) -> Option<Check> {
    (s.database.pooler == Pooler::None && error.contains("unsupported startup parameter")).then(
        || Check {
            id: ID,
            status: Status::Fail,
            detail: "a connection pooler refused the startup options of a direct connection"
                .to_string(),
            remedy: Some(
                "set database.pooler = \"session\" or \"transaction\" to match the pooler's \
                 pool_mode"
                    .to_string(),
            ),
        },
    )
}
