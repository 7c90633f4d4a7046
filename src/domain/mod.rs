//! Plain types and rules. No I/O.

pub mod approval;
pub mod audit;
pub mod email;
pub mod error;
pub mod identity;
pub mod ids;
pub mod list;
pub mod page;
pub mod registration;
pub mod roles;
pub mod seal;
pub mod secret;
pub mod text;
pub mod totp;
pub mod trust;

pub use email::Email;
pub use error::ValidationError;
pub use ids::*;
pub use page::{
    ColumnKind, ColumnSpec, ListSpec, Page, PageQuery, PageQueryError, SortDir, SortKey,
};
pub use registration::RegistrationState;
pub use roles::{PermissionRef, RoleRef};
pub use secret::Secret;
pub use text::DisplayText;
