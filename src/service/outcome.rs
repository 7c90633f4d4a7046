//! Outcomes are found out, never guessed. A mutation runs through [`mutate`]: it chooses a
//! mutation id before its transaction and tags the transaction with it, so every audit row
//! the transaction writes carries the id. When the connection is lost:
//! - before COMMIT was sent, nothing can have committed (the server rolls an abandoned
//!   transaction back): the error says "nothing was changed";
//! - after COMMIT was sent but before its answer arrived, the outcome is unknown to us but not
//!   to the database: a fresh connection waits for the tagged transaction to end and asks
//!   whether a row with the id exists. Committed → the mutation succeeded (its result, keys
//!   included, is still in memory and is returned); not committed → "nothing was changed";
//!   the database cannot be asked → the error says the outcome is unknown, never "failed".
//!
//! A COMMIT that the server itself refused (a deferred constraint, a serialization failure)
//! is an answer, not a lost one: it is returned as it is.

use crate::store::{Conn, Db};
use std::time::Duration;

use uuid::Uuid;

use super::{ServiceError, ServiceResult};
use crate::store::StoreError;
use crate::store::audit as store;

/// How long the question "did it commit?" waits for the tagged transaction to end (its
/// backend may not have noticed yet that the client is gone).
const OUTCOME_WAIT: Duration = Duration::from_secs(15);
/// How often a fresh connection is tried for the question.
const OUTCOME_ATTEMPTS: u32 = 4;

/// Runs `body` in one transaction tagged with a fresh mutation id and commits it, finding out
/// the outcome when the answer to COMMIT is lost (see the module documentation). `body` writes
/// at least one audit row (every mutation does), which is what the question looks for.
pub(crate) async fn mutate<T>(
    db: &Db,
    body: impl AsyncFnOnce(&mut Conn) -> ServiceResult<T>,
) -> ServiceResult<T> {
    let mutation_id = Uuid::new_v4();
    let ran = async {
        let mut tx = db.begin().await?;
        store::tag_mutation(&mut tx, mutation_id).await?;
        let value = body(&mut tx).await?;
        Ok::<_, ServiceError>((tx, value))
    }
    .await;
    let (tx, value) = ran.map_err(before_commit)?;
    match tx.commit().await {
        Ok(()) => Ok(value),
        Err(e) => {
            let cause = StoreError::from(e);
            if !answer_lost(&cause) {
                return Err(cause.into());
            }
            find_out(db, mutation_id, cause).await?;
            Ok(value)
        }
    }
}

/// A connection lost before COMMIT was sent: the server rolls the transaction back.
fn before_commit(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Store(s) if answer_lost(&s) => nothing_changed(&s),
        other => other,
    }
}

/// Whether `e` means the server's answer never arrived (connection lost, the backend ended by
/// a restart or failover), as opposed to an answer that refused the statement.
pub(crate) fn answer_lost(e: &StoreError) -> bool {
    match e {
        StoreError::Unavailable(_) => true,
        StoreError::Database(sqlx::Error::Database(db)) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
        StoreError::Database(
            sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed,
        ) => true,
        _ => false,
    }
}

fn cause_text(e: &StoreError) -> String {
    match e {
        StoreError::Unavailable(m) => m.clone(),
        other => other.to_string(),
    }
}

fn nothing_changed(cause: &StoreError) -> ServiceError {
    ServiceError::Store(StoreError::Unavailable(format!(
        "{}; the change did not commit: nothing was changed",
        cause_text(cause)
    )))
}

fn unknown(cause: &StoreError, why: &str) -> ServiceError {
    ServiceError::Store(StoreError::Unavailable(format!(
        "{}; whether the change committed is unknown ({why}): look before trying again",
        cause_text(cause)
    )))
}

/// Asks on fresh connections whether the transaction tagged `mutation_id` committed: Ok when
/// it did, "nothing was changed" when it did not, "unknown" when no answer can be had.
async fn find_out(db: &Db, mutation_id: Uuid, cause: StoreError) -> ServiceResult<()> {
    tracing::warn!(
        %mutation_id,
        error = %cause,
        "the answer to COMMIT was lost; asking the database whether it committed"
    );
    let mut last = String::new();
    for attempt in 1..=OUTCOME_ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt - 1))).await;
        }
        // A connection of its own: the pool's connections may share the lost one's fate.
        let asked = match db.begin_apart().await {
            Ok(mut tx) => {
                let r = store::mutation_committed(&mut tx, mutation_id, OUTCOME_WAIT).await;
                let _ = tx.rollback().await;
                r
            }
            Err(e) => Err(e),
        };
        match asked {
            Ok(Some(true)) => {
                tracing::info!(%mutation_id, "the change committed (found out after the lost answer)");
                return Ok(());
            }
            Ok(Some(false)) => {
                tracing::info!(%mutation_id, "the change did not commit");
                return Err(nothing_changed(&cause));
            }
            Ok(None) => {
                return Err(unknown(
                    &cause,
                    "its transaction is still open on the server",
                ));
            }
            Err(e) => last = cause_text(&e),
        }
    }
    Err(unknown(
        &cause,
        &format!("the database could not be asked: {last}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_answers_are_told_from_refusals() {
        let lost = [
            StoreError::Unavailable("connection reset".into()),
            StoreError::Database(sqlx::Error::Protocol("unexpected EOF".into())),
            StoreError::Database(sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset,
            ))),
            StoreError::Database(sqlx::Error::WorkerCrashed),
        ];
        for e in &lost {
            assert!(answer_lost(e), "{e:?}");
        }
        let answered = [
            StoreError::Conflict,
            StoreError::Unique {
                constraint: "trust_code_key".into(),
            },
            StoreError::Database(sqlx::Error::RowNotFound),
        ];
        for e in &answered {
            assert!(!answer_lost(e), "{e:?}");
        }
    }

    #[test]
    fn a_change_lost_before_commit_says_nothing_was_changed() {
        let e = before_commit(ServiceError::Store(StoreError::Unavailable(
            "connection reset".into(),
        )));
        assert!(e.to_string().contains("nothing was changed"), "{e}");
        let e = before_commit(ServiceError::Conflict("taken".into()));
        assert_eq!(e.to_string(), "taken", "a refusal is kept as it is");
    }
}
