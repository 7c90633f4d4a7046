//! Whether a failure means "the database could not be reached" (the server went away, the
//! connection broke, the pool could not open one) as opposed to a refusal or a bug. The
//! console uses it to show its outage banner, to keep what the operator typed, and — for a
//! change that was already sent — to say the outcome is unknown instead of "failed".

use crate::service::ServiceError;
use crate::store::StoreError;

/// True when any cause in the chain is a lost or unavailable database connection (the one
/// classification: [`StoreError::is_connection_loss`]).
pub fn is_connection_loss(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        if let Some(ServiceError::Store(s)) = c.downcast_ref::<ServiceError>() {
            return s.is_connection_loss();
        }
        if let Some(s) = c.downcast_ref::<StoreError>() {
            return s.is_connection_loss();
        }
        c.downcast_ref::<sqlx::Error>()
            .is_some_and(crate::store::transience::connection_lost)
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
        // A server that ended the session (a failover) is classified `Interrupted` by the
        // store: it is an outage too, a lock or statement timeout is not.
        for (code, lost) in [
            ("57P01", true),
            ("08006", true),
            ("55P03", false),
            ("57014", false),
        ] {
            let e: anyhow::Error = ServiceError::Store(StoreError::Interrupted {
                code: code.into(),
                message: "m".into(),
            })
            .into();
            assert_eq!(is_connection_loss(&e), lost, "{code}");
        }
        use crate::store::transience::sqlstate_connection_lost;
        for code in ["08006", "08003", "57P01", "57P03"] {
            assert!(sqlstate_connection_lost(code), "{code}");
        }
        for code in ["23505", "40001", "57014", "42P01"] {
            assert!(!sqlstate_connection_lost(code), "{code}");
        }
    }
}
