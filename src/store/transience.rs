//! The ONE classification of database failures ([`Transience`]): which may succeed later and
//! which say the change cannot be made. [`super::StoreError`] is built from it, the registration
//! saga decides with it whether a fresh identity is kept, and the service's whole-transaction
//! retry runs again only what it calls [`Transience::Retryable`].

/// How a database failure may be answered: the ONE classification every caller uses (the
/// registration saga deciding whether to keep an identity, the services' whole-transaction
/// retry, the local directory's mapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transience {
    /// The server rolled the transaction back before commit (serialization failure 40001,
    /// deadlock 40P01): run the whole transaction again.
    Retryable,
    /// May succeed later, but must NOT be re-run blindly: the connection or the statement was
    /// cut off (connection loss, class 08, shutdown 57P0x, lock timeout 55P03, statement
    /// timeout 57014, pool timeout). If that statement was a COMMIT its outcome is unknown.
    /// Never a reason to undo work that was already done.
    Transient,
    /// Anything else: the change cannot be made as asked.
    Definitive,
}

impl Transience {
    /// Transient or retryable: the failure says nothing about whether the change can be made.
    pub fn may_succeed_later(self) -> bool {
        self != Transience::Definitive
    }
}

/// The classification of a SQLSTATE.
pub fn sqlstate_transience(code: &str) -> Transience {
    match code {
        // serialization_failure, deadlock_detected
        "40001" | "40P01" => Transience::Retryable,
        // lock_not_available (lock_timeout, NOWAIT), query_canceled (statement_timeout)
        "55P03" | "57014" => Transience::Transient,
        // admin_shutdown, crash_shutdown, cannot_connect_now, database_dropped, idle session
        // timeout: the server ended or refused the session
        c if c.starts_with("57P0") => Transience::Transient,
        // connection_exception and its subclasses
        c if c.starts_with("08") => Transience::Transient,
        _ => Transience::Definitive,
    }
}

/// SQLSTATEs of a connection the server ended or could not keep — class 08 (connection
/// exception) and 57P01–57P03 (admin shutdown, crash shutdown, cannot connect now): the subset
/// of [`Transience::Transient`] that means "the database went away", not "it said wait".
pub fn sqlstate_connection_lost(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Whether a driver error is a lost or unavailable connection.
pub fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| sqlstate_connection_lost(&c)),
        _ => false,
    }
}

/// The classification of a driver error.
pub fn transience_of(e: &sqlx::Error) -> Transience {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .map_or(Transience::Definitive, |c| sqlstate_transience(&c)),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Transience::Transient,
        _ => Transience::Definitive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// A server error with a given SQLSTATE, as the driver would hand it over.
    #[derive(Debug)]
    struct ServerError(&'static str);

    impl std::fmt::Display for ServerError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "server error {}", self.0)
        }
    }

    impl std::error::Error for ServerError {}

    impl sqlx::error::DatabaseError for ServerError {
        fn message(&self) -> &str {
            "server error"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn server(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(ServerError(code)))
    }

    #[test]
    fn the_classification_table() {
        use Transience::*;
        let table: &[(&str, Transience)] = &[
            ("40001", Retryable),  // serialization_failure
            ("40P01", Retryable),  // deadlock_detected
            ("55P03", Transient),  // lock_not_available (lock_timeout)
            ("57014", Transient),  // query_canceled (statement_timeout)
            ("57P01", Transient),  // admin_shutdown (pg_terminate_backend, failover)
            ("57P02", Transient),  // crash_shutdown
            ("57P03", Transient),  // cannot_connect_now
            ("57P04", Transient),  // database_dropped
            ("57P05", Transient),  // idle_session_timeout
            ("08000", Transient),  // connection_exception
            ("08003", Transient),  // connection_does_not_exist
            ("08006", Transient),  // connection_failure
            ("08P01", Transient),  // protocol_violation
            ("23505", Definitive), // unique_violation
            ("23503", Definitive), // foreign_key_violation
            ("42P05", Definitive), // duplicate_prepared_statement
            ("42501", Definitive), // insufficient_privilege
            ("40002", Definitive), // integrity_constraint_violation at commit
            ("57000", Definitive), // operator_intervention (not a shutdown)
            ("25P02", Definitive), // in_failed_sql_transaction
        ];
        for (code, want) in table {
            assert_eq!(sqlstate_transience(code), *want, "SQLSTATE {code}");
            assert_eq!(transience_of(&server(code)), *want, "driver error {code}");
            let store = crate::store::StoreError::from(server(code));
            assert_eq!(store.transience(), *want, "StoreError of {code}: {store:?}");
            assert_eq!(store.is_transient(), *want != Definitive, "{code}");
            assert_eq!(store.is_retryable(), *want == Retryable, "{code}");
        }
    }

    #[test]
    fn connection_and_pool_failures_are_transient_the_rest_definitive() {
        use Transience::*;
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let table: Vec<(sqlx::Error, Transience)> = vec![
            (sqlx::Error::Io(io()), Transient),
            (sqlx::Error::PoolTimedOut, Transient),
            (sqlx::Error::PoolClosed, Transient),
            (sqlx::Error::WorkerCrashed, Transient),
            (sqlx::Error::Tls("handshake".into()), Transient),
            (sqlx::Error::RowNotFound, Definitive),
            (sqlx::Error::Protocol("bad".into()), Definitive),
            (sqlx::Error::ColumnNotFound("x".into()), Definitive),
        ];
        for (e, want) in table {
            let shown = e.to_string();
            assert_eq!(transience_of(&e), want, "{shown}");
            assert_eq!(
                crate::store::StoreError::from(e).transience(),
                want,
                "{shown}"
            );
        }
    }
}
