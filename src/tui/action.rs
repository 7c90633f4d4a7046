//! The messages of the event loop: what the UI asks for ([`Request`]), what comes back
//! ([`Msg`]), and the mutations an operator can start ([`Op`]). Requests carry an id; a result
//! whose id is no longer awaited is stale and dropped.

use std::time::Duration;

use crate::directory::NewPasswordChallenge;
use crate::domain::{DisplayText, Page, PageQuery, Secret};
use crate::service::Operator;

/// One table row: the id the backend uses for actions, and display cells that went through
/// the one sanitizer.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    pub cells: Vec<DisplayText>,
}

impl Row {
    pub fn new(id: impl Into<String>, cells: impl IntoIterator<Item = DisplayText>) -> Self {
        Self {
            id: id.into(),
            cells: cells.into_iter().collect(),
        }
    }

    /// Cell `i` as text (empty when absent).
    pub fn cell(&self, i: usize) -> &str {
        self.cells.get(i).map(DisplayText::as_str).unwrap_or("")
    }
}

/// Which list a page belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListKey {
    Mandates,
    /// Members of one mandate (its id).
    Members(String),
    Users,
    Registrations,
    Trusts,
    KitSlots,
    Audit,
}

impl ListKey {
    pub fn name(&self) -> &'static str {
        match self {
            ListKey::Mandates => "mandates",
            ListKey::Members(_) => "members",
            ListKey::Users => "users",
            ListKey::Registrations => "registrations",
            ListKey::Trusts => "trusts",
            ListKey::KitSlots => "kit slots",
            ListKey::Audit => "audit",
        }
    }
}

/// A failure as the operator sees it: the top message and the whole cause chain (`{:#}`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorReport {
    pub chain: Vec<String>,
    /// The service refused because the operator's own authority was revoked (disabled,
    /// deleted, grant removed): the console signs them out.
    pub revoked: bool,
}

impl ErrorReport {
    /// The cause chain, each message through the sanitizer (errors may quote database text).
    pub fn from_anyhow(e: &anyhow::Error) -> Self {
        Self {
            chain: e
                .chain()
                .map(|c| DisplayText::with_max(&c.to_string(), 1000).into_string())
                .collect(),
            revoked: e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<crate::service::ServiceError>(),
                    Some(crate::service::ServiceError::OperatorRevoked(_))
                )
            }),
        }
    }

    pub fn msg(s: impl Into<String>) -> Self {
        Self {
            chain: vec![DisplayText::with_max(&s.into(), 1000).into_string()],
            revoked: false,
        }
    }

    /// The operator's authority is gone (see [`ErrorReport::revoked`]).
    pub fn revoked(s: impl Into<String>) -> Self {
        Self {
            revoked: true,
            ..Self::msg(s)
        }
    }

    /// The `{:#}` form: causes joined by ": ".
    pub fn joined(&self) -> String {
        self.chain.join(": ")
    }
}

/// Mutations (each runs as a background task; results come back as [`Msg::OpDone`]).
#[derive(Clone, Debug)]
pub enum Op {
    CreateMandate {
        name: String,
        label: String,
        enabled: bool,
        plan: String,
    },
    UpdateMandate {
        id: String,
        name: String,
        label: String,
        enabled: bool,
    },
    SoftDeleteMandate {
        id: String,
        name: String,
    },
    HardDeleteMandate {
        id: String,
        name: String,
    },
    AddMember {
        mandate_id: String,
        user_sub: String,
        roles: Vec<String>,
    },
    RemoveMember {
        mandate_id: String,
        user_sub: String,
    },
    SetMemberRoles {
        mandate_id: String,
        user_sub: String,
        roles: Vec<String>,
    },
    RegisterUser {
        email: String,
        name: String,
        organisation: String,
        roles: Vec<String>,
    },
    SetUserRoles {
        sub: String,
        roles: Vec<String>,
    },
    SetUserEnabled {
        sub: String,
        email: String,
        enabled: bool,
    },
    ResendInvite {
        sub: String,
        email: String,
    },
    EditProfile {
        sub: String,
        name: String,
        organisation: String,
    },
    DeleteUser {
        sub: String,
    },
    SetMemberEnabled {
        mandate_id: String,
        user_sub: String,
        enabled: bool,
    },
    RegisterTrust {
        name: String,
        code: String,
        region: Option<String>,
    },
    RotateTrustKey {
        id: String,
    },
    DeleteTrust {
        id: String,
        name: String,
    },
    RetryRegistration {
        id: String,
    },
    RollbackRegistration {
        id: String,
    },
    ResolveRegistration {
        id: String,
        note: String,
    },
    ExportAudit {
        json: bool,
        query: PageQuery,
    },
}

impl Op {
    /// Short description for logs and the spinner (no secrets, no untrusted text).
    pub fn describe(&self) -> &'static str {
        match self {
            Op::CreateMandate { .. } => "create mandate",
            Op::UpdateMandate { .. } => "update mandate",
            Op::SoftDeleteMandate { .. } => "delete mandate",
            Op::HardDeleteMandate { .. } => "hard-delete mandate",
            Op::AddMember { .. } => "add member",
            Op::RemoveMember { .. } => "remove member",
            Op::SetMemberRoles { .. } => "set member roles",
            Op::RegisterUser { .. } => "register user",
            Op::SetUserRoles { .. } => "set user roles",
            Op::SetUserEnabled { enabled: true, .. } => "enable user",
            Op::SetUserEnabled { enabled: false, .. } => "disable user",
            Op::ResendInvite { .. } => "resend invite",
            Op::EditProfile { .. } => "edit profile",
            Op::DeleteUser { .. } => "delete user",
            Op::SetMemberEnabled { enabled: true, .. } => "enable membership",
            Op::SetMemberEnabled { enabled: false, .. } => "disable membership",
            Op::RegisterTrust { .. } => "register trust",
            Op::RotateTrustKey { .. } => "rotate trust key",
            Op::DeleteTrust { .. } => "delete trust",
            Op::RetryRegistration { .. } => "retry registration",
            Op::RollbackRegistration { .. } => "roll back registration",
            Op::ResolveRegistration { .. } => "resolve registration",
            Op::ExportAudit { .. } => "export audit",
        }
    }

    /// The record the mutation changes (for refusing a second change to it while the first is
    /// in flight); `None` for creations and exports.
    pub fn subject(&self) -> Option<String> {
        match self {
            Op::UpdateMandate { id, .. }
            | Op::SoftDeleteMandate { id, .. }
            | Op::HardDeleteMandate { id, .. }
            | Op::RotateTrustKey { id }
            | Op::DeleteTrust { id, .. }
            | Op::RetryRegistration { id }
            | Op::RollbackRegistration { id }
            | Op::ResolveRegistration { id, .. } => Some(id.clone()),
            Op::RemoveMember {
                mandate_id,
                user_sub,
            }
            | Op::SetMemberRoles {
                mandate_id,
                user_sub,
                ..
            }
            | Op::SetMemberEnabled {
                mandate_id,
                user_sub,
                ..
            } => Some(format!("{mandate_id}/{user_sub}")),
            Op::SetUserRoles { sub, .. }
            | Op::SetUserEnabled { sub, .. }
            | Op::ResendInvite { sub, .. }
            | Op::EditProfile { sub, .. }
            | Op::DeleteUser { sub } => Some(sub.clone()),
            Op::CreateMandate { .. }
            | Op::AddMember { .. }
            | Op::RegisterUser { .. }
            | Op::RegisterTrust { .. }
            | Op::ExportAudit { .. } => None,
        }
    }
}

/// Whose roles a Roles form edits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleTarget {
    /// A user's global grants.
    User { sub: String },
    /// A mandate membership (`user_sub` None: a new member, nothing held yet).
    Member {
        mandate_id: String,
        user_sub: Option<String>,
    },
}

/// What a Roles form offers, read through the service: every choice as (value, label) and
/// the values currently held (ticked when the form opens).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleChoices {
    pub options: Vec<(String, String)>,
    pub held: Vec<String>,
}

/// Keys minted by trust registration or rotation, held only as [`Secret`]s.
#[derive(Debug)]
pub struct RevealKeys {
    pub title: String,
    pub trust: DisplayText,
    pub details: Vec<(String, DisplayText)>,
    pub api_key: Secret,
    pub internal_key: Option<Secret>,
}

/// What a successful mutation asks the UI to do.
#[derive(Debug, Default)]
pub struct OpOutcome {
    pub toast: String,
    pub reveal: Option<RevealKeys>,
}

/// Results of the sign-in request.
#[derive(Debug)]
pub enum SignInReply {
    SignedIn(Operator),
    NewPasswordRequired(NewPasswordChallenge),
}

/// Work for a background task.
#[derive(Debug)]
pub enum Request {
    Page {
        id: u64,
        list: ListKey,
        query: PageQuery,
    },
    FilterValues {
        id: u64,
        list: ListKey,
        column: String,
        query: PageQuery,
    },
    /// Users matching a search, for the member picker (directory cache).
    PickUsers {
        id: u64,
        search: String,
    },
    /// Detail lines for one row (user detail, trust detail).
    Detail {
        id: u64,
        list: ListKey,
        row_id: String,
    },
    KitSummary {
        id: u64,
    },
    /// The role choices and current roles of a Roles form.
    RoleChoices {
        id: u64,
        target: RoleTarget,
    },
    SignIn {
        id: u64,
        email: String,
        password: Secret,
    },
    NewPassword {
        id: u64,
        challenge: NewPasswordChallenge,
        password: Secret,
    },
    Op {
        id: u64,
        op: Op,
    },
    Health,
}

/// What comes back into the loop.
#[derive(Debug)]
pub enum Msg {
    /// Periodic tick (spinner, debounce, toasts, health pings).
    Tick,
    Key(crossterm::event::KeyEvent),
    Paste(String),
    Resize(u16, u16),
    Page {
        id: u64,
        list: ListKey,
        result: Result<Page<Row>, ErrorReport>,
    },
    FilterValues {
        id: u64,
        result: Result<Vec<String>, ErrorReport>,
    },
    PickUsers {
        id: u64,
        result: Result<Vec<Row>, ErrorReport>,
    },
    Detail {
        id: u64,
        result: Result<Vec<(String, DisplayText)>, ErrorReport>,
    },
    KitSummary {
        id: u64,
        result: Result<(u64, u64), ErrorReport>,
    },
    RoleChoices {
        id: u64,
        result: Result<RoleChoices, ErrorReport>,
    },
    SignIn {
        id: u64,
        result: Result<SignInReply, ErrorReport>,
    },
    OpDone {
        id: u64,
        result: Result<OpOutcome, ErrorReport>,
    },
    Health {
        db: bool,
        directory: bool,
        latency: Duration,
    },
}
