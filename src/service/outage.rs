//! Whether a failure means "the database could not be reached" (the server went away, the
//! connection broke, the pool could not open one) as opposed to a refusal or a bug. The
//! console uses it to show its outage banner, to keep what the operator typed, and — for a
//! change that was already sent — to say the outcome is unknown instead of "failed".

use crate::service::ServiceError;
use crate::store::StoreError;

/// SQLSTATEs of a connection the server ended or could not keep: class 08 (connection
/// exception) and 57P01–57P03 (admin shutdown, crash shutdown, cannot connect now).
fn connection_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

fn sqlx_connection_loss(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| connection_sqlstate(&c)),
        _ => false,
    }
}

/// True when any cause in the chain is a lost or unavailable database connection.
pub fn is_connection_loss(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        if let Some(s) = c.downcast_ref::<ServiceError>() {
            return match s {
                ServiceError::Store(StoreError::Unavailable(_)) => true,
                ServiceError::Store(StoreError::Database(d)) => sqlx_connection_loss(d),
                _ => false,
            };
        }
        if let Some(s) = c.downcast_ref::<StoreError>() {
            return match s {
                StoreError::Unavailable(_) => true,
                StoreError::Database(d) => sqlx_connection_loss(d),
                _ => false,
            };
        }
        c.downcast_ref::<sqlx::Error>()
            .is_some_and(sqlx_connection_loss)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_told_apart_from_refusals() {
        let unavailable: anyhow::Error =
            ServiceError::Store(StoreError::Unavailable("connection refused".into())).into();
        assert!(is_connection_loss(&unavailable));
        let io: anyhow::Error = ServiceError::from(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        )))
        .into();
        assert!(is_connection_loss(&io));
        let timed_out: anyhow::Error = ServiceError::from(sqlx::Error::PoolTimedOut).into();
        assert!(is_connection_loss(&timed_out));
        let refused: anyhow::Error = ServiceError::Conflict("name taken".into()).into();
        assert!(!is_connection_loss(&refused));
        let not_found: anyhow::Error = ServiceError::from(sqlx::Error::RowNotFound).into();
        assert!(!is_connection_loss(&not_found));
        for code in ["08006", "08003", "57P01", "57P03"] {
            assert!(connection_sqlstate(code), "{code}");
        }
        for code in ["23505", "40001", "57014", "42P01"] {
            assert!(!connection_sqlstate(code), "{code}");
        }
    }
}
