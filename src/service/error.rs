//! The service layer's error: what the TUI shows in a dialog and the CLI maps to an exit code.

use thiserror::Error;

use crate::directory::DirectoryError;
use crate::domain::{PageQueryError, ValidationError};
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Query(#[from] PageQueryError),
    #[error("permission denied: {0}")]
    Denied(String),
    /// The acting operator's authority is gone since they signed in: their grant was removed,
    /// their account disabled or deleted (re-checked inside every mutation's transaction).
    /// The console signs the operator out on it.
    #[error("{0}")]
    OperatorRevoked(String),
    #[error("read-only mode: {0} refused")]
    ReadOnly(&'static str),
    #[error("{0}")]
    NotFound(String),
    /// Already exists, duplicate, last admin, capacity and similar refusals.
    #[error("{0}")]
    Conflict(String),
    /// The plan's member limit is reached.
    #[error("{0}")]
    CapacityExceeded(String),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
    /// The environment puts this action under the two-person rule: it must be proposed and
    /// approved by a second operator.
    #[error("{message}")]
    ApprovalRequired {
        message: String,
        /// The change to propose instead.
        request: Box<crate::domain::approval::ChangeRequest>,
    },
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Query(q) => ServiceError::Query(q),
            other => ServiceError::Store(other),
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// Stable CLI exit codes: 1 failure, 2 usage, 3 conflict/exists, 4 not found/denied
    /// (including an operator whose authority was revoked).
    pub fn exit_code(&self) -> i32 {
        match self {
            ServiceError::Invalid(_) | ServiceError::Query(_) => 2,
            ServiceError::Conflict(_)
            | ServiceError::CapacityExceeded(_)
            | ServiceError::Directory(DirectoryError::AlreadyExists(_)) => 3,
            ServiceError::NotFound(_)
            | ServiceError::Denied(_)
            | ServiceError::OperatorRevoked(_)
            | ServiceError::ReadOnly(_)
            | ServiceError::ApprovalRequired { .. }
            | ServiceError::Directory(DirectoryError::NotFound(_)) => 4,
            _ => 1,
        }
    }
}
