//! The one retry policy of the service layer: a transaction the database aborted with a
//! serialization failure or a deadlock ([`crate::store::Transience::Retryable`] in the one
//! classification of database errors; the server rolled it back before commit) is run again,
//! whole, up to
//! [`MAX_ATTEMPTS`] times with a short growing pause. Every use case whose transaction can
//! meet a concurrent one (members, roles, mandates, trust registration) goes through
//! `retrying`; nothing else in the crate loops on conflicts.

use std::future::Future;
use std::time::Duration;

use super::{ServiceError, ServiceResult};

/// How often a transaction hit by a serialization failure or deadlock is run in all.
pub const MAX_ATTEMPTS: u32 = 20;

/// The pause before attempt `attempt` (2, 3, …): 3 ms per attempt so far.
fn pause(attempt: u32) -> Duration {
    Duration::from_millis(u64::from(attempt) * 3)
}

/// Runs `f` again when the database reports a serialization failure or a deadlock. Nothing
/// else is run again: a lost connection or a timeout is transient but its outcome may be
/// unknown (a COMMIT whose answer was lost may have committed), so it goes to the caller. Such
/// conflicts never reach the caller unless they persist for [`MAX_ATTEMPTS`] runs, and then
/// as a [`ServiceError::Conflict`] that says to try again. `f` must build its transaction
/// afresh on every call (nothing of a failed run is kept).
pub(crate) async fn retrying<T, F, Fut>(mut f: F) -> ServiceResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ServiceResult<T>>,
{
    let mut attempt = 1;
    loop {
        match f().await {
            Err(ServiceError::Store(e)) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                attempt += 1;
                tracing::debug!(attempt, "transaction conflict; running it again");
                tokio::time::sleep(pause(attempt)).await;
            }
            Err(ServiceError::Store(e)) if e.is_retryable() => {
                return Err(ServiceError::Conflict(
                    "the database kept reporting concurrent changes; try again".into(),
                ));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[tokio::test]
    async fn conflicts_are_retried_up_to_the_limit_and_other_errors_are_not() {
        // Succeeds on the third run.
        let mut runs = 0;
        let r = retrying(|| {
            runs += 1;
            let n = runs;
            async move {
                if n < 3 {
                    Err(ServiceError::Store(StoreError::Conflict))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.ok(), Some(3));

        // A conflict that never ends: exactly MAX_ATTEMPTS runs, then a Conflict to retry.
        let mut runs = 0;
        let r: ServiceResult<()> = retrying(|| {
            runs += 1;
            async { Err(ServiceError::Store(StoreError::Conflict)) }
        })
        .await;
        assert_eq!(runs, MAX_ATTEMPTS);
        assert!(matches!(r, Err(ServiceError::Conflict(_))), "{r:?}");

        // Transient but not safe to run again (the outcome may be unknown): returned at once.
        for transient in [
            StoreError::Unavailable("connection reset".into()),
            StoreError::Interrupted {
                code: "57P01".into(),
                message: "terminating connection due to administrator command".into(),
            },
        ] {
            let mut runs = 0;
            let mut once = Some(transient);
            let r: ServiceResult<()> = retrying(|| {
                runs += 1;
                let e = once.take().expect("run once");
                async move { Err(ServiceError::Store(e)) }
            })
            .await;
            assert_eq!(runs, 1);
            assert!(matches!(r, Err(ServiceError::Store(_))), "{r:?}");
        }

        // Anything else is returned at once.
        let mut runs = 0;
        let r: ServiceResult<()> = retrying(|| {
            runs += 1;
            async { Err(ServiceError::ReadOnly("x")) }
        })
        .await;
        assert_eq!(runs, 1);
        assert!(matches!(r, Err(ServiceError::ReadOnly(_))));
    }
}
